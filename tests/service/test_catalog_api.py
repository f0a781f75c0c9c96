"""Marketers manage items and placements through the API; every worker sees the change next decision."""

import pytest

from service import create_app

ITEM = {
    "id": "offer_roof_box",
    "kind": "offer",
    "title": "Roof box, half price",
    "tags": ["accessories"],
    "stages": ["consideration", "intent"],
    "value": 2.5,
    "caps": {"per_visitor_per_day": 2},
}


def test_put_get_delete_item(client):
    answer = client.put("/v1/catalog/items/offer_roof_box", json=ITEM)
    assert answer.status_code == 200 and answer.get_json()["value"] == 2.5
    assert client.get("/v1/catalog/items/offer_roof_box").get_json()["caps"] == {"per_visitor_per_day": 2}
    assert "offer_roof_box" in [i["id"] for i in client.get("/v1/catalog/items").get_json()]
    assert client.delete("/v1/catalog/items/offer_roof_box").status_code == 204
    assert client.get("/v1/catalog/items/offer_roof_box").status_code == 404
    assert client.delete("/v1/catalog/items/offer_roof_box").status_code == 404


def test_a_change_reaches_another_worker_on_its_next_decision(settings):
    worker_a, worker_b = create_app(settings).test_client(), create_app(settings).test_client()
    warm = worker_b.post("/v1/decisions", json={"visitor_id": "v", "placement": "home_hero"})
    assert warm.status_code == 200  # worker b has read and cached the catalog
    worker_a.put("/v1/catalog/items/offer_roof_box", json=ITEM)
    worker_a.put("/v1/placements/roof", json={"id": "roof", "slots": 1, "candidates": ["offer_roof_box"]})
    body = worker_b.post("/v1/decisions", json={"visitor_id": "v", "placement": "roof"}).get_json()
    assert [i["item_id"] for i in body["items"]] == ["offer_roof_box"]
    worker_a.delete("/v1/placements/roof")
    assert worker_b.post("/v1/decisions", json={"visitor_id": "v", "placement": "roof"}).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({**ITEM, "kind": "banner"}, "kind"),
        ({**ITEM, "value": -1}, "value"),
        ({**ITEM, "start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
        ({**ITEM, "caps": {"per_visitor_per_hour": 1}}, "caps.per_visitor_per_hour"),
        ({**ITEM, "colour": "red"}, "colour"),
        ({**ITEM, "id": "another_id"}, "id"),
    ],
)
def test_bad_items_are_refused_and_change_nothing(client, body, field):
    answer = client.put("/v1/catalog/items/offer_roof_box", json=body)
    assert answer.status_code == 422 and field in answer.get_json()["errors"]
    assert client.get("/v1/catalog/items/offer_roof_box").status_code == 404


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"id": "p", "objective": "fame"}, 422, "objective"),
        ({"id": "p", "slots": 0}, 422, "slots"),
        ({"id": "p", "holdout_share": 0.9}, 422, "holdout_share"),
        ({"id": "p", "exploration": {"epsilon": 0.1, "temperature": 1}}, 422, "exploration"),
        ({"id": "p", "candidates": "all"}, 422, "candidates"),
        ({"id": "p", "default_items": ["nope"]}, 422, "default_items"),
        ({"id": "p", "filters": [{"action": "include", "field": "visitor.age"}]}, 422, "filters.0.field"),
    ],
)
def test_bad_placements_are_refused(client, body, status, field):
    answer = client.put("/v1/placements/p", json=body)
    assert answer.status_code == status and field in answer.get_json()["errors"]
    assert client.get("/v1/placements/p").status_code == 404


def test_an_item_a_placement_defaults_to_cannot_be_deleted(client):
    answer = client.delete("/v1/catalog/items/hero_x3_family_suv")
    assert answer.status_code == 409 and "home_hero" in answer.get_json()["message"]


def test_openapi_document_is_generated_from_the_schemas(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/v1/events",
        "/v1/decisions",
        "/v1/visitors/{visitor_id}",
        "/v1/catalog/items/{item_id}",
        "/v1/placements/{placement_id}",
    ):
        assert path in spec["paths"]
    request = spec["components"]["schemas"]["DecisionRequest"]
    assert {"visitor_id", "placement", "explain", "candidates"} <= set(request["properties"])
    assert client.get("/docs").status_code == 200


def forget_catalog(redis_backend, tenant):
    """What Redis restarted empty looks like to this tenant: its catalog keys are gone."""
    client = redis_backend[2]
    for key in client.scan_iter(match=f"wf:{tenant}:catalog*", count=1000):
        client.delete(key)
    assert not list(client.scan_iter(match=f"wf:{tenant}:catalog*"))


def test_an_admin_read_sees_the_last_write_from_any_worker(settings):
    worker_a, worker_b = create_app(settings).test_client(), create_app(settings).test_client()
    assert worker_b.get("/v1/catalog/items/offer_roof_box").status_code == 404  # b caches a catalog without it
    worker_a.put("/v1/catalog/items/offer_roof_box", json=ITEM)
    assert worker_b.get("/v1/catalog/items/offer_roof_box").get_json()["value"] == 2.5
    worker_a.put("/v1/placements/roof", json={"id": "roof", "slots": 1, "candidates": ["offer_roof_box"]})
    assert "roof" in [p["id"] for p in worker_b.get("/v1/placements").get_json()]
    worker_a.delete("/v1/placements/roof")
    assert worker_b.get("/v1/placements/roof").status_code == 404


def test_api_edits_survive_redis_losing_the_catalog(settings, redis_backend, tenant):
    worker_a, worker_b = create_app(settings).test_client(), create_app(settings).test_client()
    worker_a.put("/v1/catalog/items/offer_roof_box", json=ITEM)
    worker_a.put("/v1/placements/roof", json={"id": "roof", "slots": 1, "candidates": ["offer_roof_box"]})
    worker_a.delete("/v1/placements/app_offers")
    before = sorted(p["id"] for p in worker_b.get("/v1/placements").get_json())
    forget_catalog(redis_backend, tenant)

    assert sorted(p["id"] for p in worker_b.get("/v1/placements").get_json()) == before
    assert "roof" in before and "app_offers" not in before
    body = worker_a.post("/v1/decisions", json={"visitor_id": "v", "placement": "roof"}).get_json()
    assert [i["item_id"] for i in body["items"]] == ["offer_roof_box"]


def test_a_decision_after_the_loss_reseeds_and_an_edit_after_it_keeps_every_placement(settings, redis_backend, tenant):
    worker_a, worker_b = create_app(settings).test_client(), create_app(settings).test_client()
    worker_a.put("/v1/placements/roof", json={"id": "roof", "slots": 1, "candidates": ["hero_x3_family_suv"]})
    placements = sorted(p["id"] for p in worker_a.get("/v1/placements").get_json())
    forget_catalog(redis_backend, tenant)

    assert worker_b.post("/v1/decisions", json={"visitor_id": "v", "placement": "home_hero"}).status_code == 200
    forget_catalog(redis_backend, tenant)
    worker_a.put("/v1/catalog/items/offer_roof_box", json=ITEM)  # the edit that used to wipe the rest
    assert sorted(p["id"] for p in worker_b.get("/v1/placements").get_json()) == placements
    for placement in placements:
        answer = worker_b.post("/v1/decisions", json={"visitor_id": "v", "placement": placement})
        assert answer.status_code == 200, answer.get_json()


@pytest.mark.parametrize(
    "path, kind", [("/v1/catalog/items/{item_id}", "item"), ("/v1/placements/{placement_id}", "placement")]
)
def test_a_put_body_may_leave_out_the_id_the_path_names_and_the_document_says_so(client, path, kind):
    spec = client.get("/openapi.json").get_json()
    ref = spec["paths"][path]["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body_schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "id" not in body_schema.get("required", [])
    body = {"title": "no id in the body", "channels": ["web"]} if kind == "item" else {"slots": 1}
    answer = client.put(path.replace("{item_id}", "no_id_item").replace("{placement_id}", "no_id_slot"), json=body)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["id"] in {"no_id_item", "no_id_slot"}

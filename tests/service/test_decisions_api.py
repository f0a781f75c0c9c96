"""POST /v1/decisions: eligibility by stage, model scoring, fallback, bad input, hot reload."""

import json
import shutil

import pytest

from models.registry import Registry


def decide(client, visitor="v1", placement="next_step_panel", **extra):
    return client.post("/v1/decisions", json={"visitor_id": visitor, "placement": placement, **extra})


def send(client, kind, visitor="v1", **fields):
    answer = client.post("/v1/events", json={"visitor_id": visitor, "type": kind, **fields})
    assert answer.get_json()["accepted"] == 1


def test_without_a_model_answers_from_popularity_and_says_so(client, catalog):
    send(client, "book_test_drive", visitor="other", item_id="action_book_test_drive")
    answer = decide(client, visitor="new", placement="next_step_panel", limit=2)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["policy"] == "fallback" and body["model_version"] is None
    assert body["items"][0]["item_id"] == "action_book_test_drive"
    assert all(catalog.items[i["item_id"]].kind == "action" for i in body["items"])


def test_model_decision_shape_and_next_stage(model_client, catalog):
    send(model_client, "page_view", item_id="hero_x3_family_suv")
    body = decide(model_client, placement="app_offers", context={"channel": "app"}).get_json()
    assert body["policy"] == "model" and body["model_version"]
    assert body["stage"] == "awareness"
    assert abs(sum(body["next_stage"].values()) - 1.0) < 1e-3
    assert set(body["next_stage"]) == {"awareness", "consideration", "intent", "conversion", "loyalty", "exit"}
    assert 1 <= len(body["items"]) <= 3
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    for item in body["items"]:
        assert "awareness" in catalog.items[item["item_id"]].stages or not catalog.items[item["item_id"]].stages


def test_a_touchpoint_is_reflected_in_the_very_next_decision(model_client, catalog):
    send(model_client, "page_view")
    before = decide(model_client, limit=5).get_json()
    assert before["stage"] == "awareness"
    assert "action_configure" in [i["item_id"] for i in before["items"]]
    send(model_client, "book_test_drive", item_id="action_book_test_drive")
    after = decide(model_client, limit=5).get_json()
    assert after["stage"] == "intent"
    assert all("intent" in catalog.items[i["item_id"]].stages for i in after["items"])


def test_items_already_bought_are_not_offered(model_client):
    send(model_client, "purchase", item_id="offer_service_plan")
    items = [i["item_id"] for i in decide(model_client, placement="app_offers", limit=10).get_json()["items"]]
    assert "offer_service_plan" not in items


def test_decisions_are_logged_durably(model_client, model_settings):
    decision = decide(model_client).get_json()
    lines = [json.loads(x) for f in (model_settings.data_dir / "decisions").glob("*.jsonl") for x in f.open()]
    assert [line["decision_id"] for line in lines] == [decision["decision_id"]]
    assert lines[0]["items"][0]["position"] == 0 and lines[0]["model_version"] == decision["model_version"]
    assert "stage" in lines[0]["context"]


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"visitor_id": "v1", "placement": "nowhere"}, 404, "placement"),
        ({"visitor_id": "v1"}, 422, "placement"),
        ({"placement": "home_hero"}, 422, "visitor_id"),
        ({"visitor_id": "v1", "placement": "home_hero", "surprise": 1}, 422, "surprise"),
        ({"visitor_id": "v1", "placement": "home_hero", "limit": 0}, 422, "limit"),
        ({"visitor_id": "v1", "placement": "home_hero", "candidates": ["no_such_item"]}, 422, "candidates"),
        ({"visitor_id": "v1", "placement": "home_hero", "context": "web"}, 422, "context"),
    ],
)
def test_bad_decision_requests(client, settings, body, status, field):
    answer = client.post("/v1/decisions", json=body)
    assert answer.status_code == status
    assert field in answer.get_json()["errors"]
    assert not list((settings.data_dir / "decisions").glob("*.jsonl"))


def test_explicit_candidates_are_ranked(model_client):
    body = decide(model_client, candidates=["action_configure", "action_book_test_drive"], limit=5).get_json()
    assert sorted(i["item_id"] for i in body["items"]) == ["action_book_test_drive", "action_configure"]


def test_hot_reload_follows_promotion_and_refuses_a_bad_bundle(model_client, model_settings):
    registry = Registry(model_settings.registry)
    first = registry.current()
    assert decide(model_client).get_json()["model_version"] == first
    second = "20991231T000000Z-bbbbbb"
    shutil.copytree(registry.path(first), registry.path(second))
    manifest = json.loads((registry.path(second) / "manifest.json").read_text())
    (registry.path(second) / "manifest.json").write_text(json.dumps({**manifest, "version": second}))
    registry.promote(second)
    assert decide(model_client).get_json()["model_version"] == second
    broken = "20991231T000001Z-cccccc"
    shutil.copytree(registry.path(second), registry.path(broken))
    (registry.path(broken) / "content.txt").write_text("not a model")
    registry.promote(broken)
    assert decide(model_client).get_json()["model_version"] == second
    ready = model_client.get("/readyz").get_json()
    assert ready["checks"]["model"] == second and "cannot load model" in ready["checks"]["model_error"]

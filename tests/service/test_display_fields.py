"""Content in decisions: items carry display fields, and a decision returns the ones asked for."""

from __future__ import annotations

import pytest

ITEM = {
    "kind": "offer",
    "title": "Roof box, half price",
    "url": "https://northwind.example/offers/roof-box",
    "image": "/static/roof-box.jpg",
    "attributes": {"badge": "-50%"},
}


@pytest.fixture
def roof(client):
    assert client.put("/v1/catalog/items/offer_roof_box", json=ITEM).status_code == 200
    assert client.put("/v1/placements/roof", json={"slots": 1, "candidates": ["offer_roof_box"]}).status_code == 200
    return client


def test_a_decision_returns_the_display_fields_it_asks_for(roof):
    asked = {"visitor_id": "v1", "placement": "roof", "include": ["title", "url", "image", "attributes"]}
    item = roof.post("/v1/decisions", json=asked).get_json()["items"][0]
    assert {k: item[k] for k in ("title", "url", "image", "attributes")} == {
        k: ITEM[k] for k in ("title", "url", "image", "attributes")
    }
    only_url = roof.post("/v1/decisions", json={**asked, "include": ["url"]}).get_json()["items"][0]
    assert only_url["url"] == ITEM["url"] and "title" not in only_url and "image" not in only_url


def test_without_include_a_decision_and_its_log_carry_ids_only(roof, settings):
    item = roof.post("/v1/decisions", json={"visitor_id": "v1", "placement": "roof"}).get_json()["items"][0]
    assert set(item) == {"item_id", "score", "propensity", "reasons"}
    roof.post("/v1/decisions", json={"visitor_id": "v1", "placement": "roof", "include": ["title"]})
    logged = b"".join(path.read_bytes() for path in (settings.data_dir / "decisions").glob("*.jsonl"))
    assert b"Roof box, half price" not in logged  # the catalog holds the content; the log, what was shown


@pytest.mark.parametrize(
    "body, field",
    [
        ({**ITEM, "url": "javascript:alert(1)"}, "url"),
        ({**ITEM, "image": "https://x.example/a b.jpg"}, "image"),
        ({**ITEM, "url": 'https://x.example/"onmouseover=x'}, "url"),
    ],
)
def test_links_must_be_http_or_a_path(client, body, field):
    answer = client.put("/v1/catalog/items/offer_bad", json=body)
    assert answer.status_code == 422 and field in answer.get_json()["errors"]


def test_an_unknown_display_field_is_refused(roof):
    answer = roof.post("/v1/decisions", json={"visitor_id": "v1", "placement": "roof", "include": ["price"]})
    assert answer.status_code == 422 and "include.0" in answer.get_json()["errors"]

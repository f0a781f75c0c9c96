"""With Redis unreachable: events are spooled (never lost) and decisions fall back, never 5xx."""

import dataclasses

from service import create_app

DOWN = "redis://127.0.0.1:1/0"


def test_events_are_spooled_then_replayed_when_redis_returns(settings):
    down = create_app(dataclasses.replace(settings, redis_url=DOWN)).test_client()
    answer = down.post("/v1/events", json={"visitor_id": "v1", "type": "add_to_cart", "event_id": "e1"})
    assert answer.status_code == 200
    assert answer.get_json()["spooled"] == 1 and answer.get_json()["accepted"] == 1
    assert (settings.data_dir / "spool" / "pending.jsonl").exists()
    assert down.get("/readyz").get_json()["checks"]["spooled_events"] == 1

    up = create_app(settings).test_client()
    up.post("/v1/events", json={"visitor_id": "v2", "type": "page_view"})
    assert up.get("/v1/visitors/v1").get_json()["stage"] == "intent"
    assert not (settings.data_dir / "spool" / "pending.jsonl").exists()
    logged = (settings.data_dir / "events").glob("*.jsonl")
    assert sum(1 for f in logged for line in f.open() if '"e1"' in line) == 1


def test_decisions_fall_back_when_redis_is_down(settings):
    down = create_app(dataclasses.replace(settings, redis_url=DOWN)).test_client()
    answer = down.post("/v1/decisions", json={"visitor_id": "v1", "placement": "app_offers"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["policy"] == "fallback" and len(body["items"]) == 3
    assert "context store unreachable" in body["items"][0]["reasons"]
    assert down.get("/readyz").status_code == 503

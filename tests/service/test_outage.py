"""With Redis unreachable: events are spooled (never lost), decisions fall back, /readyz says degraded;
the spool drains in the background once Redis is back; a full disk refuses events with 503."""

import dataclasses
import os
import time
from pathlib import Path

import pytest

from service import create_app
from tests.polling import wait_for

DOWN = "redis://127.0.0.1:1/0"


def journal_lines(data_dir: Path, needle: str) -> int:
    return sum(1 for f in (data_dir / "events").glob("*.jsonl") for line in f.open() if needle in line)


def test_events_are_spooled_then_drained_in_the_background(settings):
    down = create_app(dataclasses.replace(settings, redis_url=DOWN, spool_drain_interval_s=0)).test_client()
    answer = down.post("/v1/events", json={"visitor_id": "v1", "type": "add_to_cart", "event_id": "e1"})
    assert answer.status_code == 200
    assert answer.get_json()["spooled"] == 1 and answer.get_json()["accepted"] == 1
    assert down.get("/readyz").get_json()["checks"]["spooled_events"] == 1

    up = create_app(settings).test_client()  # its background thread drains; no request needed

    def drained():
        """the spooled event reached the visitor's context"""
        return up.get("/v1/visitors/v1").get_json()["stage"] == "intent"

    wait_for(drained)
    spool = settings.data_dir / "spool"

    def spool_emptied():
        """the drainer renamed pending.jsonl to draining.jsonl, applied it and deleted it"""
        return not (spool / "pending.jsonl").exists() and not (spool / "draining.jsonl").exists()

    wait_for(spool_emptied)
    assert journal_lines(settings.data_dir, '"e1"') == 1
    assert up.get("/readyz").get_json()["checks"]["spooled_events"] == 0


def test_requests_never_drain_the_spool(settings):
    down = create_app(dataclasses.replace(settings, redis_url=DOWN, spool_drain_interval_s=0)).test_client()
    down.post("/v1/events", json={"visitor_id": "v1", "type": "add_to_cart", "event_id": "e1"})
    up = create_app(dataclasses.replace(settings, spool_drain_interval_s=0)).test_client()
    assert up.post("/v1/events", json={"visitor_id": "v2", "type": "page_view"}).status_code == 200
    assert up.post("/v1/decisions", json={"visitor_id": "v1", "placement": "app_offers"}).status_code == 200
    assert up.get("/readyz").get_json()["checks"]["spooled_events"] == 1


def test_decisions_fall_back_and_readyz_says_degraded_when_redis_is_down(settings):
    down = create_app(dataclasses.replace(settings, redis_url=DOWN)).test_client()
    answer = down.post("/v1/decisions", json={"visitor_id": "v1", "placement": "app_offers"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["policy"] == "fallback" and len(body["items"]) == 3
    assert "context store unreachable" in body["items"][0]["reasons"]
    ready = down.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "degraded"
    assert ready.get_json()["checks"]["store"] is False
    assert any("Redis unreachable" in why for why in ready.get_json()["checks"]["degraded_because"])


def test_readyz_is_degraded_without_placements_and_503_when_events_are_refused(settings, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    for name in ("journey.yaml", "catalog.yaml", "rules.yaml"):
        (config / name).write_text((settings.config_dir / name).read_text())
    (config / "placements.yaml").write_text("placements: []\n")
    ready = create_app(dataclasses.replace(settings, config_dir=config)).test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "degraded"
    assert any("no placements" in why for why in ready.get_json()["checks"]["degraded_because"])

    full = create_app(dataclasses.replace(settings, redis_url=DOWN, spool_max_bytes=300, spool_drain_interval_s=0))
    client = full.test_client()
    for i in range(3):
        client.post("/v1/events", json={"visitor_id": "v1", "type": "page_view", "event_id": f"e{i}"})
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["status"] == "not ready"
    assert "spool is full" in ready.get_json()["checks"]["not_ready_because"][0]


@pytest.mark.parametrize("redis_up", [True, False], ids=["redis-up", "redis-down"])
def test_a_full_disk_answers_503_and_accepts_nothing(settings, redis_up):
    """The day file is a symlink to /dev/full, whose every write fails with ENOSPC."""
    app = create_app(settings if redis_up else dataclasses.replace(settings, redis_url=DOWN))
    event = {"visitor_id": "v1", "type": "add_to_cart", "event_id": "e-full", "timestamp": "2026-03-01T10:00:00Z"}
    day_file = app.extensions["wayfinder"].ingestor.event_log.path_for(1772359200.0)
    os.symlink("/dev/full", day_file)
    answer = app.test_client().post("/v1/events", json=event)
    assert answer.status_code == 503
    assert answer.get_json()["message"].startswith("cannot write the event log (No space left on device)")
    assert not (settings.data_dir / "spool" / "pending.jsonl").exists()
    if redis_up:
        assert app.test_client().get("/v1/visitors/v1").get_json()["counts"]["type"] == {}


def test_a_full_spool_answers_503(settings):
    app = create_app(dataclasses.replace(settings, redis_url=DOWN, spool_max_bytes=300, spool_drain_interval_s=0))
    client = app.test_client()
    statuses = [
        client.post("/v1/events", json={"visitor_id": "v1", "type": "page_view", "event_id": f"e{i}"}).status_code
        for i in range(5)
    ]
    assert statuses[0] == 200 and statuses[-1] == 503
    assert (
        "spool_max_bytes"
        in client.post("/v1/events", json={"visitor_id": "v", "type": "page_view"}).get_json()["message"]
    )


def test_a_full_disk_under_the_decision_log_answers_503_not_500(settings):
    """A decision that cannot be logged is not served: training and lift would never see it."""

    app = create_app(settings)
    day_file = app.extensions["wayfinder"].engine.decision_log.path_for(time.time())
    os.symlink("/dev/full", day_file)
    answer = app.test_client().post("/v1/decisions", json={"visitor_id": "v1", "placement": "home_hero"})
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["code"] == 503 and body["message"].startswith("cannot write the decision log (No space left on device)")

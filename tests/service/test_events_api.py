"""POST /v1/events and the visitor endpoints, through the HTTP API."""

import json

import pytest

from journal.writer import host_name

GOOD = {"visitor_id": "v1", "type": "configure_product", "channel": "web", "item_id": "hero_x5_m_sport"}


def event_log_lines(settings):
    return [json.loads(line) for f in sorted((settings.data_dir / "events").glob("*.jsonl")) for line in f.open()]


def test_one_event_updates_context_and_event_log(client, settings):
    answer = client.post("/v1/events", json={**GOOD, "event_id": "e1", "timestamp": "2026-05-01T10:00:00+02:00"})
    assert answer.status_code == 200
    assert answer.get_json() == {"accepted": 1, "duplicates": 0, "spooled": 0, "rejected": []}
    visitor = client.get("/v1/visitors/v1").get_json()
    assert visitor["stage"] == "consideration" and visitor["known"] is True
    assert visitor["stage_since"] == "2026-05-01T08:00:00Z"
    assert visitor["recent"][0]["item_id"] == "hero_x5_m_sport"
    assert visitor["counts"]["channel"] == {"web": 1}
    lines = event_log_lines(settings)
    assert [line["event_id"] for line in lines] == ["e1"]
    assert [p.name for p in (settings.data_dir / "events").glob("2026-05-01.*")] == [f"2026-05-01.{host_name()}.jsonl"]


def test_batch_keeps_good_events_and_reports_bad_ones_by_index(client, settings):
    batch = {"events": [GOOD, {"type": "page_view"}, {**GOOD, "timestamp": "yesterday"}, {**GOOD, "type": "a b"}]}
    answer = client.post("/v1/events", json=batch).get_json()
    assert answer["accepted"] == 1
    assert [(r["index"], sorted(r["errors"])) for r in answer["rejected"]] == [
        (1, ["visitor_id"]),
        (2, ["timestamp"]),
        (3, ["type"]),
    ]
    assert len(event_log_lines(settings)) == 1


def test_duplicates_are_dropped_and_logged_once(client, settings):
    for _ in range(2):
        client.post("/v1/events", json={**GOOD, "event_id": "same"})
    answer = client.post("/v1/events", json={**GOOD, "event_id": "same"}).get_json()
    assert answer == {"accepted": 0, "duplicates": 1, "spooled": 0, "rejected": []}
    assert client.get("/v1/visitors/v1").get_json()["events"] == 1
    assert len(event_log_lines(settings)) == 1


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"type": "page_view"}, 422, "visitor_id"),
        ({"visitor_id": "v", "type": "page_view", "value": "lots"}, 422, "value"),
        ({"visitor_id": "v", "type": "page_view", "timestamp": "2026-05-01T10:00:00"}, 422, "timestamp"),
        ({"visitor_id": "v", "type": "page_view", "colour": "red"}, 422, "colour"),
        ({"visitor_id": "", "type": "page_view"}, 422, "visitor_id"),
        ({"events": []}, 422, "events"),
        ({"events": [GOOD] * 1001}, 422, "events"),
        ([GOOD], 422, "_schema"),
    ],
)
def test_bad_events_are_rejected_and_change_nothing(client, settings, body, status, field):
    answer = client.post("/v1/events", json=body)
    assert answer.status_code == status
    payload = answer.get_json()
    errors = payload["errors"] if "errors" in payload else payload["rejected"][0]["errors"]
    assert field in errors
    assert event_log_lines(settings) == []


def test_malformed_json_is_400(client):
    answer = client.post("/v1/events", data="{not json", content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["code"] == 400


def test_body_over_one_megabyte_is_413(client, settings):
    huge = json.dumps({"events": [{**GOOD, "properties": {"pad": "x" * 5000}}] * 210})
    answer = client.post("/v1/events", data=huge, content_type="application/json")
    assert answer.status_code == 413
    assert event_log_lines(settings) == []


def test_unknown_visitor_is_a_normal_answer(client):
    answer = client.get("/v1/visitors/never-seen")
    assert answer.status_code == 200
    assert answer.get_json()["stage"] is None and answer.get_json()["recent"] == []


def test_profile_put_validates_and_is_returned(client):
    assert client.put("/v1/visitors/v1/profile", json={"interests": "pets"}).status_code == 422
    assert (
        client.put(
            "/v1/visitors/v1/profile", json={"interests": ["pets"], "consent": {"personalization": True}}
        ).status_code
        == 200
    )
    assert client.get("/v1/visitors/v1").get_json()["profile"]["interests"] == ["pets"]


def test_journey_and_health(client, journey):
    assert client.get("/v1/journey").get_json()["stages"] == list(journey.stages)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["store"] is True
    assert ready.get_json()["status"] == "degraded"  # no model yet: the fallback policy answers

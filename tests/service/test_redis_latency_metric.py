"""wayfinder_redis_seconds: one observation per Redis round trip that answered, labelled by what it was for."""

from __future__ import annotations

import dataclasses

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from service import create_app

OPERATIONS = ("rate_limit", "events_read", "events_write", "context_read", "impressions_write", "profile_write")


def round_trips(client) -> dict[str, float]:
    """{operation: wayfinder_redis_seconds_count}, scraped from /metrics as Prometheus would (no key)."""
    answer = FlaskClient(client.application, client.application.response_class).get("/metrics")
    assert answer.status_code == 200
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            if sample.name == "wayfinder_redis_seconds_count":
                counts[sample.labels["operation"]] = sample.value
    return counts


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {op: after.get(op, 0.0) - before.get(op, 0.0) for op in {*before, *after} if after.get(op) != before.get(op)}


@pytest.fixture
def limited(settings):
    """An app with its rate limits on: every request but a decision is one `rate_limit` round trip."""
    return create_app(dataclasses.replace(settings, rate_limits="on")).test_client()


def test_each_request_adds_one_observation_per_round_trip_it_made(limited):
    event = {"visitor_id": "v-latency", "type": "product_view", "item_id": "hero_x5_m_sport"}
    assert limited.post("/v1/events", json=event).status_code == 200  # warm: scripts loaded, catalog read
    assert limited.post("/v1/decisions", json={"visitor_id": "v-warm", "placement": "home_hero"}).status_code == 200

    before = round_trips(limited)
    assert limited.post("/v1/events", json={**event, "type": "page_view"}).status_code == 200
    after_event = round_trips(limited)
    # the event's popularity write goes with it when the item is in the catalog
    assert moved(before, after_event) == {"rate_limit": 1, "events_read": 1, "events_write": 1, "popularity_write": 1}

    decision = limited.post("/v1/decisions", json={"visitor_id": "v-latency", "placement": "home_hero"})
    assert decision.status_code == 200 and decision.get_json()["items"]
    after_decision = round_trips(limited)
    # a decision's rate-limit check travels in its read (service.rate_limits.PendingCheck): no round trip of its own
    assert moved(after_event, after_decision) == {"context_read": 1, "impressions_write": 1}

    assert limited.put("/v1/visitors/v-latency/profile", json={"interests": ["pets"]}).status_code == 200
    # the profile's stored consent is read first (service.visitors.replace_profile), then the profile written
    assert moved(after_decision, round_trips(limited)) == {"rate_limit": 1, "context_read": 1, "profile_write": 1}


def test_the_histogram_has_buckets_and_a_sum_per_operation(limited):
    limited.post("/v1/decisions", json={"visitor_id": "v-buckets", "placement": "home_hero"})
    answer = FlaskClient(limited.application, limited.application.response_class).get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(answer.get_data(as_text=True))}
    family = families["wayfinder_redis_seconds"]
    assert family.type == "histogram"
    read = [s for s in family.samples if s.labels.get("operation") == "context_read"]
    buckets = [s for s in read if s.name.endswith("_bucket")]
    total = next(s.value for s in read if s.name.endswith("_count"))
    assert [s.labels["le"] for s in buckets][-1] == "+Inf" and buckets[-1].value == total >= 1
    assert next(s.value for s in read if s.name.endswith("_sum")) > 0


def test_a_round_trip_that_fails_is_counted_as_an_error_not_as_latency(settings):
    down = create_app(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")).test_client()
    before = round_trips(down)
    answer = down.post("/v1/decisions", json={"visitor_id": "v-down", "placement": "home_hero"})
    assert answer.status_code == 200 and answer.get_json()["policy"] == "fallback"
    assert moved(before, round_trips(down)) == {}

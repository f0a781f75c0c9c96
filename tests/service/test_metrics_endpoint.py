"""GET /metrics: Prometheus text that parses, whose counters move as requests are made."""

from __future__ import annotations

import dataclasses

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from service import create_app


def samples(client, **labels) -> dict[str, float]:
    """{sample name: value summed over the samples whose labels include `labels`}."""
    answer = FlaskClient(client.application, client.application.response_class).get("/metrics")  # no key
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


def test_counters_move_as_requests_are_made(client):
    decisions = {"endpoint": "/v1/decisions", "method": "POST", "status": "200"}
    before = samples(client, **decisions).get("wayfinder_requests_total", 0.0)
    placed = samples(client, placement="home_hero").get("wayfinder_decisions_total", 0.0)
    for n in range(3):
        assert client.post("/v1/decisions", json={"visitor_id": f"v{n}", "placement": "home_hero"}).status_code == 200
    assert samples(client, **decisions)["wayfinder_requests_total"] == before + 3
    assert samples(client, placement="home_hero")["wayfinder_decisions_total"] == placed + 3
    assert samples(client, endpoint="/v1/decisions")["wayfinder_request_seconds_count"] >= 3


def test_events_are_counted_by_outcome_and_rejected_ones_by_field(client):
    accepted = samples(client, outcome="accepted").get("wayfinder_events_total", 0.0)
    refused = samples(client, field="type").get("wayfinder_events_rejected_total", 0.0)
    batch = {"events": [{"visitor_id": "v1", "type": "page_view"}, {"visitor_id": "v1", "type": "no_such_type"}]}
    assert client.post("/v1/events", json=batch).status_code == 200
    assert samples(client, outcome="accepted")["wayfinder_events_total"] == accepted + 1
    assert samples(client, field="type")["wayfinder_events_rejected_total"] == refused + 1


def test_the_spool_depth_and_the_model_each_worker_serves_are_reported(model_client):
    model_client.post("/v1/decisions", json={"visitor_id": "v1", "placement": "home_hero"})
    version = model_client.application.extensions["wayfinder"].models.version
    assert samples(model_client, version=version)["wayfinder_model_loaded"] >= 1
    assert "wayfinder_spool_bytes" in samples(model_client)


def test_metrics_can_require_a_key(settings):
    app = create_app(dataclasses.replace(settings, metrics_scope="admin"))
    anonymous = FlaskClient(app, app.response_class)
    assert anonymous.get("/metrics").status_code == 401
    assert app.test_client().get("/metrics").status_code == 200


def test_the_grafana_dashboard_reads_only_metrics_the_service_exports(client):
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    queried = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"wayfinder_\w+", target["expr"])
    }
    client.post("/v1/decisions", json={"visitor_id": "v1", "placement": "home_hero"})
    client.post("/v1/events", json={"visitor_id": "v1", "type": "no_such_type"})
    exported = {re.sub(r"_(bucket|count|sum|created)$", "", name) for name in samples(client)}
    exported |= {"wayfinder_redis_errors_total", "wayfinder_model_loaded"}  # present once an error or a model is
    assert queried <= exported, queried - exported

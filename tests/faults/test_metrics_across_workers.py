"""/metrics under gunicorn adds up every worker: requests answered by two workers are all counted."""

from __future__ import annotations

import http.client
import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TEST_ADMIN_KEY
from tests.faults.processes import Gunicorn
from tests.faults.test_keys_across_workers import connections_to_each_worker

pytestmark = pytest.mark.faults


def decide(connection: http.client.HTTPConnection, visitor: str) -> int:
    body = json.dumps({"visitor_id": visitor, "placement": "home_hero"})
    headers = {"Authorization": f"Bearer {TEST_ADMIN_KEY}", "Content-Type": "application/json"}
    connection.request("POST", "/v1/decisions", body=body, headers=headers)
    answer = connection.getresponse()
    answer.read()
    return answer.status


def test_requests_answered_by_both_workers_are_all_counted(tmp_path):
    environment = {
        "WAYFINDER_DATA_DIR": str(tmp_path / "var"),
        "WAYFINDER_REGISTRY": str(tmp_path / "registry"),
        "GUNICORN_CMD_ARGS": "--keep-alive 120",
    }
    server = Gunicorn(environment).start()
    try:
        workers = connections_to_each_worker(server, 2)
        statuses = [decide(connection, f"v{n}") for connection in workers.values() for n in range(10)]
        connection = next(iter(workers.values()))
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        server.stop()
    assert statuses == [200] * 20
    counted = {
        (sample.name, sample.labels.get("placement")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert counted[("wayfinder_decisions_total", "home_hero")] == 20

"""Logs are JSON lines carrying the request id; one access line per request, without raw visitor ids."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask.testing import FlaskClient

from service.request_log import JsonFormatter


@pytest.fixture
def log_lines():
    """Every line the app logs during the test, formatted as the service formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    logging.getLogger("wayfinder.access").setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.level = level


def test_the_access_line_is_json_with_the_request_id_and_no_visitor_id(client, log_lines):
    answer = client.get("/v1/visitors/visitor-secret-42", headers={"X-Request-Id": "req-123"})
    assert answer.status_code == 200 and answer.headers["X-Request-Id"] == "req-123"
    access = [line for line in log_lines() if line["logger"] == "wayfinder.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "req-123" and line["status"] == 200 and line["method"] == "GET"
    assert line["route"] == "/v1/visitors/<visitor_id:visitor_id>" and line["ms"] >= 0
    assert line["key_id"] == "env-admin"
    assert "visitor-secret-42" not in json.dumps(log_lines())


@pytest.mark.parametrize("given", [None, "", "x" * 200, "bad id with spaces", "\u00e9t\u00e9"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(app, log_lines, given):
    anonymous = FlaskClient(app, app.response_class)
    headers = {} if given is None else {"X-Request-Id": given}
    answer = anonymous.get("/v1/journey", headers=headers)  # a 401: refused requests have an id too
    assert answer.status_code == 401
    request_id = answer.headers["X-Request-Id"]
    assert request_id != given and len(request_id) == 32
    access = [line for line in log_lines() if line["logger"] == "wayfinder.access"]
    assert [(a["request_id"], a["status"], a["key_id"]) for a in access] == [(request_id, 401, None)]


def test_a_warning_inside_a_request_carries_its_id(client, log_lines):
    answer = client.post(
        "/v1/decisions", json={"visitor_id": "v1", "placement": "home_hero"}, headers={"X-Request-Id": "r-9"}
    )
    assert answer.status_code == 200
    assert all(line.get("request_id") == "r-9" for line in log_lines())
    assert log_lines()  # at least the access line

"""A web page on an allowed origin can call the public endpoints from the browser; no other origin can.
Every answer carries the security headers; the HTML pages carry a Content-Security-Policy."""

from __future__ import annotations

import dataclasses

import pytest
from flask.testing import FlaskClient

from service import create_app

SHOP = "https://shop.example.com"
PUBLIC_KEY = "wf_public_test-key-of-the-shop"


@pytest.fixture
def browser(settings):
    """(anonymous client, public key headers): the bootstrap public key allows SHOP."""
    app = create_app(
        dataclasses.replace(settings, public_key=PUBLIC_KEY, public_origins=f"{SHOP}, https://m.example.com")
    )
    return FlaskClient(app, app.response_class), {"Authorization": f"Bearer {PUBLIC_KEY}"}


def preflight(client, origin: str, path: str = "/v1/decisions", method: str = "POST"):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization",
    }
    return client.options(path, headers=headers)


def test_a_preflight_from_an_allowed_origin_is_answered_for_it(browser):
    client, _ = browser
    answer = preflight(client, SHOP)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Authorization" in answer.headers["Access-Control-Allow-Headers"]
    assert answer.headers["Access-Control-Allow-Methods"] == "POST"
    assert "Origin" in answer.headers["Vary"]


@pytest.mark.parametrize(
    "origin, path, method",
    [
        ("https://evil.example.com", "/v1/decisions", "POST"),
        ("https://shop.example.com.evil.com", "/v1/events", "POST"),
        (SHOP, "/v1/catalog/items/x", "PUT"),  # an admin endpoint is not for browsers
        (SHOP, "/v1/visitors/v1", "GET"),  # nor a server one
    ],
)
def test_a_preflight_for_another_origin_or_a_non_public_endpoint_gets_no_cors_headers(browser, origin, path, method):
    client, _ = browser
    answer = preflight(client, origin, path, method)
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_a_request_from_an_allowed_origin_carries_cors_headers(browser):
    client, key = browser
    answer = client.post(
        "/v1/decisions", json={"visitor_id": "v1", "placement": "home_hero"}, headers={**key, "Origin": SHOP}
    )
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == SHOP and "Origin" in answer.headers["Vary"]
    assert "Retry-After" in answer.headers["Access-Control-Expose-Headers"]


def test_a_request_from_another_origin_is_refused_without_cors_headers(browser):
    client, key = browser
    answer = client.post(
        "/v1/events",
        json={"visitor_id": "v1", "type": "page_view"},
        headers={**key, "Origin": "https://evil.example.com"},
    )
    assert answer.status_code == 403 and "origin" in answer.get_json()["errors"]
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_an_app_sends_no_origin_and_is_served(browser):
    client, key = browser
    answer = client.post("/v1/events", json={"visitor_id": "v1", "type": "page_view"}, headers=key)
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


def test_a_page_served_by_the_service_itself_is_same_origin(browser):
    client, key = browser
    answer = client.post(
        "/v1/events", json={"visitor_id": "v1", "type": "page_view"}, headers={**key, "Origin": "http://localhost"}
    )
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "http://localhost"


def test_a_server_key_gets_no_cors_headers(client):
    answer = client.get("/v1/journey", headers={"Origin": SHOP})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize("path", ["/healthz", "/v1/journey", "/openapi.json", "/v1/no-such-route"])
def test_every_answer_carries_the_security_headers(client, path):
    answer = client.get(path)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_html_pages_carry_a_content_security_policy(client):
    report = client.get("/v1/reports/lift.html")
    docs = client.get("/docs")
    assert report.status_code == 200 and docs.status_code == 200
    assert "default-src 'none'" in report.headers["Content-Security-Policy"]
    assert "script-src" not in report.headers["Content-Security-Policy"]  # the report runs no script
    assert "frame-ancestors 'none'" in docs.headers["Content-Security-Policy"]
    assert "Content-Security-Policy" not in client.get("/v1/journey").headers  # JSON runs nowhere

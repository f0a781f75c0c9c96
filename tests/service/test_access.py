"""Who may call what: every endpoint × scope from the OpenAPI document, keys revoked or expired, public limits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time

import pytest
from flask.testing import FlaskClient

from models.api_keys import SCOPES
from service import create_app

SCOPE_VALUES = {"open", *SCOPES}
PATH_VALUES = {"visitor_id": "v-access", "item_id": "no_such_item", "placement_id": "no_such_placement"}
PATH_VALUES["key_id"] = "k_nosuchkey"
ALLOWED_BODIES = {
    ("post", "/v1/events"): {"visitor_id": "v-access", "type": "page_view"},
    ("post", "/v1/decisions"): {"visitor_id": "v-access", "placement": "home_hero"},
}
"""Bodies a public key may send; every other operation gets {} (a 4xx of its own, never 401 or 403)."""


@pytest.fixture
def keyed(settings):
    """(app, anonymous client, {scope: token}): one key per scope, made through the admin API."""
    app = create_app(settings)
    admin = app.test_client()
    tokens = {"admin": settings.admin_key}
    for scope in ("public", "server"):
        answer = admin.post("/v1/keys", json={"scope": scope, "name": f"test {scope}"})
        assert answer.status_code == 201, answer.get_json()
        tokens[scope] = answer.get_json()["token"]
    return app, FlaskClient(app, app.response_class), tokens


def operations(client) -> list[tuple[str, str, str]]:
    """(method, concrete path, declared scope) of every operation in the OpenAPI document."""
    spec = client.get("/openapi.json").get_json()
    found = []
    for path, methods in spec["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        for method, operation in methods.items():
            if method in ("get", "put", "post", "delete", "patch"):
                found.append((method, concrete, operation.get("x-scope")))
    return found


def call(client, method: str, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = ALLOWED_BODIES.get((method, path), {}) if method in ("post", "put") else None
    return client.open(path, method=method.upper(), json=body, headers=headers)


def test_every_operation_declares_a_scope(keyed):
    _, anonymous, _ = keyed
    undeclared = [(m, p) for m, p, scope in operations(anonymous) if scope not in SCOPE_VALUES]
    assert undeclared == []


def test_every_endpoint_answers_401_without_a_key_403_below_its_scope_and_serves_its_scope(keyed):
    _, anonymous, tokens = keyed
    seen = {scope: 0 for scope in SCOPE_VALUES}
    for method, path, scope in operations(anonymous):
        seen[scope] += 1
        if scope == "open":
            assert call(anonymous, method, path, None).status_code not in (401, 403), (method, path)
            continue
        missing = call(anonymous, method, path, None)
        assert missing.status_code == 401, (method, path, missing.get_json())
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert set(missing.get_json()) == {"code", "status", "message", "errors"}
        for lower in SCOPES[: SCOPES.index(scope)]:
            refused = call(anonymous, method, path, tokens[lower])
            assert refused.status_code == 403, (method, path, lower, refused.get_json())
        for granted in SCOPES[SCOPES.index(scope) :]:
            allowed = call(anonymous, method, path, tokens[granted])
            assert allowed.status_code not in (401, 403), (method, path, granted, allowed.get_json())
    assert all(seen[scope] for scope in SCOPE_VALUES), seen  # the matrix covers every scope


def test_an_endpoint_that_declares_no_scope_is_admin_only(settings):
    app = create_app(settings)
    app.add_url_rule("/v1/undeclared", "undeclared", lambda: {"secret": 1})
    anonymous = FlaskClient(app, app.response_class)
    public = app.test_client().post("/v1/keys", json={"scope": "server"}).get_json()["token"]
    assert anonymous.get("/v1/undeclared").status_code == 401
    assert anonymous.get("/v1/undeclared", headers={"Authorization": f"Bearer {public}"}).status_code == 403
    assert app.test_client().get("/v1/undeclared").status_code == 200


def test_a_refused_change_changes_nothing(keyed):
    app, anonymous, tokens = keyed
    before = app.test_client().get("/v1/placements/home_hero").get_json()
    changed = {**before, "holdout_share": 0.5}
    changed.pop("id")
    for token in (None, tokens["public"], tokens["server"]):
        answer = anonymous.put(
            "/v1/placements/home_hero", json=changed, headers={"Authorization": f"Bearer {token}"} if token else {}
        )
        assert answer.status_code in (401, 403)
    assert app.test_client().get("/v1/placements/home_hero").get_json() == before


def test_a_revoked_key_is_refused_on_the_next_request(keyed):
    app, anonymous, tokens = keyed
    headers = {"Authorization": f"Bearer {tokens['server']}"}
    assert anonymous.get("/v1/visitors/v1", headers=headers).status_code == 200
    key_id = next(k["id"] for k in app.test_client().get("/v1/keys").get_json() if k["name"] == "test server")
    assert app.test_client().delete(f"/v1/keys/{key_id}").status_code == 200
    refused = anonymous.get("/v1/visitors/v1", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["errors"] == {"authorization": ["unknown or revoked key"]}


def test_another_worker_sees_a_revocation_on_its_next_request(settings):
    worker_a, worker_b = create_app(settings), create_app(settings)
    created = worker_a.test_client().post("/v1/keys", json={"scope": "server"}).get_json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    b = FlaskClient(worker_b, worker_b.response_class)
    assert b.get("/v1/visitors/v1", headers=headers).status_code == 200  # worker b has read the key file
    worker_a.test_client().delete(f"/v1/keys/{created['id']}")
    assert b.get("/v1/visitors/v1", headers=headers).status_code == 401


def test_rotation_gives_a_new_token_and_refuses_the_old(keyed):
    app, anonymous, tokens = keyed
    key_id = next(k["id"] for k in app.test_client().get("/v1/keys").get_json() if k["name"] == "test server")
    rotated = app.test_client().post(f"/v1/keys/{key_id}/rotate").get_json()
    assert rotated["scope"] == "server" and rotated["token"] != tokens["server"]
    old = anonymous.get("/v1/visitors/v1", headers={"Authorization": f"Bearer {tokens['server']}"})
    new = anonymous.get("/v1/visitors/v1", headers={"Authorization": f"Bearer {rotated['token']}"})
    assert (old.status_code, new.status_code) == (401, 200)


def test_an_expired_key_is_refused(settings):
    app = create_app(settings)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    created = app.test_client().post("/v1/keys", json={"scope": "server", "expires_at": soon.isoformat()})
    headers = {"Authorization": f"Bearer {created.get_json()['token']}"}
    anonymous = FlaskClient(app, app.response_class)
    assert anonymous.get("/v1/visitors/v1", headers=headers).status_code == 200
    time.sleep(max(0.0, (soon - dt.datetime.now(dt.UTC)).total_seconds()) + 1.0)  # expiry has whole seconds
    answer = anonymous.get("/v1/visitors/v1", headers=headers)
    assert answer.status_code == 401 and answer.get_json()["errors"] == {"authorization": ["expired"]}


def test_keys_in_the_past_or_with_origins_on_a_server_key_are_refused(client):
    past = client.post("/v1/keys", json={"scope": "server", "expires_at": "2020-01-01T00:00:00Z"})
    origins = client.post("/v1/keys", json={"scope": "server", "origins": ["https://shop.example.com"]})
    bad_origin = client.post("/v1/keys", json={"scope": "public", "origins": ["https://shop.example.com/path"]})
    assert (past.status_code, origins.status_code, bad_origin.status_code) == (422, 422, 422)
    assert "expires_at" in past.get_json()["errors"] and "origins" in origins.get_json()["errors"]


def test_the_key_list_never_shows_a_token_or_its_hash(keyed):
    app, _, tokens = keyed
    listed = app.test_client().get("/v1/keys").get_json()
    assert {k["scope"] for k in listed} == set(SCOPES)
    text = str(listed)
    assert all(token not in text for token in tokens.values()) and "hash" not in text


def test_the_key_file_holds_hashes_not_tokens_and_is_private(keyed, settings):
    _, _, tokens = keyed
    path = settings.data_dir / "keys" / "keys.json"
    assert all(token not in path.read_text() for token in tokens.values())
    assert path.stat().st_mode & 0o777 == 0o600


def test_environment_keys_cannot_be_revoked_through_the_api_nor_a_key_revoke_itself(keyed):
    app, _, tokens = keyed
    admin = app.test_client()
    assert admin.delete("/v1/keys/env-admin").status_code == 409
    created = admin.post("/v1/keys", json={"scope": "admin"}).get_json()
    itself = admin.delete(f"/v1/keys/{created['id']}", headers={"Authorization": f"Bearer {created['token']}"})
    assert itself.status_code == 409


def test_live_keys_are_bounded(settings):
    app = create_app(dataclasses.replace(settings, max_api_keys=3))
    admin = app.test_client()
    statuses = [admin.post("/v1/keys", json={"scope": "public"}).status_code for _ in range(3)]
    assert statuses == [201, 201, 409]  # the bootstrap admin key is the first of three


def test_only_a_public_key_may_travel_in_the_query(keyed):
    _, anonymous, tokens = keyed
    public = anonymous.post(f"/v1/events?key={tokens['public']}", json={"visitor_id": "v1", "type": "page_view"})
    server = anonymous.get(f"/v1/visitors/v1?key={tokens['server']}")
    assert public.status_code == 200
    assert server.status_code == 401 and "key" in server.get_json()["errors"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"visitor_id": "v1", "type": "purchase", "item_id": "hero_x5_m_sport"}, "type"),
        ({"visitor_id": "v1", "type": "click", "value": 30000.0}, "value"),
        ({"visitor_id": "v1", "user_id": "u-someone", "type": "page_view"}, "user_id"),
        (
            {"events": [{"visitor_id": "v1", "type": "page_view"}, {"visitor_id": "v1", "type": "purchase"}]},
            "events.1.type",
        ),
    ],
)
def test_a_public_key_sends_only_client_side_events_and_nothing_is_kept_of_a_refused_batch(keyed, body, field):
    app, anonymous, tokens = keyed
    answer = anonymous.post("/v1/events", json=body, headers={"Authorization": f"Bearer {tokens['public']}"})
    assert answer.status_code == 403 and field in answer.get_json()["errors"], answer.get_json()
    assert app.test_client().get("/v1/visitors/v1").get_json()["counts"]["type"] == {}
    server = anonymous.post("/v1/events", json=body, headers={"Authorization": f"Bearer {tokens['server']}"})
    assert server.status_code == 200


@pytest.mark.parametrize("extra", [{"explain": True}, {"user_id": "u-someone"}])
def test_a_public_key_cannot_ask_for_a_trace_or_a_known_customer(keyed, extra):
    _, anonymous, tokens = keyed
    body = {"visitor_id": "v1", "placement": "home_hero", **extra}
    public = anonymous.post("/v1/decisions", json=body, headers={"Authorization": f"Bearer {tokens['public']}"})
    server = anonymous.post("/v1/decisions", json=body, headers={"Authorization": f"Bearer {tokens['server']}"})
    assert public.status_code == 403 and set(public.get_json()["errors"]) == set(extra)
    assert server.status_code == 200


def test_a_malformed_authorization_header_is_401(keyed):
    _, anonymous, _ = keyed
    answer = anonymous.get("/v1/journey", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert answer.status_code == 401 and answer.get_json()["errors"] == {"authorization": ["not a Bearer token"]}


def test_admin_endpoints_can_be_switched_off_or_moved_to_their_own_port(settings):
    off = create_app(dataclasses.replace(settings, admin_endpoints="off")).test_client()
    assert off.get("/v1/keys").status_code == 404 and off.get("/v1/journey").status_code == 200
    moved = create_app(dataclasses.replace(settings, admin_port=8101)).test_client()
    main = {"SERVER_PORT": "8000"}
    admin = {"SERVER_PORT": "8101"}
    assert moved.get("/v1/keys", environ_overrides=main).status_code == 404
    assert moved.get("/v1/keys", environ_overrides=admin).status_code == 200
    assert moved.get("/v1/journey", environ_overrides=admin).status_code == 404
    assert moved.get("/v1/journey", environ_overrides=main).status_code == 200
    assert moved.get("/healthz", environ_overrides=admin).status_code == 200

"""`python -m training keys`: create, list, revoke, rotate, as an operator runs them beside the service."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from service import create_app
from training.__main__ import main


def run(capsys, *argv) -> dict | list:
    assert main(["keys", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def served(settings):
    app = create_app(settings)
    return FlaskClient(app, app.response_class), str(settings.data_dir)


def test_create_list_rotate_revoke_take_effect_in_the_running_service(served, capsys):
    client, data_dir = served
    created = run(capsys, "--data-dir", data_dir, "create", "--scope", "public", "--origin", "https://shop.example.com")
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/v1/journey", headers=headers).status_code == 200
    listed = run(capsys, "--data-dir", data_dir, "list")
    assert created["id"] in [k["id"] for k in listed] and "token" not in str(listed[0])
    rotated = run(capsys, "--data-dir", data_dir, "rotate", created["id"])
    assert rotated["origins"] == ["https://shop.example.com"] and rotated["token"] != created["token"]
    assert client.get("/v1/journey", headers=headers).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated['token']}"}
    assert client.get("/v1/journey", headers=fresh).status_code == 200
    run(capsys, "--data-dir", data_dir, "revoke", rotated["id"])
    assert client.get("/v1/journey", headers=fresh).status_code == 401


def test_every_key_change_is_in_the_audit_record(served, capsys):
    client, data_dir = served
    created = run(capsys, "--data-dir", data_dir, "create", "--scope", "server", "--name", "back end")
    client.application.test_client().delete("/v1/placements/home_hero")
    client.application.test_client().delete("/v1/placements/no_such_placement")  # refused: no change, no record
    audit = client.application.test_client().get("/v1/audit").get_json()
    cli = [a for a in audit if a["key_id"].startswith("cli:")]
    api = [a for a in audit if a["route"] == "/v1/placements/<name:placement_id>"]
    assert cli and cli[0]["target"] == {"key_id": created["id"]} and cli[0]["method"] == "CREATE"
    assert [(a["key_id"], a["method"], a["target"], a["status"]) for a in api] == [
        ("env-admin", "DELETE", {"placement_id": "home_hero"}, 204)
    ]


def test_an_unknown_key_is_an_error_naming_the_list_command(served, capsys):
    _, data_dir = served
    assert main(["keys", "--data-dir", data_dir, "revoke", "k_nope"]) == 2
    assert "python -m training keys list" in capsys.readouterr().err

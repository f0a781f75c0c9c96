"""The keys a service starts with: the environment's, demo keys on loopback, or a refusal to serve."""

from __future__ import annotations

import dataclasses

import pytest
from flask.testing import FlaskClient

from models.errors import ConfigError
from service import create_app


def anonymous(app) -> FlaskClient:
    return FlaskClient(app, app.response_class)


def test_without_keys_a_loopback_service_creates_demo_keys_once_and_prints_them(settings, capsys):
    settings = dataclasses.replace(settings, admin_key="")
    first = create_app(settings)
    printed = capsys.readouterr().err
    path = settings.data_dir / "keys" / "demo-keys.env"
    tokens = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert path.stat().st_mode & 0o777 == 0o600
    assert tokens["WF_ADMIN_KEY"] in printed and tokens["WF_PUBLIC_KEY"] in printed
    admin = {"Authorization": f"Bearer {tokens['WF_ADMIN_KEY']}"}
    assert anonymous(first).get("/v1/keys", headers=admin).status_code == 200
    second = create_app(settings)  # a restart, or the second worker
    assert tokens["WF_ADMIN_KEY"] not in capsys.readouterr().err
    assert len(anonymous(second).get("/v1/keys", headers=admin).get_json()) == 2


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "wayfinder.internal"])
def test_without_keys_a_service_on_another_address_refuses_to_start(settings, host):
    with pytest.raises(ConfigError, match="WAYFINDER_ADMIN_KEY") as refused:
        create_app(dataclasses.replace(settings, admin_key="", host=host))
    assert "python -m training keys create" in refused.value.message
    assert not (settings.data_dir / "keys" / "demo-keys.env").exists()


def test_keys_from_the_environment_serve_on_any_address_and_a_changed_value_revokes_the_old(settings):
    public = dataclasses.replace(
        settings, host="0.0.0.0", public_key="wf_public_one", public_origins="https://a.example"
    )
    app = create_app(public)
    old = {"Authorization": f"Bearer {settings.admin_key}"}
    assert anonymous(app).get("/v1/keys", headers=old).status_code == 200
    changed = create_app(dataclasses.replace(public, admin_key="wf_admin_the-new-one"))
    assert anonymous(changed).get("/v1/keys", headers=old).status_code == 401
    keys = anonymous(changed).get("/v1/keys", headers={"Authorization": "Bearer wf_admin_the-new-one"}).get_json()
    live = {k["id"]: k for k in keys if k["revoked_at"] is None}
    assert set(live) == {"env-admin", "env-public"} and live["env-public"]["origins"] == ["https://a.example"]
    assert not (settings.data_dir / "keys" / "demo-keys.env").exists()


def test_a_bad_origin_in_the_environment_stops_the_start(settings):
    with pytest.raises(ConfigError, match="origins must look like"):
        create_app(dataclasses.replace(settings, public_key="wf_public_x", public_origins="shop.example.com/path"))

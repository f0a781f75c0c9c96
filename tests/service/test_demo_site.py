"""GET /demo: the Northwind Motors demo, its strict CSP, and the only key it may embed (a live public one)."""

from __future__ import annotations

import dataclasses
import re
import uuid

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.security_headers import DEMO_CSP
from tests.conftest import suite_settings

PUBLIC = "wf_public_demo-page-test-key"


@pytest.fixture
def settings(tmp_path, embedded_redis):
    """The suite's settings on the embedded Redis only: what is tested here does not depend on the backend."""
    return suite_settings(f"unix://{embedded_redis.socket_file}", tmp_path, "t" + uuid.uuid4().hex[:10])


def anonymous(settings) -> FlaskClient:
    app = create_app(settings)
    return FlaskClient(app, app.response_class)


@pytest.fixture(scope="module")
def keyed_site(tmp_path_factory, embedded_redis):
    """(client with no key, settings): one app with WAYFINDER_PUBLIC_KEY set, for the module's read-only tests."""
    root = tmp_path_factory.mktemp("demo")
    settings = suite_settings(f"unix://{embedded_redis.socket_file}", root, "t" + uuid.uuid4().hex[:10])
    settings = dataclasses.replace(settings, public_key=PUBLIC)
    return anonymous(settings), settings


def embedded_key(page: bytes) -> str:
    keys = set(re.findall(rb'data-key="([^"]*)"', page))
    assert len(keys) == 1
    return keys.pop().decode()


@pytest.mark.parametrize("path", ["/demo", "/demo/", "/demo/next"])
def test_the_demo_pages_are_served_without_a_key_under_a_strict_csp(keyed_site, path):
    client, settings = keyed_site
    answer = client.get(path)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert answer.headers["Content-Security-Policy"] == DEMO_CSP
    assert "script-src 'self';" in DEMO_CSP and "unsafe" not in DEMO_CSP and "connect-src 'self';" in DEMO_CSP
    page = answer.data
    assert embedded_key(page) == PUBLIC
    assert settings.admin_key.encode() not in page
    assert re.findall(rb"<script(?![^>]*\ssrc=)", page) == []  # no inline script
    assert b" style=" not in page and b"<style" not in page  # no inline style
    assert b'src="/sdk/wayfinder.js"' in page and b"data-wayfinder-placement=" in page


def test_its_assets_are_served_and_nothing_else(keyed_site):
    client = keyed_site[0]
    assert client.get("/demo/assets/demo.js").mimetype == "text/javascript"
    assert client.get("/demo/assets/demo.css").mimetype == "text/css"
    assert client.get("/demo/assets/model.html").status_code == 404
    assert client.get("/demo/nothing").status_code == 404


def test_without_a_public_key_the_page_embeds_none_and_says_why(settings):
    page = anonymous(settings).get("/demo").data  # the suite's settings: an admin key only
    assert embedded_key(page) == ""
    assert b'class="notice" >' in page  # the notice is shown (not hidden)


def test_a_first_start_on_loopback_embeds_the_demo_public_key_never_the_admin_one(settings):
    fresh = dataclasses.replace(settings, admin_key="", public_key="")
    client = anonymous(fresh)
    written = dict(line.split("=", 1) for line in (fresh.data_dir / "keys" / "demo-keys.env").read_text().split())
    page = client.get("/demo").data
    assert embedded_key(page) == written["WF_PUBLIC_KEY"]
    assert written["WF_ADMIN_KEY"].encode() not in page


def test_a_revoked_demo_public_key_is_not_embedded(settings):
    fresh = dataclasses.replace(settings, admin_key="", public_key="")
    app = create_app(fresh)
    keys = app.extensions["wayfinder"].keys
    public = next(key for key in keys.keys() if key.scope == "public")
    admin = app.test_client()
    assert admin.delete(f"/v1/keys/{public.id}").status_code in (200, 204)
    assert embedded_key(FlaskClient(app, app.response_class).get("/demo").data) == ""

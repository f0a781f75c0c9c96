"""GET /sdk/wayfinder.js: served without a key, cached, conditional, small, pinned by Subresource Integrity."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.views.sdk import SDK_FILE
from tests.conftest import suite_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "browser.md"


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory, embedded_redis):
    """A client with no key, of one app for the module: the snippet does not depend on the data."""
    root = tmp_path_factory.mktemp("sdk")
    settings = suite_settings(f"unix://{embedded_redis.socket_file}", root, "t" + uuid.uuid4().hex[:10])
    app = create_app(settings)
    return FlaskClient(app, app.response_class)


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def test_the_snippet_is_served_without_a_key_with_cache_headers_and_cors(anonymous):
    answer = anonymous.get("/sdk/wayfinder.js")
    assert answer.status_code == 200 and answer.data == SDK_FILE.read_bytes()
    assert answer.mimetype == "text/javascript"
    assert answer.headers["Cache-Control"] == "public, max-age=300"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"  # <script crossorigin integrity=...> needs it
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_matching_etag_gets_304_without_a_body(anonymous):
    etag = anonymous.get("/sdk/wayfinder.js").headers["ETag"]
    again = anonymous.get("/sdk/wayfinder.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    changed = anonymous.get("/sdk/wayfinder.js", headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


def test_it_is_at_most_6_kb_gzipped(anonymous):
    body = anonymous.get("/sdk/wayfinder.js").data
    assert len(gzip.compress(body, compresslevel=9)) <= 6 * 1024


def test_the_versioned_url_is_immutable_and_its_integrity_hash_matches_the_served_bytes(anonymous):
    manifest = anonymous.get("/sdk/manifest.json").get_json()
    pinned = anonymous.get(manifest["url"])
    assert pinned.status_code == 200 and pinned.data == anonymous.get("/sdk/wayfinder.js").data
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert pinned.headers["Access-Control-Allow-Origin"] == "*" and pinned.headers["ETag"]
    assert manifest["integrity"] == sri(pinned.data)
    assert anonymous.get("/sdk/wayfinder-0000000000000000.js").status_code == 404  # only the current version


def test_the_documented_versioned_tag_is_the_served_one(anonymous):
    """docs/browser.md shows the tag with its integrity hash: it must be today's (update it with the snippet)."""
    text = DOCS.read_text()
    url, integrity = re.search(
        r'src="https://[^"]*(/sdk/wayfinder-[0-9a-f]{16}\.js)"\s+integrity="([^"]+)"', text
    ).groups()
    served = anonymous.get(url)
    assert served.status_code == 200, f"docs/browser.md names {url}: run `make run` and read /sdk/manifest.json"
    assert integrity == sri(served.data)


def test_the_snippet_needs_no_eval_no_inline_style_and_writes_no_html():
    source = SDK_FILE.read_text()
    for unsafe in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", ".style"):
        assert unsafe not in source, unsafe

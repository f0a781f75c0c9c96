"""GET /sdk/wayfinder.js and its versioned, immutable twin: the browser snippet (docs/browser.md). No key.

The unversioned URL is cached five minutes, so a new release reaches pages soon; the versioned URL
names the file's content hash and is cached for a year, for pages that pin it with Subresource
Integrity (GET /sdk/manifest.json gives its URL and integrity hash). Both carry an ETag and
Access-Control-Allow-Origin: * (a script loaded with crossorigin="anonymous" for SRI needs it).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, request

SDK_FILE = Path(__file__).resolve().parents[1] / "sdk" / "wayfinder.js"
MUTABLE_CACHE = "public, max-age=300"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"

blp = Blueprint("sdk", __name__)


@dataclasses.dataclass(frozen=True)
class Snippet:
    body: bytes
    digest: str
    """The first 16 hex digits of the content's SHA-256: the versioned file name and the ETag."""
    integrity: str
    """sha384-<base64>: the value of a script tag's integrity attribute."""

    @property
    def versioned_path(self) -> str:
        return f"/sdk/wayfinder-{self.digest}.js"


@functools.cache
def snippet() -> Snippet:
    """The snippet as served, read once per process."""
    body = SDK_FILE.read_bytes()
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii")
    return Snippet(body, hashlib.sha256(body).hexdigest()[:16], integrity)


@blp.route("/sdk/wayfinder.js", methods=["GET"])
def latest():
    return _serve(MUTABLE_CACHE)


@blp.route("/sdk/wayfinder-<digest>.js", methods=["GET"])
def versioned(digest: str):
    if digest != snippet().digest:
        abort(404)  # an older version is not kept: pin the one manifest.json names
    return _serve(IMMUTABLE_CACHE)


@blp.route("/sdk/manifest.json", methods=["GET"])
def manifest():
    current = snippet()
    answer = {"url": current.versioned_path, "integrity": current.integrity, "latest": "/sdk/wayfinder.js"}
    response = jsonify(answer)
    response.headers["Cache-Control"] = MUTABLE_CACHE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _serve(cache_control: str) -> Response:
    current = snippet()
    response = Response(current.body, mimetype="text/javascript")
    response.headers["Cache-Control"] = cache_control
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.set_etag(current.digest)
    return response.make_conditional(request)

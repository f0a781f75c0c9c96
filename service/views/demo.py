"""GET /demo: the Northwind Motors demo site, two static pages and the browser snippet. No key to load it.

The page embeds a public key in the snippet's data-key, never another: WAYFINDER_PUBLIC_KEY where the
environment sets one, else the demo public key a first start on loopback wrote to
`<data_dir>/keys/demo-keys.env` (keys are stored hashed: that file is the one place the token is
kept). Either is used only while the key ring holds it as a live public key. With neither, the pages
show their default content and say how to get a key.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

from service.key_bootstrap import DEMO_KEYS_FILE
from service.views import services

SITE = Path(__file__).resolve().parents[1] / "demo_site"
PAGES = {"": "model.html", "next": "next.html"}
"""/demo: the X5 model page, with its Configure button; /demo/next: the next steps after configuring."""
ASSETS = frozenset({"demo.js", "demo.css"})
KEY_SLOT = "__WAYFINDER_PUBLIC_KEY__"
NO_KEY_SLOT = "__NO_KEY_HIDDEN__"

blp = Blueprint("demo", __name__)


@blp.route("/demo", methods=["GET"], defaults={"page": ""}, strict_slashes=False)
@blp.route("/demo/<page>", methods=["GET"])
def page(page: str):
    if page not in PAGES:
        abort(404)
    token = demo_public_key()
    text = (SITE / PAGES[page]).read_text(encoding="utf-8")
    text = text.replace(KEY_SLOT, html.escape(token or "", quote=True)).replace(NO_KEY_SLOT, "hidden" if token else "")
    response = Response(text, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # it holds the key the process knows now
    return response


@blp.route("/demo/assets/<name>", methods=["GET"])
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(SITE, name, max_age=300)


def demo_public_key() -> str | None:
    """The public key token the demo page may embed, or None: the environment's, else the demo key file's,
    and only while it is a live public key of this service's ring."""
    state = services()
    now = dt.datetime.now(dt.UTC)
    for token in (state.settings.public_key, _demo_file_public_key(state.keys.directory / DEMO_KEYS_FILE)):
        key = state.keys.lookup(token) if token else None
        if key is not None and key.scope == "public" and key.active(now):
            return token
    return None


def _demo_file_public_key(path: Path) -> str | None:
    """WF_PUBLIC_KEY of the demo key file; its admin line is never read."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return next((line.split("=", 1)[1].strip() for line in lines if line.startswith("WF_PUBLIC_KEY=")), None)

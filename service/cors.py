"""CORS for public keys: web pages on the brand's own origins may call the public endpoints.

A preflight (OPTIONS) carries no key, so it is answered for the union of the active public keys'
origins; the real request is then checked against its own key's origins (service/access.py).
Server and admin keys get no CORS headers: they are not for browsers.
"""

from __future__ import annotations

import datetime as dt

from flask import Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from models.api_keys import OPEN, KeyRing
from service.access import endpoint_scope, origin_allowed

ALLOWED_HEADERS = "Authorization, Content-Type"
EXPOSED_HEADERS = "Retry-After"
PREFLIGHT_MAX_AGE_S = 600


def preflight(ring: KeyRing) -> Response | None:
    """before_request: the answer to a CORS preflight (204), or None for any other request."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    answer = current_app.response_class(status=204)
    answer.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    method = request.headers["Access-Control-Request-Method"][:16]
    if origin and _public_route(method) and origin_allowed(origin, ring.public_origins(dt.datetime.now(dt.UTC))):
        answer.headers["Access-Control-Allow-Origin"] = origin
        answer.headers["Access-Control-Allow-Methods"] = method
        answer.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        answer.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
    return answer


def allow_origin(response: Response) -> Response:
    """after_request: the CORS headers of a request made with a public key from one of its origins."""
    origin = request.headers.get("Origin")
    key = g.get("api_key")
    if origin and key is not None and key.scope == "public" and origin_allowed(origin, key.origins):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.vary.add("Origin")
    return response


def _public_route(method: str) -> bool:
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        endpoint, _ = adapter.match(method=method)
    except HTTPException:
        return False
    return endpoint_scope(current_app, endpoint)[0] in ("public", OPEN)

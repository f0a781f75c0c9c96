"""Who may call what, and how often: each request's API key, its scope against the endpoint's, its web
origin, and its key's and visitor's rate limits (service/rate_limits.py).

Every view declares its scope with `@blp.scope(...)` (service/views/body.py). A view that declares
none is treated as admin: a new endpoint is closed until someone opens it, and the endpoint ×
scope test (tests/service/test_access.py) names it. The OpenAPI page and its assets need no key.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request

from config.settings import Settings
from models.api_keys import OPEN, ApiKey, KeyRing, covers
from models.errors import Forbidden, NotFound, Unauthorized
from service.rate_limits import RateLimiter

SCOPE_ATTRIBUTE = "_wayfinder_scope"
COST_ATTRIBUTE = "_wayfinder_cost"
OPEN_BLUEPRINTS = frozenset({"api-docs", "docs-assets", "sdk", "demo"})
"""flask-smorest's /openapi.json and /docs, the Swagger UI files /docs loads, the browser snippet and /demo."""
METRICS_ENDPOINT = "metrics.get_metrics"
"""GET /metrics: its scope is the setting metrics_scope (open unless a deployment says otherwise)."""
QUERY_KEY = "key"
"""A public key may come as ?key=…: navigator.sendBeacon cannot set headers."""


def endpoint_scope(app: Flask, endpoint: str | None) -> tuple[str, float]:
    """(scope, rate-limit cost) the endpoint declared; admin for one that declared nothing."""
    if endpoint is None or endpoint == "static" or endpoint.split(".", 1)[0] in OPEN_BLUEPRINTS:
        return OPEN, 0.0
    view = app.view_functions.get(endpoint)
    return getattr(view, SCOPE_ATTRIBUTE, "admin"), getattr(view, COST_ATTRIBUTE, 1.0)


def same_origin(origin: str) -> bool:
    """A page served by this service itself (the /demo page) calls it from its own origin."""
    return origin == request.host_url.rstrip("/")


def origin_allowed(origin: str, origins: frozenset[str] | tuple[str, ...]) -> bool:
    return origin in origins or same_origin(origin)


CHECKED_WITH_THE_READ = frozenset({"decisions.post_decision"})
"""Endpoints whose rate-limit check is sent in the pipeline of their one Redis read (service/decide.py), not in a
round trip of its own."""


class Access:
    """The before_request check: 401 without a usable key, 403 with the wrong scope or origin."""

    def __init__(self, ring: KeyRing, settings: Settings, limiter: RateLimiter):
        self.ring = ring
        self.settings = settings
        self.limiter = limiter

    def limit(self) -> None:
        """before_request, after the body is read: 429 when the key's (or a public key's visitor's) bucket is empty.
        A decision's check is only prepared here (g.rate_check): it travels in the decision's one read."""
        key = g.get("api_key")
        if key is None:
            return
        visitor = _visitor_of(g.get("json_body"))
        if request.endpoint in CHECKED_WITH_THE_READ:
            g.rate_check = self.limiter.pending(key.id, key.scope, visitor, g.endpoint_cost)
        else:
            self.limiter.check(key.id, key.scope, visitor, g.endpoint_cost)

    def check(self) -> None:
        scope, cost = endpoint_scope(current_app, request.endpoint)
        if request.endpoint == METRICS_ENDPOINT:
            scope = self.settings.metrics_scope
        g.endpoint_scope, g.endpoint_cost = scope, cost
        self._check_port(scope)
        if scope == OPEN:
            return
        key = self._key()
        if not covers(key.scope, scope):
            raise Forbidden(
                f"this endpoint needs a {scope} key; key {key.id!r} is {key.scope}",
                {"authorization": [f"scope {key.scope} does not cover {scope}"]},
            )
        origin = request.headers.get("Origin")
        if key.scope == "public" and origin and not origin_allowed(origin, key.origins):
            raise Forbidden(
                f"origin {origin[:200]!r} is not one of public key {key.id!r}'s origins",
                {"origin": ["not an allowed origin of this key: add it with `python -m training keys create`"]},
            )
        g.api_key = key

    def _key(self) -> ApiKey:
        token, in_query = _token()
        if token is None:
            raise Unauthorized(
                "send an API key: Authorization: Bearer <key> (docs/security.md)",
                {"authorization": ["missing"]},
            )
        key = self.ring.lookup(token)
        if key is None or key.revoked_at is not None:
            raise Unauthorized("unknown or revoked API key", {"authorization": ["unknown or revoked key"]})
        if not key.active(dt.datetime.now(dt.UTC)):
            raise Unauthorized(f"API key {key.id!r} expired at {key.expires_at}", {"authorization": ["expired"]})
        if in_query and key.scope != "public":
            raise Unauthorized(
                f"a {key.scope} key travels only in the Authorization header (a URL ends up in logs): revoke "
                f"and rotate it with `python -m training keys rotate {key.id}`",
                {QUERY_KEY: ["only a public key may be sent as a query parameter"]},
            )
        return key

    def _check_port(self, scope: str) -> None:
        """Admin endpoints switched off on this node, or served only on their own port."""
        admin_port, admin = self.settings.admin_port, scope == "admin"
        if admin and self.settings.admin_endpoints == "off":
            raise NotFound(f"no route matches {request.path[:200]!r}: admin endpoints are off on this node")
        if admin_port and scope != OPEN and admin != (_port() == admin_port):
            where = f"port {admin_port}" if admin else f"port {self.settings.port}"
            raise NotFound(f"no route matches {request.path[:200]!r} on this port: it is served on {where}")


def _visitor_of(body: object) -> str | None:
    """The visitor a request speaks for: the body's visitor_id, or a batch's first event's."""
    if isinstance(body, dict) and isinstance(body.get("events"), list) and body["events"]:
        body = body["events"][0]
    visitor = body.get("visitor_id") if isinstance(body, dict) else None
    return visitor[:128] if isinstance(visitor, str) else None


def _token() -> tuple[str | None, bool]:
    header = request.headers.get("Authorization", "")
    if header:
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the key as Authorization: Bearer <key>", {"authorization": ["not a Bearer token"]})
        return token.strip(), False
    token = request.args.get(QUERY_KEY)
    return (token, True) if token else (None, False)


def _port() -> int:
    port = request.environ.get("SERVER_PORT") or urlsplit(request.host_url).port or 0
    try:
        return int(port)
    except ValueError:
        return 0

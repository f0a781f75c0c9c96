"""Reading a JSON request body once, strictly, so every endpoint gets the same bounds and errors.

400 when the body is not plain JSON: not UTF-8, a lone surrogate in a string (valid JSON, but
no text can hold it: it broke every later reader of the logs), NaN or Infinity (not JSON at
all), a number beyond a float, or nesting deeper than settings.max_json_depth. Depth is
measured by an iterative walk of the parsed containers; a body deep enough to exhaust the C
parser's recursion guard (about 1,000 levels) is caught as the same 400. Field errors (422)
are the schemas' work.

The body is parsed by orjson (strict: no NaN, Infinity, lone surrogates, numbers beyond a float or invalid
UTF-8); a body orjson refuses, or one with an integer of 19 digits or more (orjson reads those as floats, the
standard library as integers), is parsed again by the standard library, which gives today's reasons.
Cost, measured on the shared 2-core box: a 1,000-event batch of 164 KB parses in 4.1 ms with the standard
library, against 1.7 ms for json.loads alone; docs/performance.md has orjson's figure.
"""

from __future__ import annotations

import json
import re
import threading
from http import HTTPStatus

import flask_smorest
import marshmallow as ma
import orjson
from flask import Request, current_app, g, request
from webargs import core
from webargs.flaskparser import FlaskParser

from models.api_keys import OPEN
from models.errors import ValidationFailed, WayfinderError
from service.access import COST_ATTRIBUTE, SCOPE_ATTRIBUTE

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_LONG_INTEGER = re.compile(rb"[0-9]{19}")
_UNSET = object()


class BadBody(WayfinderError):
    status_code = 400
    code = "bad_request"


def parse_json(data: bytes, max_depth: int) -> object:
    """The body as Python values, or BadBody naming the field (or `json`) and the reason."""
    if not _LONG_INTEGER.search(data):
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard library's reading below says why
        else:  # orjson refuses lone surrogates, NaN, Infinity and numbers beyond a float itself
            if data.count(b"[") + data.count(b"{") > max_depth and _deeper_than(body, max_depth):
                raise BadBody(
                    f"the body is nested deeper than {max_depth} levels",
                    {"json": [f"nested deeper than {max_depth} levels of objects and arrays"]},
                )
            return body
    return _parse_with_reasons(data, max_depth)


def _parse_with_reasons(data: bytes, max_depth: int) -> object:
    """The standard library's strict reading: the reasons a refused body gets."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody("the body is not valid UTF-8", {"json": [f"not UTF-8 at byte {exc.start}"]}) from exc
    too_deep = False
    try:
        body = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except _NotJSON as exc:
        raise BadBody("the body is not standard JSON", {"json": [str(exc)]}) from exc
    except ValueError as exc:
        raise BadBody("malformed JSON body", {"json": [f"Invalid JSON body: {exc}"]}) from exc
    except RecursionError:
        too_deep = True
    # fewer brackets than the limit cannot nest past it: most single events skip the walk
    if too_deep or text.count("[") + text.count("{") > max_depth and _deeper_than(body, max_depth):
        raise BadBody(
            f"the body is nested deeper than {max_depth} levels",
            {"json": [f"nested deeper than {max_depth} levels of objects and arrays"]},
        )
    # a lone surrogate can only come from a \uD800-\uDFFF escape: no such escape, no walk
    where = _lone_surrogate(body) if _SURROGATE_ESCAPE.search(text) else None
    if where is not None:
        raise BadBody(
            "strings must be valid UTF-8 text", {where: ["holds a lone surrogate (\\ud800-\\udfff): not valid text"]}
        )
    return body


TEXT_PLAIN_JSON_ENDPOINTS = frozenset({"events.post_events"})
"""Endpoints that also read a JSON body sent as text/plain: navigator.sendBeacon posts its Blob so, and a
text/plain POST needs no CORS preflight. Parsed with the same strict rules and bounds."""


def is_json_body(req: Request) -> bool:
    """Whether the request's body is JSON to read: application/json, or text/plain where the endpoint allows it."""
    return req.is_json or (req.mimetype == "text/plain" and req.endpoint in TEXT_PLAIN_JSON_ENDPOINTS)


def read_body() -> None:
    """before_request: parse a JSON body once (kept on g) so no endpoint sees an unchecked one."""
    if is_json_body(request) and request.content_length != 0:
        data = request.get_data(cache=True)
        if data:
            g.json_body = parse_json(data, current_app.extensions["wayfinder"].settings.max_json_depth)


def json_body(req: Request) -> object:
    """The checked body of a view that reads it itself (400 when there is none)."""
    if not is_json_body(req):
        raise BadBody("send a JSON body with Content-Type: application/json", {"json": ["not JSON"]})
    body = g.get("json_body", _UNSET)
    if body is _UNSET:
        raise BadBody("malformed JSON body", {"json": ["Invalid JSON body: empty"]})
    return body


class CheckedBodyParser(FlaskParser):
    """webargs reading the body read_body checked, instead of parsing it again unchecked; a query
    parameter given twice is refused rather than silently reduced to one of its values. A schema class is
    built once, not per request (marshmallow copies every declared field when a schema is built)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._schemas: dict[type, ma.Schema] = {}
        self._schemas_lock = threading.Lock()

    def _get_schema(self, argmap, req: Request) -> ma.Schema:
        if not (isinstance(argmap, type) and issubclass(argmap, ma.Schema)):
            return super()._get_schema(argmap, req)
        schema = self._schemas.get(argmap)
        if schema is None:
            with self._schemas_lock:
                schema = self._schemas.setdefault(argmap, argmap())
        return schema

    def load_querystring(self, req: Request, schema):
        repeated = sorted(name for name, values in req.args.lists() if len(values) > 1)
        if repeated:
            raise ValidationFailed(
                "give each query parameter once", {name: ["given more than once"] for name in repeated}
            )
        return super().load_querystring(req, schema)

    def _raw_load_json(self, req: Request):
        if not core.is_json(req.mimetype):
            return core.missing
        return g.get("json_body", core.missing)


SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "an API key: Authorization: Bearer <key>"},
    "keyQuery": {"type": "apiKey", "in": "query", "name": "key", "description": "a public key only (sendBeacon)"},
}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint reading checked bodies, with ways to declare the scope a route needs and
    to document the errors it gives."""

    ARGUMENTS_PARSER = CheckedBodyParser()

    def scope(self, scope: str, cost: float = 1.0):
        """Who may call the view: `public`, `server`, `admin` (each including the one before) or `open`
        (no key). `cost`: rate-limit tokens one call takes (expensive reads take more). The OpenAPI
        operation gets its security requirement, `x-scope`, and the 401, 403 and 429 answers."""

        def decorator(func):
            setattr(func, SCOPE_ATTRIBUTE, scope)
            setattr(func, COST_ATTRIBUTE, cost)
            if scope == OPEN:
                return self.doc(security=[], **{"x-scope": scope})(func)
            security = [{"bearerAuth": []}, {"keyQuery": []}] if scope == "public" else [{"bearerAuth": []}]
            return self.doc(security=security, **{"x-scope": scope})(self.refuses(401, 403, 429)(func))

        return decorator

    def refuses(self, *statuses: int):
        """Document these error answers (the one error shape) so clients and fuzzers expect them."""

        def decorator(func):
            for status in statuses:
                func = self.alt_response(status, response=HTTPStatus(status).name)(func)
            return func

        return decorator


class _NotJSON(ValueError):
    pass


def _no_constant(name: str):
    raise _NotJSON(f"{name} is not JSON: send a finite number, or null")


def _finite(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise _NotJSON(f"{literal[:40]} is beyond a 64-bit float: send a finite number")
    return value


def _deeper_than(body: object, max_depth: int) -> bool:
    """Whether objects and arrays nest deeper than max_depth; iterative, containers only."""
    stack = [(body, 1)] if isinstance(body, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            return True
        items = value.values() if isinstance(value, dict) else value
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return False


def _lone_surrogate(body: object) -> str | None:
    """The path (a.0.b) of the first key or string that is not valid text, or None; iterative."""
    stack: list[tuple[str, object]] = [("", body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    return path or "json"
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
        elif isinstance(value, str) and not _is_text(value):
            return path or "json"
    return None


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

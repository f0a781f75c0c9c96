"""The one error hierarchy: every Wayfinder error carries the HTTP status it maps to."""

from __future__ import annotations

import math


class WayfinderError(Exception):
    """Base error. `errors` maps a field to its reasons, for validation failures."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, errors: dict | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.errors = flat_errors(errors) if errors else {}
        if status_code is not None:
            self.status_code = status_code

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body (WWW-Authenticate, Retry-After)."""
        return {}

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


class ValidationFailed(WayfinderError):
    status_code = 422
    code = "validation_failed"


class Unauthorized(WayfinderError):
    """No key, or one that is unknown, revoked or expired."""

    status_code = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="wayfinder"'}


class Forbidden(WayfinderError):
    """A valid key whose scope or origins do not cover the request."""

    status_code = 403
    code = "forbidden"


class TooLarge(WayfinderError):
    status_code = 413
    code = "too_large"


class NotFound(WayfinderError):
    status_code = 404
    code = "not_found"


class Erased(WayfinderError):
    """The request names an id that was erased (DELETE /v1/visitors/<id>): it cannot be used again."""

    status_code = 409
    code = "erased"


class ConfigError(WayfinderError):
    status_code = 500
    code = "config_error"


class BundleError(WayfinderError):
    """A model bundle is missing, incomplete or does not match this code."""

    status_code = 409
    code = "bundle_error"


class StoreUnavailable(WayfinderError):
    status_code = 503
    code = "store_unavailable"


class RateLimited(WayfinderError):
    """Too many requests for a key's or a visitor's bucket; `retry_after_s` is the wait until enough tokens."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))}


class DiskUnavailable(WayfinderError):
    """Local disk refused a write (full, over quota, I/O error): nothing was accepted."""

    status_code = 503
    code = "disk_unavailable"


class RebuildIncomplete(WayfinderError):
    """The rebuild from the journal (journal.rebuild) wrote everything but some contexts or profiles, which
    live writes kept changing under it: the journal sentinel is left unset, so the service tries again
    (service.recovery), and by hand, `python -m training rebuild` can be run again."""

    status_code = 503
    code = "rebuild_incomplete"


def flat_errors(messages: object, path: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {field path: [reason]}: `caps.per_visitor_per_day`, `events.0.type`."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            # a nested schema-level reason (marshmallow's `_schema`) belongs to the field holding it
            sub = path if key == "_schema" and path else f"{path}.{key}" if path else str(key)
            for field, reasons in flat_errors(value, sub).items():
                flat.setdefault(field, []).extend(reasons)
        return flat
    if isinstance(messages, list | tuple) and any(isinstance(m, dict) for m in messages):
        flat = {}
        for message in messages:
            for key, reasons in flat_errors(message, path).items():
                flat.setdefault(key, []).extend(reasons)
        return flat
    reasons = list(messages) if isinstance(messages, list | tuple) else [messages]
    return {path or "_schema": [str(reason) for reason in reasons]}

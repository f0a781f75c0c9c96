"""The one error hierarchy: every Wayfinder error carries the HTTP status it maps to."""

from __future__ import annotations


class WayfinderError(Exception):
    """Base error. `errors` maps a field to its reasons, for validation failures."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, errors: dict | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if status_code is not None:
            self.status_code = status_code

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


class ValidationFailed(WayfinderError):
    status_code = 422
    code = "validation_failed"


class NotFound(WayfinderError):
    status_code = 404
    code = "not_found"


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


class DiskUnavailable(WayfinderError):
    """Local disk refused a write (full, over quota, I/O error): nothing was accepted."""

    status_code = 503
    code = "disk_unavailable"

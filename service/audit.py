"""Audit of the API: every admin change that was made is recorded (journal/audit_log.py).

Who (the key's id and name), what (method, route, the path's ids, the answer's status) and when.
A visitor id in a path is recorded as the erasure record's keyed hash, never as itself (it may be the
subject of an erasure, and a plain hash of a guessable id such as an e-mail address can be reversed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from flask import Response, g, request

from journal.audit_log import AuditLog

log = logging.getLogger(__name__)

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _hash(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class ApiAudit:
    def __init__(self, log: AuditLog, hide_id: Callable[[str], str] = _hash):
        self.log = log
        self.hide_id = hide_id

    def after_request(self, response: Response) -> Response:
        """after_request: record an admin change that was made (a refused request changed nothing)."""
        key = g.get("api_key")
        if key is None or request.method not in CHANGES or g.get("endpoint_scope") != "admin":
            return response
        if response.status_code >= 400:
            return response
        arguments = (request.view_args or {}).items()
        target = {name: self.hide_id(value) if name == "visitor_id" else value for name, value in arguments}
        route = request.url_rule.rule if request.url_rule else request.path[:200]
        try:
            self.log.record(key.id, key.name, request.method, route, target, response.status_code)
        except OSError:
            log.exception("audit record not written: %s %s by %s", request.method, route, key.id)
        return response

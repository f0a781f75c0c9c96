"""Logs: JSON lines with the request id, and one access line per request.

The request id is the client's `X-Request-Id` when it is a plain token (1-128 of A-Z a-z 0-9 . _ -),
else a new one; it is echoed in the answer and carried by every log line of the request. The access
line (logger `wayfinder.access`) gives method, route (the template, so an id in a path never
appears), status, latency and the key's id: no visitor id, no profile, no body.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
access_log = logging.getLogger("wayfinder.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id (inside a request), exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str, log_format: str) -> None:
    """The root handler for a process that has none yet (gunicorn's workers, `python -m`); tests keep theirs."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def start_request() -> None:
    """before_request (first): the request id and the clock."""
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def finish_request(response: Response) -> Response:
    """after_request: echo the request id and write the access line."""
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-Id"] = request_id
    started = g.get("request_started")
    key = g.get("api_key")
    fields = {
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule else "(no route)",
        "status": response.status_code,
        "ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        "key_id": key.id if key is not None else None,
    }
    access_log.info("%s %s %s", fields["method"], fields["route"], fields["status"], extra={"fields": fields})
    return response


def install(app: Flask) -> None:
    """Register the id first among before_request hooks (so a 401 has one too) and the access line."""
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)

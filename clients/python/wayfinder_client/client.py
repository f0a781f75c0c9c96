"""Typed calls to the Wayfinder API, with timeouts, retries on connection errors and 5xx, idempotent events,
over a kept-alive connection per thread."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid
from typing import Any

CONNECTION_ERRORS = (OSError, http.client.HTTPException)
"""No answer: refused, reset, timed out, or a connection closed before its status line."""
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""How a kept-alive connection the server closed while it was idle fails on its next request."""


class WayfinderError(Exception):
    """An answer in the API's error shape (4xx, or a 5xx after the last retry), or no answer at all."""

    def __init__(self, status: int, message: str, errors: dict | None = None):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.errors = status, message, errors or {}


class Wayfinder:
    """One client may be shared by threads: each thread keeps its own connection alive between calls."""

    def __init__(self, url: str, key: str, timeout_s: float = 2.0, retries: int = 3, backoff_s: float = 0.2):
        self.url = url.rstrip("/")
        self.key = key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must look like http://127.0.0.1:8000 or https://wayfinder.example.com: {url!r}")
        self._https, self._host, self._port = parts.scheme == "https", parts.hostname, parts.port
        self._prefix = parts.path  # behind a proxy that serves the API under a path
        self._local = threading.local()

    def close(self) -> None:
        """Close this thread's connection (the next call opens another); other threads' close as they end."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def __enter__(self) -> Wayfinder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- events and decisions ----------------------------------------------------------------

    def send_event(self, visitor_id: str, type: str, **fields: Any) -> dict:
        """One touchpoint (channel, item_id, user_id, value, properties, ts …); its event_id is fixed before the
        first try, so a retry is counted once."""
        return self.send_events([{"visitor_id": visitor_id, "type": type, **fields}])

    def send_events(self, events: list[dict]) -> dict:
        batch = [{"event_id": uuid.uuid4().hex, **event} for event in events]
        return self._call("POST", "/v1/events", {"events": batch})

    def decide(
        self,
        visitor_id: str,
        placement: str,
        channel: str | None = None,
        include: list[str] | None = None,
        **fields: Any,
    ) -> dict:
        body: dict[str, Any] = {"visitor_id": visitor_id, "placement": placement, **fields}
        if channel is not None:
            body["context"] = {**body.get("context", {}), "channel": channel}
        if include:
            body["include"] = include
        return self._call("POST", "/v1/decisions", body)

    # --- visitors ------------------------------------------------------------------------------

    def visitor(self, visitor_id: str) -> dict:
        return self._call("GET", f"/v1/visitors/{_path(visitor_id)}")

    def put_profile(self, visitor_id: str, profile: dict) -> dict:
        return self._call("PUT", f"/v1/visitors/{_path(visitor_id)}/profile", profile)

    # --- catalog and placements ----------------------------------------------------------------

    def items(self) -> list[dict]:
        return self._call("GET", "/v1/catalog/items")

    def put_item(self, item: dict) -> dict:
        return self._call("PUT", f"/v1/catalog/items/{_path(item['id'])}", item)

    def delete_item(self, item_id: str) -> None:
        self._call("DELETE", f"/v1/catalog/items/{_path(item_id)}")

    def placements(self) -> list[dict]:
        return self._call("GET", "/v1/placements")

    def put_placement(self, placement: dict) -> dict:
        return self._call("PUT", f"/v1/placements/{_path(placement['id'])}", placement)

    def delete_placement(self, placement_id: str) -> None:
        self._call("DELETE", f"/v1/placements/{_path(placement_id)}")

    # --- one call --------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            try:
                status, reason, raw = self._send(method, path, data)
            except CONNECTION_ERRORS as error:
                if attempt == self.retries:
                    raise WayfinderError(0, f"no answer from {self.url}: {error}") from error
            else:
                if status < 400:
                    return json.loads(raw) if raw else None
                if status < 500 or attempt == self.retries:
                    payload = _json(raw)
                    raise WayfinderError(status, payload.get("message", reason), payload.get("errors"))
            time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, data: bytes | None) -> tuple[int, str, bytes]:
        """One request on this thread's connection. A kept-alive connection the server closed while it was idle
        (gunicorn closes them after 2 s) fails before any answer: it is replaced and the request sent once
        more at once, outside the retries and their backoff."""
        headers = {"Authorization": f"Bearer {self.key}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        while True:
            connection = self._connection()
            reused = connection.sock is not None
            try:
                connection.request(method, self._prefix + path, body=data, headers=headers)
                answer = connection.getresponse()
                return answer.status, answer.reason, answer.read()
            except CONNECTION_ERRORS as error:
                self.close()
                if not (reused and isinstance(error, STALE)):
                    raise

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's connection (a forked child makes its own: the socket is its parent's)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self.timeout_s)
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection


def _path(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

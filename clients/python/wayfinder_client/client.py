"""Typed calls to the Wayfinder API, with timeouts, retries on connection errors and 5xx, idempotent events."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any


class WayfinderError(Exception):
    """An answer in the API's error shape (4xx, or a 5xx after the last retry), or no answer at all."""

    def __init__(self, status: int, message: str, errors: dict | None = None):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.errors = status, message, errors or {}


class Wayfinder:
    def __init__(self, url: str, key: str, timeout_s: float = 2.0, retries: int = 3, backoff_s: float = 0.2):
        self.url = url.rstrip("/")
        self.key = key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s

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
            request = urllib.request.Request(self.url + path, data=data, method=method)
            request.add_header("Authorization", f"Bearer {self.key}")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                    raw = answer.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as error:
                payload = _json(error.read())
                if error.code < 500 or attempt == self.retries:
                    message = payload.get("message", error.reason)
                    raise WayfinderError(error.code, message, payload.get("errors")) from error
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                if attempt == self.retries:
                    raise WayfinderError(0, f"no answer from {self.url}: {error}") from error
            time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")


def _path(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

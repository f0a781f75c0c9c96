"""Identity stitching: POST /v1/identify links a device (visitor id) to a person (user id), DELETE undoes it.

Each call writes one record to the journal's identities log (journal.identity.IDENTITIES_LOG), durably,
before Redis changes (service.identity_store) and before the 2xx: the log is the source of truth, which
the rebuild, training, lift and analytics read through journal.identity. docs/identity.md has the rule.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable

from journal.erasures import erased_fields
from journal.identity import LINK, UNLINK
from journal.writer import DailyLog
from models.errors import Erased, ValidationFailed
from models.events import time_bounds
from service import identity_store
from service.store import ContextStore


class Identities:
    """Links and unlinks for one service: the identities log and the store's device links."""

    def __init__(self, store: ContextStore, log: DailyLog, future_margin_s: float, clock: Callable = time.time):
        self.store = store
        self.log = log
        self.future_margin_s = future_margin_s
        self.clock = clock

    def link(self, request: dict) -> dict:
        """Record the link, then move the device to the person (merging its anonymous state the first time)."""
        record = self._journal(request, LINK)
        outcome = identity_store.link(self.store, record["visitor_id"], record["user_id"])
        return {**record, "outcome": outcome}

    def unlink(self, request: dict) -> dict:
        """Record the unlink, then make the device anonymous if it is this person's now."""
        record = self._journal(request, UNLINK)
        done = identity_store.unlink(self.store, record["visitor_id"], record["user_id"])
        return {**record, "outcome": "unlinked" if done else "not linked"}

    def _journal(self, request: dict, action: str) -> dict:
        visitor_id, user_id = request["visitor_id"], request["user_id"]
        if visitor_id == user_id:
            raise ValidationFailed("a device cannot be linked to itself", {"user_id": ["must differ from visitor_id"]})
        erased = erased_fields(self.store.erasures, {"visitor_id": visitor_id, "user_id": user_id})
        if erased:
            raise Erased("the request names an erased id: send a new id", erased)
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        stamp = request.get("timestamp") or now
        low, high = time_bounds(now, future_margin_s=self.future_margin_s)
        if not low <= stamp <= high:
            bounds = f"must be between {low.isoformat()} and {high.isoformat()}"
            raise ValidationFailed("the timestamp is out of bounds", {"timestamp": [bounds]})
        stamp = stamp.astimezone(dt.UTC)
        record = {
            "link_id": uuid.uuid4().hex,
            "ts": stamp.timestamp(),
            "at": stamp.isoformat().replace("+00:00", "Z"),
            "action": action,
            "visitor_id": visitor_id,
            "user_id": user_id,
        }
        self.log.append_or_refuse([record], "identities log", f"the {action} was not recorded")
        return record

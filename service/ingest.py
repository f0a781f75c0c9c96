"""Accepting touchpoints: validate each, log new ones durably, fold them into context, spool on outage.

Requests never replay the spool: service/background.py drains it in its own thread."""

from __future__ import annotations

import logging

from marshmallow import ValidationError

from journal.erasures import Erasures, erasure_check
from journal.group_commit import SharedCommit
from journal.writer import DailyLog
from models.errors import StoreUnavailable, ValidationFailed
from models.events import EARLIEST, FUTURE_MARGIN_S, parse_event
from service.spool import Spool
from service.store import ContextStore

log = logging.getLogger(__name__)


class Ingestor:
    def __init__(
        self,
        store: ContextStore,
        event_log: DailyLog | SharedCommit,
        spool: Spool,
        max_batch: int,
        *,
        earliest=EARLIEST,
        future_margin_s: float = FUTURE_MARGIN_S,
        erasures: Erasures | None = None,
    ):
        self.store = store
        self.bounds = {"journey": store.journey, "earliest": earliest, "future_margin_s": future_margin_s}
        self.event_log = event_log
        self.spool = spool
        self.max_batch = max_batch
        self.erasures = erasures
        """Erased ids (journal.erasures): an event naming one is rejected, the reason on its field."""

    def ingest(self, body: object) -> tuple[dict, int]:
        """One event or {"events": [...]}: returns the per-event answer and its HTTP status."""
        raw_events = self._unpack(body)
        accepted, rejected = [], []
        erased_fields = erasure_check(self.erasures)
        for index, raw in enumerate(raw_events):
            try:
                event = parse_event(raw, **self.bounds)
            except ValidationError as error:
                rejected.append({"index": index, "errors": error.messages})
                continue
            erased = erased_fields({"visitor_id": event["visitor_id"], "user_id": event.get("user_id")})
            if erased:
                rejected.append({"index": index, "errors": erased})
            else:
                accepted.append(event)
        answer = {"accepted": 0, "duplicates": 0, "spooled": 0, "rejected": rejected}
        if accepted:
            new, spooled = self._record(accepted)
            answer.update(accepted=new + spooled, duplicates=len(accepted) - new - spooled, spooled=spooled)
        status = 422 if rejected and not accepted else 200
        return answer, status

    def _unpack(self, body: object) -> list:
        if isinstance(body, dict) and "events" in body:
            if set(body) != {"events"}:
                raise ValidationFailed(
                    "a batch has only the key 'events'", {"_schema": ["unknown keys beside 'events'"]}
                )
            events = body["events"]
            if not isinstance(events, list) or not events:
                raise ValidationFailed("'events' must be a non-empty list", {"events": ["must be a non-empty list"]})
            if len(events) > self.max_batch:
                raise ValidationFailed(
                    f"at most {self.max_batch} events per request", {"events": [f"longer than {self.max_batch}"]}
                )
            return events
        if isinstance(body, dict):
            return [body]
        raise ValidationFailed('body must be an event object or {"events": [...]}', {"_schema": ["not an object"]})

    def _record(self, events: list[dict]) -> tuple[int, int]:
        """(new events applied, events spooled for the background drainer)."""
        logged: set[str] = set()

        def log_durably(fresh: list[dict]) -> None:
            self._journal(fresh)
            logged.update(e["event_id"] for e in fresh)

        try:
            return len(self.store.record(events, before_commit=log_durably)), 0
        except StoreUnavailable as error:
            log.warning("spooling %d events: %s", len(events), error.message)
            self._journal([e for e in events if e["event_id"] not in logged])
            self.spool.add(events)
            return 0, len(events)

    def _journal(self, events: list[dict]) -> None:
        """Append durably, or refuse the request with 503: no 2xx for an event the disk did not take."""
        self.event_log.append_or_refuse(events, "event log", "nothing was accepted")

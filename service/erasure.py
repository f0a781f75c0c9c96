"""Erasing a person (DELETE /v1/visitors/<id>), exporting what is stored about them, and compacting in the background.

An erasure covers the id and every id linked to it (journal.links). In order: the erasure is recorded
durably under keyed hashes (journal.erasures), so that from then on the readers skip those ids and
requests naming them are refused; then every Redis key of every linked id is deleted; then, on the
embedded Redis, a SAVE makes its file on disk forget them too. The log lines stay until compaction
(journal.compact) blanks them: within settings.erasure_compaction_days, or at once with
`python -m training compact`. docs/privacy.md tells the whole story.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from journal.compact import compact
from journal.erasures import Erasures
from journal.export import lines_about
from journal.links import linked_ids
from models.journey import JourneyMap
from service.erasure_sweep import sweep_erased
from service.store import ContextStore
from service.visitors import visitor_view

log = logging.getLogger(__name__)
DAY_S = 86_400
COMPACTION_CHECK_S = 300.0
"""How often the upkeep looks at the pending erasures (a stat and a few lines): not every tick."""


class Eraser:
    """Erasure and export for one service (data dir, tenant)."""

    def __init__(
        self,
        store: ContextStore,
        erasures: Erasures,
        data_dir: Path,
        journey: JourneyMap,
        *,
        embedded_redis: bool,
        compaction_days: float,
        export_max_lines: int,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.erasures = erasures
        self.data_dir = Path(data_dir)
        self.journey = journey
        self.embedded_redis = embedded_redis
        self.compaction_days = compaction_days
        self.export_max_lines = export_max_lines
        self.clock = clock

    def erase(self, some_id: str, by: str) -> dict:
        """Erase `some_id` (a visitor or a user id) and every id linked to it; idempotent."""
        ids = linked_ids(self.data_dir, some_id)
        now = self.clock()
        self.erasures.record(sorted(ids), by, now)
        deleted = self.store.forget(ids)
        if self.embedded_redis:
            self.store.save_to_disk()
        log.info("erased %d ids (%d Redis keys) for %s", len(ids), deleted, by)
        return {
            "erased_ids": len(ids),
            "redis_keys_deleted": deleted,
            "erased_at": _iso(now),
            "logs_compacted_by": _iso(now + self.compaction_days * DAY_S),
        }

    def sweep_redis(self) -> int:
        """Delete any context of an erased id still in Redis (service.erasure_sweep); keys deleted."""
        deleted = sweep_erased(self.store.client, self.store.tenant, self.erasures)
        if deleted and self.embedded_redis:
            self.store.save_to_disk()
        return deleted

    def export(self, some_id: str) -> dict:
        """Everything stored about the person: each linked id's Redis state and their journal lines (bounded)."""
        ids = linked_ids(self.data_dir, some_id)
        now = self.clock()
        found = lines_about(self.data_dir, ids, self.export_max_lines)
        erased_at = self.erasures.erased_at(some_id)
        return {
            "visitor_id": some_id,
            "linked_ids": sorted(ids),
            "erased_at": _iso(erased_at) if erased_at is not None else None,
            "visitors": [visitor_view(self.store.read(i), self.journey, now, asked=i) for i in sorted(ids)],
            **found.lines,
            "max_lines": self.export_max_lines,
            "truncated": found.truncated,
        }


class CompactionSchedule:
    """An upkeep task: compact the logs when the oldest pending erasure nears settings.erasure_compaction_days.

    It looks every COMPACTION_CHECK_S (one stat when nothing changed) and compacts once the oldest pending
    erasure is max(0, days - 1) days old, a day ahead of the promise. Only one process compacts at a time
    (the others skip, they do not wait); the compaction runs on the upkeep thread, so the spool drain waits
    for it (docs/privacy.md has what it costs).
    """

    def __init__(
        self,
        data_dir: Path,
        erasures: Erasures,
        days: float,
        clock: Callable[[], float] = time.time,
        sweep: Callable[[], int] | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.erasures = erasures
        self.days = days
        self.clock = clock
        self.sweep = sweep
        """Run after each compaction: Eraser.sweep_redis, Redis's safety net."""
        self.next_check = 0.0

    def __call__(self) -> None:
        now = self.clock()
        if now < self.next_check:
            return
        self.next_check = now + COMPACTION_CHECK_S
        pending = self.erasures.pending()
        if not pending or now - min(e.at for e in pending) < max(0.0, self.days - 1) * DAY_S:
            return
        report = compact(self.data_dir, self.erasures, wait=False)
        if report is not None and self.sweep is not None:
            swept = self.sweep()
            if swept:
                log.warning("deleted %d Redis keys of erased ids that an erasure had left behind", swept)
        if report is not None:
            log.info(
                "compacted the logs: %d lines of erased ids blanked in %d files, %.1f s",
                report.lines_dropped,
                len(report.rewritten),
                report.seconds,
            )


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")

"""Per worker, off the request path: follow the event journal and lay its live counts over the serving
bundle's candidate generators (models.live_signals), so a new best-seller rises before the next retrain.

Run by the upkeep thread (service.background) every `spool_drain_interval_s`. Each step reads what
the journal gained (every host's day files, by byte offset), counts it, and swaps one new immutable
`LiveRetrieval` into the bundle's `item_stats.signals`, which `scoring.shortlist` and the features
read: a decision still makes its one Redis read and one write. A new model starts the counts afresh
from its own data end.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import weakref
from pathlib import Path

from config.settings import Settings
from journal.skipped import describe_skipped, skipped_lines
from journal.tail import EventTail
from models.bundle import ModelBundle
from models.context import profile_key
from models.live_signals import LiveCounts, LiveRetrieval
from models.retrieval import Retrieval
from service.model_holder import ModelHolder

log = logging.getLogger(__name__)


class LiveSignals:
    """The live counts of one worker, for whichever bundle `models` serves."""

    def __init__(self, models: ModelHolder, events_dir: Path, settings: Settings):
        self.models = models
        self.events_dir = events_dir
        self.settings = settings
        self.bundle: ModelBundle | None = None
        self.base: Retrieval | None = None
        self.data_end = 0.0
        self.counts: LiveCounts | None = None
        self.tail: EventTail | None = None
        self._lock = threading.Lock()
        # a fork while the master's upkeep thread held the lock would leave the worker's held for ever
        reset = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (method := reset()) is not None and method())

    def refresh(self) -> None:
        """Read what the journal gained, count it, and swap the merged generators into the bundle."""
        with self._lock:  # the upkeep thread, or a test calling it directly; never a request
            self._refresh()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        bundle = self.models.bundle
        if bundle is None:
            return
        if bundle is not self.bundle:
            self._start(bundle)
        bad_before = self.tail.bad_lines
        records = self.tail.read(self.settings.live_signals_read_bytes)
        if self.tail.bad_lines > bad_before:
            log.warning("live signals %s", describe_skipped(skipped_lines(self.tail.bad_lines - bad_before)))
        counted = 0
        for record in sorted(records, key=lambda r: r["ts"]):
            if not record["item_id"]:
                continue
            who = profile_key(record)
            if record["ts"] <= self.data_end:
                self.counts.remember(who, record["item_id"], record["ts"])  # the bundle counted it already
            else:
                self.counts.add(who, record["item_id"], record["ts"])
                counted += 1
        if counted or not isinstance(bundle.item_stats.signals, LiveRetrieval):
            bundle.item_stats.signals = self.counts.snapshot(self.base, self.data_end)

    def _start(self, bundle: ModelBundle) -> None:
        settings = self.settings
        signals = bundle.retrieval
        self.bundle = bundle
        self.base = signals.base if isinstance(signals, LiveRetrieval) else signals
        self.data_end = data_end(bundle.manifest)
        since = max(self.data_end, time.time() - settings.live_signals_lookback_days * 86_400)
        self.counts = LiveCounts(
            settings.live_signals_items, settings.live_signals_neighbours, settings.live_signals_visitors
        )
        self.tail = EventTail(self.events_dir, since)
        log.info(
            "live signals for model %s: counting the journal's touches after %s",
            bundle.version,
            dt.datetime.fromtimestamp(since, dt.UTC).isoformat(),
        )


def data_end(manifest: dict) -> float:
    """The time of the bundle's last training event (0 when the manifest does not say)."""
    time_range = (manifest.get("data") or {}).get("time_range") or []
    try:
        return dt.datetime.fromisoformat(time_range[-1].replace("Z", "+00:00")).timestamp()
    except (IndexError, AttributeError, ValueError):
        return 0.0

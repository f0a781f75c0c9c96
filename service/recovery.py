"""Noticing that Redis lost its data, and rebuilding it from the journal in the background (one worker).

Redis holds a sentinel key (models.keys.journal_sentinel_key) once it holds the journal's reduction:
a rebuild sets it at its end. Every context read asks whether it exists, in the read's own pipeline
(no extra round-trip); a read that finds it gone calls `Recovery.notice`, which starts a background
thread. The thread takes a Redis lock (SET NX EX) so that one worker of all rebuilds, runs
journal.rebuild, and releases the lock. Decisions keep answering meanwhile (from cold-start contexts);
a failed or skipped attempt is tried again by a later read, at most every `retry_after_s`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection

import redis

from config.settings import Settings
from journal.event_log import day_files
from journal.rebuild import RebuildReport, mark_rebuilt, rebuild
from models import keys
from models.journey import JourneyMap

log = logging.getLogger(__name__)
LOCK_S = 600
"""How long the rebuild lock holds if its worker dies; a rebuild longer than this may run twice (harmless:
every write of the rebuild merges)."""
RETRY_AFTER_S = 5.0

# Release the lock only if it is still ours.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Recovery:
    """Starts the rebuild from the journal when a read reports the journal sentinel gone."""

    def __init__(
        self,
        client: redis.Redis,
        settings: Settings,
        journey: JourneyMap,
        catalog_ids: Callable[[], Collection[str]],
        retry_after_s: float = RETRY_AFTER_S,
    ):
        self.client = client
        self.settings = settings
        self.journey = journey
        self.catalog_ids = catalog_ids
        self.retry_after_s = retry_after_s
        self.last_report: RebuildReport | None = None
        self.last_error: str | None = None
        self._release = client.register_script(RELEASE)
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._next_try = 0.0

    def start(self) -> None:
        """At start-up: with an empty journal there is nothing to rebuild, so Redis holds all of it (first start)."""
        data_dir = self.settings.data_dir
        if any(day_files(data_dir / log) for log in ("events", "decisions", "profiles")):
            return  # a read will tell whether the sentinel is there
        try:
            if not self.client.exists(keys.journal_sentinel_key(self.settings.tenant)):
                mark_rebuilt(self.client, self.settings.tenant, self.settings.context_ttl_days * 86_400, time.time())
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("journal sentinel not checked, Redis unreachable: %s", exc)

    def notice(self) -> None:
        """The sentinel is gone: start a rebuild in the background, unless one runs or was tried just now."""
        now = time.monotonic()
        with self._mutex:
            if (self._thread is not None and self._thread.is_alive()) or now < self._next_try:
                return
            self._next_try = now + self.retry_after_s
            self._thread = threading.Thread(target=self._run, name="wayfinder-rebuild", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running rebuild (if any) to end; True when none runs any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def _run(self) -> None:
        lock, token = keys.rebuild_lock_key(self.settings.tenant), uuid.uuid4().hex
        try:
            if not self.client.set(lock, token, nx=True, ex=LOCK_S):
                log.info("journal sentinel gone; another worker is rebuilding Redis from the journal")
                return
            try:
                log.warning("journal sentinel gone: Redis lost data; rebuilding it from %s", self.settings.data_dir)
                self.last_report = rebuild(self.client, self.settings, self.journey, self.catalog_ids())
                self.last_error = None
                log.info("rebuilt Redis from the journal: %s", self.last_report.to_dict())
            finally:
                self._release(keys=[lock], args=[token])
        except Exception as error:  # Redis down again, an unreadable journal: a later read tries again
            self.last_error = f"rebuild from the journal failed: {error}"
            log.exception("rebuild from the journal failed")

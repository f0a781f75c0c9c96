"""Per-process upkeep off the request path: keep the embedded Redis alive, drain the outage spool.

Each app's `Background` (on app.extensions, through Services) holds its tasks; one daemon thread
per process runs the tasks of every live `Background` when due. One thread, not one per app:
the test suite builds hundreds of apps in one process, and as many threads waking every second
fought the tests for the GIL (tests/service ran 50% slower). Threads do not survive fork, so
under gunicorn --preload (the master builds the app, then forks workers) the thread is started
again in each child; which task does real work in which process is the task's own business (the
spool and the Redis supervisor each take a non-blocking file lock).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)


class Background:
    """Named tasks run every `interval_s` (not at all when it is 0); `stop()` ends them."""

    def __init__(self, interval_s: float, tasks: list[tuple[str, Callable[[], object]]]):
        self.interval_s = interval_s
        self.tasks = list(tasks)
        self.next_run = 0.0
        self._failing: set[str] = set()

    def add(self, name: str, task: Callable[[], object]) -> None:
        """Another periodic task (before `start()`)."""
        self.tasks.append((name, task))

    def start(self) -> Background:
        if self.interval_s > 0 and self.tasks:
            self.next_run = time.monotonic() + self.interval_s
            _RUNNER.add(self)
        return self

    def stop(self) -> None:
        _RUNNER.discard(self)

    def run_once(self) -> None:
        """Each task once; a failing task is logged (once per outage) and retried next time."""
        for name, task in self.tasks:
            try:
                task()
            except Exception as error:  # noqa: BLE001 - upkeep must outlive any one failure
                if name not in self._failing:
                    log.warning("background %s failed, retrying every %.1f s: %s", name, self.interval_s, error)
                self._failing.add(name)
            else:
                if name in self._failing:
                    log.info("background %s works again", name)
                self._failing.discard(name)


class _Runner:
    """The process's one upkeep thread; it holds the Backgrounds weakly, so a dropped app's stop."""

    def __init__(self):
        self._jobs: weakref.WeakSet[Background] = weakref.WeakSet()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._after_fork)

    def add(self, job: Background) -> None:
        with self._guard:
            self._jobs.add(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="wayfinder-upkeep", daemon=True)
                self._thread.start()

    def discard(self, job: Background) -> None:
        with self._guard:
            self._jobs.discard(job)

    def _after_fork(self) -> None:
        self._guard = threading.Lock()  # the parent's may have been held by a thread that is gone
        self._thread = None
        jobs = list(self._jobs)
        if jobs:
            self.add(jobs[0])

    def _loop(self) -> None:
        while True:
            with self._guard:
                jobs = list(self._jobs)
            now = time.monotonic()
            for job in jobs:
                if job.next_run <= now:
                    job.run_once()
                    job.next_run = time.monotonic() + job.interval_s
            upcoming = [job.next_run for job in jobs]
            del jobs
            time.sleep(min(1.0, max(0.01, min(upcoming, default=now + 1.0) - time.monotonic())))


_RUNNER = _Runner()

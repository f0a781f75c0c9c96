"""Per-process upkeep off the request path: keep the embedded Redis alive, drain the outage spool.

One daemon thread per process runs the tasks every `interval_s`. Threads do not survive fork, so
under gunicorn --preload (the master builds the app, then forks workers) the thread is started
again in each child; which task does real work in which process is the task's own business (the
spool and the Redis supervisor each take a non-blocking file lock).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)


class Background:
    """Runs named tasks periodically in a daemon thread; `stop()` ends it (tests, shutdown)."""

    def __init__(self, interval_s: float, tasks: list[tuple[str, Callable[[], object]]]):
        self.interval_s = interval_s
        self.tasks = list(tasks)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: set[str] = set()

    def add(self, name: str, task: Callable[[], object]) -> None:
        """Another periodic task (before `start()`)."""
        self.tasks.append((name, task))

    def start(self) -> Background:
        if self.interval_s <= 0 or not self.tasks:
            return self
        self._launch()
        holder = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (b := holder()) is not None and b._relaunch_in_child())
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def run_once(self) -> None:
        """Each task once; a failing task is logged (once per outage) and retried next tick."""
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

    def _launch(self) -> None:
        # the thread holds only a weak reference, so it ends once the app that owns us is gone
        args = (weakref.ref(self), self._stopped, self.interval_s)
        self._thread = threading.Thread(target=_loop, args=args, name="wayfinder-background", daemon=True)
        self._thread.start()

    def _relaunch_in_child(self) -> None:
        if not self._stopped.is_set():
            self._stopped = threading.Event()
            self._launch()


def _loop(holder: weakref.ref, stopped: threading.Event, interval_s: float) -> None:
    while not stopped.wait(interval_s):
        background = holder()
        if background is None:
            return
        background.run_once()
        del background

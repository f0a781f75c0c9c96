"""Progress lines on stderr for the training command line: what a long command is doing, and since when.

Each line names the command and the seconds since it started: `[train 12.4 s] next-stage model fitted`.
They go to stderr only, so stdout keeps the result (and `--json` one JSON object); `--quiet` turns them off.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator


class Progress:
    """A command's progress printer; calling it prints one line (the `progress` callback train() takes)."""

    def __init__(self, command: str, quiet: bool = False):
        self.command = command
        self.quiet = quiet
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            # sys.stderr looked up on each line, not kept: a test's capture replaces it
            print(f"[{self.command} {time.perf_counter() - self.started:.1f} s] {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[Step]:
        """`with progress.step("reading events") as step: ...; step.result = "3,000 rows"` prints the step's
        start, then its end with its own seconds and the result; a failed step prints no end."""
        step = Step()
        started = time.perf_counter()
        self(f"{what}…")
        yield step
        result = f": {step.result}" if step.result else ""
        self(f"{what}: done in {time.perf_counter() - started:.1f} s{result}")

    def counter(self, what: str, unit: str = "rows", every: int = 1_000) -> Counter:
        """A counter for a loop over a large input (see Counter)."""
        return Counter(self, what, unit, every)


class Step:
    """What a step found, said on its end line."""

    result: str = ""


class Counter:
    """`counter.add(n)` in a loop prints `<what>: 1,200,000 <unit>` at most once a second. The clock is read
    only every `every` rows, so a hot loop pays an addition and one integer comparison per call."""

    def __init__(self, progress: Progress, what: str, unit: str = "rows", every: int = 1_000, interval_s: float = 1.0):
        self.progress, self.what, self.unit = progress, what, unit
        self.every, self.interval_s = every, interval_s
        self.count = 0
        self._check_at = every
        self._printed_at = time.perf_counter()

    def add(self, rows: int = 1) -> None:
        self.count += rows
        if self.count < self._check_at:
            return
        self._check_at = self.count + self.every
        now = time.perf_counter()
        if now - self._printed_at >= self.interval_s:
            self._printed_at = now
            self.progress(f"{self.what}: {self.count:,} {self.unit}")

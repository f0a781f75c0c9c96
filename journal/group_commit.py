"""Group commit for the journal's day files (journal.writer.DailyLog): many appends, one write and one fsync.

`SharedCommit` (the event log): concurrent callers in one process share one O_APPEND write per day file
and one fsync; each returns only once its own lines are on disk, so "durable before 2xx" still holds.
A caller that finds fewer than `max_in_flight` (2) groups being written leads: it writes everyone's
queued lines, fsyncs, and wakes them; an OSError reaches every caller of that group. With one caller it
is DailyLog.append.

`BackgroundCommit` (the decision log): callers hand their records over and return; a thread writes and
fsyncs what has queued every `interval_s`. A crash loses at most the last interval's records; `close()`
(gunicorn's worker_exit, atexit) writes everything first. See docs/journal.md, "Group commit".
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from pathlib import Path

from journal.writer import DailyLog
from models.errors import DiskUnavailable

log = logging.getLogger(__name__)

RETRY_S = 0.1
"""While the disk refuses, the background writer tries again this often (at least)."""


class _Ticket:
    __slots__ = ("lines", "taken", "done", "error")

    def __init__(self, lines: dict[Path, list[bytes]]):
        self.lines = lines
        self.taken = False  # in a group being written
        self.done = False
        self.error: BaseException | None = None


class SharedCommit:
    """DailyLog.append for concurrent callers, durable before it returns, with one fsync per group."""

    def __init__(self, log: DailyLog, max_in_flight: int = 2):
        self.log = log
        self.directory = log.directory
        self.max_in_flight = max_in_flight
        """Groups written at once (each its own write and fsync); callers beyond them queue for the next.
        Two, by measurement (bench/journal_commit_bench.py): the kernel overlaps concurrent fsyncs of a
        file, and with one group at a time 4 threads appended at half the rate of a write each."""
        self.flushes = 0
        """Groups written (each one write per day file and one fsync): fewer than `appends` under concurrency."""
        self.appends = 0
        self._turn = threading.Condition()
        self._queue: list[_Ticket] = []
        self._in_flight = 0
        _LIVE.add(self)

    def path_for(self, ts: float) -> Path:
        return self.log.path_for(ts)

    def append(self, records: list[dict]) -> None:
        """On disk when it returns, or the OSError that the write of its group met."""
        ticket = _Ticket(self.log.encode(records))
        with self._turn:
            self.appends += 1
            self._queue.append(ticket)
            while not ticket.done:
                if not ticket.taken and self._in_flight < self.max_in_flight:
                    self._lead()
                else:
                    self._turn.wait()
        if ticket.error is not None:
            raise ticket.error

    def append_or_refuse(self, records: list[dict], log_name: str, consequence: str) -> None:
        """`append`, or DiskUnavailable (503), as DailyLog.append_or_refuse."""
        try:
            self.append(records)
        except OSError as exc:
            raise _refusal(log_name, consequence, exc) from exc

    def _lead(self) -> None:
        """Called holding `_turn`: write the queued group without it, then wake its callers."""
        self._in_flight += 1
        group, self._queue = self._queue, []
        for ticket in group:
            ticket.taken = True
        error: BaseException | None = None
        self._turn.release()
        try:
            by_file: dict[Path, list[bytes]] = {}
            for ticket in group:
                for path, lines in ticket.lines.items():
                    by_file.setdefault(path, []).extend(lines)
            for path, lines in by_file.items():
                self.log.write(path, b"".join(lines))
        except BaseException as exc:  # noqa: BLE001 - every caller of the group learns of it, none answers 2xx
            error = exc
        finally:
            self._turn.acquire()
            self._in_flight -= 1
            self.flushes += 1
            for ticket in group:
                ticket.done, ticket.error = True, error
            self._turn.notify_all()

    def _after_fork(self) -> None:
        self._turn = threading.Condition()
        self._queue, self._in_flight = [], 0


class BackgroundCommit:
    """The decision log's writer: `append_or_refuse` queues, a thread writes and fsyncs every `interval_s`.

    Bounded: with `max_pending` lines queued, a caller first writes the queue itself (backpressure).
    A failed write keeps its lines (those the file did not take whole) and is retried; until a write
    succeeds every caller gets DiskUnavailable, so no decision is served that the log may not keep.
    """

    def __init__(self, log: DailyLog, interval_s: float, max_pending: int = 10_000, log_name: str = "decision log"):
        self.log = log
        self.directory = log.directory
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.log_name = log_name
        self.flushes = 0
        """Writes of the queue (each one write per day file and one fsync)."""
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        self._pending: list[tuple[Path, bytes]] = []
        self._guard = threading.Lock()  # _pending and _failure
        self._writing = threading.Lock()  # one flush at a time
        self._has_work = threading.Event()
        self._failure: OSError | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._reported = False  # the current outage is logged

    def path_for(self, ts: float) -> Path:
        return self.log.path_for(ts)

    @property
    def failure(self) -> str | None:
        """Why the last write failed, while decisions are refused for it; None when writing works."""
        return None if self._failure is None else (self._failure.strerror or str(self._failure))

    @property
    def pending(self) -> int:
        """Lines handed over and not yet on disk."""
        return len(self._pending)

    def append_or_refuse(self, records: list[dict], log_name: str, consequence: str) -> None:
        """Queue the records (on disk within `interval_s`), or DiskUnavailable while the disk refuses."""
        lines = [(path, line) for path, encoded in self.log.encode(records).items() for line in encoded]
        if self._closed:  # after close (a request finishing during shutdown): as DailyLog does
            self._write_now(lines, log_name, consequence)
            return
        for _ in range(2):
            with self._guard:
                if self._failure is not None:
                    raise _refusal(log_name, consequence, self._failure)
                if len(self._pending) < self.max_pending:
                    was_empty = not self._pending
                    self._pending.extend(lines)
                    break
            self._flush_or_refuse(log_name, consequence)  # full: this caller pays for the write
        else:
            self._write_now(lines, log_name, consequence)
            return
        if was_empty:
            self._has_work.set()
        if self._thread is None:
            self._start()

    def flush(self) -> None:
        """Write and fsync everything queued now; OSError if the disk refused (the lines stay queued)."""
        with self._writing:
            with self._guard:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                left, error = self._write(batch)
            except BaseException:
                with self._guard:
                    self._pending[:0] = batch  # kept: never dropped, whatever stopped the write
                raise
            with self._guard:
                self._pending[:0] = left
                self._failure = error if left else None
            self.flushes += 1
        if error is not None:
            raise error

    def close(self) -> None:
        """Write what is queued (a clean shutdown loses nothing); later appends write at once."""
        self._closed = True
        self._has_work.set()
        try:
            self.flush()
        except OSError as exc:
            log.error("%s: %d records not written at shutdown: %s", self.log_name, self.pending, exc)

    def _write(self, batch: list[tuple[Path, bytes]]) -> tuple[list[tuple[Path, bytes]], OSError | None]:
        """(the lines not on disk, the error that stopped the write), one write per day file."""
        by_file: dict[Path, list[bytes]] = {}
        for path, line in batch:
            by_file.setdefault(path, []).append(line)
        left: list[tuple[Path, bytes]] = []
        error: OSError | None = None
        for path, lines in by_file.items():
            if error is not None:
                left.extend((path, line) for line in lines)
                continue
            try:
                self.log.write(path, b"".join(lines))
            except OSError as exc:
                error = exc
                left.extend((path, line) for line in _not_written(lines, getattr(exc, "bytes_written", 0)))
        return left, error

    def _flush_or_refuse(self, log_name: str, consequence: str) -> None:
        try:
            self.flush()
        except OSError as exc:
            raise _refusal(log_name, consequence, exc) from exc

    def _write_now(self, lines: list[tuple[Path, bytes]], log_name: str, consequence: str) -> None:
        left, error = self._write(lines)
        if error is not None:
            raise _refusal(log_name, consequence, error) from error

    def _start(self) -> None:
        with self._guard:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=_run, args=(weakref.ref(self), self._has_work), name="wayfinder-journal", daemon=True
                )
                self._thread.start()

    def _round(self) -> float:
        """One flush by the thread; the seconds to wait before the next."""
        time.sleep(self.interval_s)  # let the interval's records gather
        self._has_work.clear()
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - the writer outlives any one failure; the lines stay queued
            if not self._reported:
                log.error("%s: cannot write (%s), %d records kept, retrying", self.log_name, exc, self.pending)
            self._reported = True
            self._has_work.set()
            return max(self.interval_s, RETRY_S)
        if self._reported:
            log.warning("%s: written again, nothing lost", self.log_name)
            self._reported = False
        return 0.0

    def _after_fork(self) -> None:
        self._reset()  # the parent's queue is the parent's to write (a preloading master has none)


def _run(writer_ref: weakref.ref, has_work: threading.Event) -> None:
    """The background writer's loop; it ends with its writer (closed, or dropped with its app)."""
    while True:
        if not has_work.wait(1.0):
            writer = writer_ref()
            if writer is None or writer._closed:
                return
            del writer
            continue
        writer = writer_ref()
        if writer is None:
            return
        pause = writer._round()
        closed = writer._closed and not writer.pending
        del writer
        if closed:
            return
        if pause:
            time.sleep(pause)


def _not_written(lines: list[bytes], bytes_written: int) -> list[bytes]:
    """The lines not wholly within the first `bytes_written` bytes of their concatenation."""
    for index, line in enumerate(lines):
        if bytes_written < len(line):
            return lines[index:]
        bytes_written -= len(line)
    return []


def _refusal(log_name: str, consequence: str, exc: OSError | BaseException) -> DiskUnavailable:
    why = getattr(exc, "strerror", None) or str(exc)
    return DiskUnavailable(f"cannot write the {log_name} ({why}): {consequence}; free disk space and retry")


_LIVE: weakref.WeakSet = weakref.WeakSet()


def close_all() -> None:
    """Write every queued record of this process (gunicorn's worker_exit; atexit as a backstop)."""
    for writer in list(_LIVE):
        if isinstance(writer, BackgroundCommit):
            writer.close()


def _after_fork_in_child() -> None:
    for writer in list(_LIVE):
        writer._after_fork()


atexit.register(close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)

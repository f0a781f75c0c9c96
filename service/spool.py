"""Events accepted while Redis was unreachable wait here, on local disk, until they can be applied.

Two files: request threads append to `pending.jsonl` (under a short exclusive lock); one drainer
at a time (a non-blocking lock, so a busy worker is skipped, never waited for) renames it to
`draining.jsonl` and applies it in batches, streaming, recording after each batch how far it got
in `draining.offset`. A drainer that dies mid-way leaves both files; the next one resumes at the
recorded offset, so at most one batch is applied twice, which dedup by event id makes harmless.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from journal.writer import fsync_directory
from models.errors import DiskUnavailable

log = logging.getLogger(__name__)
DRAIN_BATCH = 500
"""Events applied per store write while draining: one pipelined CAS round-trip per batch."""


class Spool:
    """Pending events on local disk, shared by every worker of this host."""

    def __init__(self, directory: Path | str, max_bytes: int = 1 << 30):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.refusing = False
        """This process refused its last add for want of room (readiness reads it: the spool is full)."""
        self.path = self.directory / "pending.jsonl"
        self.draining_path = self.directory / "draining.jsonl"
        self.offset_path = self.directory / "draining.offset"
        self.lock_path = self.directory / "pending.lock"
        self.drain_lock_path = self.directory / "drain.lock"

    def add(self, events: list[dict]) -> None:
        """Append durably (fsync) or raise DiskUnavailable: the caller answers 2xx only after this."""
        payload = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
        try:
            with _locked(self.lock_path):
                if self.size() + len(payload) > self.max_bytes:
                    self.refusing = True
                    raise DiskUnavailable(
                        f"the outage spool holds {self.size()} bytes, its limit (spool_max_bytes) is "
                        f"{self.max_bytes}: bring Redis back or raise the limit"
                    )
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH)  # journal.compact's protocol: no write in flight under its lock
                    _write_all(fd, _after_torn_line(fd) + payload)
                    os.fsync(fd)
                    self.refusing = False
                finally:
                    os.close(fd)
        except OSError as exc:
            raise DiskUnavailable(f"cannot spool events to {self.path}: {exc.strerror}; free disk space") from exc

    def size(self) -> int:
        """Bytes waiting (pending and the unapplied rest of draining)."""
        total = 0
        for path in (self.path, self.draining_path):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return max(0, total - self._offset())

    def has_pending(self) -> bool:
        return self.path.exists() or self.draining_path.exists()

    def pending(self) -> int:
        """Events waiting, counted by streaming the files (never read whole)."""
        count = 0
        for path, start in ((self.draining_path, self._offset()), (self.path, 0)):
            with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
                handle.seek(start)
                for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                    count += chunk.count(b"\n")
        return count

    def drain(self, apply: Callable[[list[dict]], object], batch: int = DRAIN_BATCH) -> int | None:
        """Apply what is spooled, batch by batch; None when another drainer holds the lock.

        An exception from `apply` (Redis gone again) stops the drain with the offset recorded;
        the rest stays spooled for the next attempt.
        """
        handle = open(self.drain_lock_path, "a")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            try:
                applied = 0
                while self._claim_pending():
                    applied += self._drain_claimed(apply, batch)
                return applied
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()

    def _claim_pending(self) -> bool:
        """Make sure draining.jsonl exists: resume it, or rename pending.jsonl to it."""
        if self.draining_path.exists():
            return True
        with _locked(self.lock_path):
            if not self.path.exists():
                return False
            os.replace(self.path, self.draining_path)
            fsync_directory(self.directory)
        return True

    def _drain_claimed(self, apply: Callable[[list[dict]], object], batch: int) -> int:
        offset = self._offset()
        applied = 0
        with open(self.draining_path, "rb") as handle:
            handle.seek(offset)
            for events, end in _batches(handle, batch):
                if events:
                    apply(events)
                applied += len(events)
                self._save_offset(end)
        if applied:
            log.info("applied %d spooled events", applied)
        self.draining_path.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.offset_path.unlink()
        fsync_directory(self.directory)
        return applied

    def _offset(self) -> int:
        try:
            return int(self.offset_path.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0  # lost or torn: re-applying from the start is safe (dedup by event id)

    def _save_offset(self, offset: int) -> None:
        temporary = self.offset_path.with_suffix(".tmp")
        temporary.write_text(str(offset))
        os.replace(temporary, self.offset_path)


def _batches(handle, size: int) -> Iterator[tuple[list[dict], int]]:
    """(events, byte offset after them) for each run of `size` lines; a torn last line is skipped."""
    events: list[dict] = []
    for line in handle:
        if not line.endswith(b"\n"):
            log.warning("skipping a torn last spool line (%d bytes): its request was never answered", len(line))
            continue
        try:
            events.extend([json.loads(line)] if line.strip() else [])
        except ValueError:
            log.warning("skipping an unreadable spool line (%d bytes)", len(line))
        if len(events) >= size:
            yield events, handle.tell()
            events = []
    yield events, handle.tell()


def _after_torn_line(fd: int) -> bytes:
    """A newline when the file ends mid-line (a writer died), so the next event starts a line."""
    end = os.lseek(fd, 0, os.SEEK_END)
    return b"\n" if end and os.pread(fd, 1, end - 1) != b"\n" else b""


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

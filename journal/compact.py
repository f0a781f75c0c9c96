"""Compaction: every JSON Lines file under a data dir loses the lines of erased ids (journal.erasures).

An erased line is overwritten in place with spaces (its newline kept), not copied into a new file
renamed over the old one. Why: the files' readers keep byte offsets into them (journal.tail for the
live signals, the spool's `draining.offset`), and with every other byte where it was those offsets
stay right and nothing has to notice a new inode; every reader already skips a blank line (Arrow's
JSON reader too). The cost: a compacted file keeps its size (retention deletes whole days).

Safe while the service appends: writers only ever append (O_APPEND) after a file's last byte, and
compaction only overwrites complete lines it has read. Lines are found without a lock; then, under
an exclusive flock of the file (journal.writer takes a shared one around each append), the lines
appended meanwhile and a torn last line (a crashed write, no newline) are looked at too, the blanks
written and fsync'd. One compaction at a time per data dir (`erasures/compact.lock`).

A line is an erased id's when any `"visitor_id"` or `"user_id"` string in it, at any depth (a
decision's context snapshot holds both), is erased; the line need not parse, so a torn line is
judged by the ids it still shows.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from journal.erasures import Erasures

_ID_VALUE = re.compile(rb'"(?:visitor_id|user_id)"\s*:\s*"((?:[^"\\]|\\.)*)"')
LOCK_FILE = "compact.lock"


@dataclasses.dataclass
class CompactReport:
    files: int = 0
    """JSON Lines files read."""
    rewritten: dict[str, int] = dataclasses.field(default_factory=dict)
    """File (relative to the data dir) -> lines blanked in it."""
    erasures: int = 0
    """Erasures the logs are now free of (all recorded when the compaction started)."""
    seconds: float = 0.0

    @property
    def lines_dropped(self) -> int:
        return sum(self.rewritten.values())


def ids_in_line(line: bytes) -> list[str]:
    """Every `visitor_id` and `user_id` string value in a JSON line, at any depth, parsed or torn."""
    found = []
    for match in _ID_VALUE.finditer(line):
        raw = match.group(1)
        if b"\\" not in raw:
            found.append(raw.decode("utf-8", "replace"))  # no escape: the JSON string is its bytes
            continue
        try:
            found.append(json.loads(b'"' + raw + b'"'))
        except ValueError:
            found.append(match.group(1).decode("utf-8", "replace"))  # torn inside an escape
    return found


def compact(data_dir: Path | str, erasures: Erasures, wait: bool = True) -> CompactReport | None:
    """Blank the lines of every erasure recorded so far in every `*.jsonl` under `data_dir` (the erasure
    record aside), then record them compacted. None when another compaction holds the lock and not `wait`."""
    data_dir = Path(data_dir)
    erasures.directory.mkdir(parents=True, exist_ok=True)
    with open(erasures.directory / LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return None
        started = time.perf_counter()
        records = erasures.records()
        keys = frozenset(key for record in records for key in record.ids)
        report = CompactReport(erasures=len(records))
        if keys:
            verdicts: dict[str, bool] = {}  # one keyed hash per distinct id (a visitor has many lines)

            def erased(line: bytes) -> bool:
                for some_id in ids_in_line(line):
                    verdict = verdicts.get(some_id)
                    if verdict is None:
                        if len(verdicts) >= 1_000_000:
                            verdicts.clear()
                        verdict = verdicts[some_id] = erasures.key(some_id) in keys
                    if verdict:
                        return True
                return False

            for path in journal_files(data_dir, erasures.directory):
                report.files += 1
                blanked = blank_lines(path, erased)
                if blanked:
                    report.rewritten[str(path.relative_to(data_dir))] = blanked
        if any(record.compacted_at is None for record in records):
            erasures.mark_compacted(len(records), time.time())
        report.seconds = time.perf_counter() - started
        return report


def journal_files(data_dir: Path, skip: Path) -> list[Path]:
    """Every JSON Lines file the service writes under `data_dir`: the logs of every host, the spool, the
    catalog log; not the erasure record."""
    return sorted(p for p in data_dir.rglob("*.jsonl") if p.is_file() and skip not in p.parents)


def blank_lines(path: Path, drop: Callable[[bytes], bool]) -> int:
    """Overwrite with spaces each line of `path` that `drop` picks, in place, durably; how many were."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        spans, end = _spans(fd, 0, drop, complete_only=True)
        fcntl.flock(fd, fcntl.LOCK_EX)  # no append in flight now: the rest, and a torn last line, can be read
        try:
            more, _ = _spans(fd, end, drop, complete_only=False)
            spans += more
            for start, length in spans:
                os.pwrite(fd, b" " * length, start)
            if spans:
                os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return len(spans)
    finally:
        os.close(fd)


def _spans(fd: int, start: int, drop: Callable[[bytes], bool], complete_only: bool) -> tuple[list, int]:
    """(start, length without the newline) of each line from `start` that `drop` picks, and where the
    complete lines read end."""
    spans, position, rest = [], start, b""
    while True:
        chunk = os.pread(fd, 1 << 20, position + len(rest))
        if not chunk:
            break
        data = rest + chunk
        lines = data.split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line.strip() and drop(line):
                spans.append((position, len(line)))
            position += len(line) + 1
    if rest and not complete_only and rest.strip() and drop(rest):
        spans.append((position, len(rest)))
    return spans, position

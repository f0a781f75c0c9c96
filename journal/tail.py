"""Following the event journal as it grows: the records appended since the last read, every host's.

Each day file is read from the byte offset the previous read stopped at, up to its last complete line:
a line still being written (or torn by a crash) waits, and once the writer starts its next record on a
fresh line (journal.writer) the torn one is skipped and counted like the other readers do. Records of
erased ids (journal.erasures) are skipped. Compaction (journal.compact) blanks erased lines in place, so
the offsets kept here stay valid across it: a blanked line reads as an empty one.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from journal.erasures import Erasures
from journal.event_log import day_files, event_row


class EventTail:
    """New event records of the day files under `directory` whose day ends after `since`."""

    def __init__(self, directory: Path | str, since: float):
        self.directory = Path(directory)
        self.since = since
        self.offsets: dict[Path, int] = {}
        self.bad_lines = 0
        self.erased_lines = 0

    def read(self, max_bytes: int) -> list[dict]:
        """The records appended since the last call, about `max_bytes` of them at most (the rest next time)."""
        records: list[dict] = []
        budget = max_bytes
        files = day_files(self.directory, since=self.since)
        self.offsets = {path: self.offsets.get(path, 0) for path in files}  # a deleted day is forgotten
        for path in files:
            if budget <= 0:
                break
            chunk = self._complete_lines(path, budget)
            budget -= len(chunk)
            records.extend(self._records(chunk))
        return records

    def _complete_lines(self, path: Path, budget: int) -> bytes:
        offset = self.offsets[path]
        try:
            size = path.stat().st_size
            if size < offset:  # rewritten shorter (compaction): what is left was read before it
                self.offsets[path] = size
            if size <= offset:
                return b""
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read(min(size - offset, budget))
                if b"\n" not in chunk:
                    chunk += handle.readline()  # one line longer than the budget is read whole
        except FileNotFoundError:
            return b""
        chunk = chunk[: chunk.rfind(b"\n") + 1]
        self.offsets[path] = offset + len(chunk)
        return chunk

    def _records(self, chunk: bytes) -> list[dict]:
        records = []
        erasures = Erasures.of_log(self.directory)
        for line in chunk.splitlines():
            if not line.strip():
                continue
            try:
                # orjson refuses a lone surrogate (and NaN) itself: such a line is a bad line, with no walk of the
                # record's strings (journal.records.check_text, which the standard library's readers need)
                record = orjson.loads(line)
                row = event_row(record)
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, KeyError, TypeError, ValueError):
                self.bad_lines += 1
                continue
            if row["visitor_id"] is None or row["type"] is None or row["ts"] is None:
                self.bad_lines += 1
                continue
            if erasures is not None and (erasures.is_erased(row["visitor_id"]) or erasures.is_erased(row["user_id"])):
                self.erased_lines += 1
                continue
            records.append(row)
        return records

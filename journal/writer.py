"""Durable append-only JSON Lines logs, one file per UTC day (the event, decision and profile logs)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path


class DailyLog:
    """Appends records to `<directory>/<YYYY-MM-DD>.jsonl`, by each record's own timestamp.

    Each file's lines for one call go out in one O_APPEND write, so workers that share the
    directory never interleave partial lines; with `fsync` the data is on disk before the
    call returns (what an accepted 2xx promises).
    """

    def __init__(self, directory: Path | str, fsync: bool = True, time_field: str = "ts"):
        self.directory = Path(directory)
        self.fsync = fsync
        self.time_field = time_field
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, ts: float) -> Path:
        day = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")
        return self.directory / f"{day}.jsonl"

    def append(self, records: list[dict]) -> None:
        by_file: dict[Path, list[str]] = {}
        for record in records:
            line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
            by_file.setdefault(self.path_for(record[self.time_field]), []).append(line)
        for path, lines in by_file.items():
            _append(path, "".join(lines).encode("utf-8"), self.fsync)


def _append(path: Path, payload: bytes, fsync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)

"""Durable append-only JSON Lines logs, one file per UTC day and host (the event, decision and profile logs)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import socket
from pathlib import Path

import orjson

from journal.records import versioned
from models.errors import DiskUnavailable

_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def host_name(configured: str = "") -> str:
    """This host's name in day file names: `configured`, else the machine's hostname, reduced to
    [A-Za-z0-9_.-] so that it is safe in a file name and the readers can tell it from the day."""
    name = _NOT_IN_NAME.sub("-", configured or socket.gethostname()).strip(".")
    return name or "host"


class DailyLog:
    """Appends records to `<directory>/<YYYY-MM-DD>.<host>.jsonl`, by each record's own timestamp.

    Each file's lines for one call go out in one O_APPEND write, so workers that share the
    directory never interleave partial lines; with `fsync` the data is on disk before the
    call returns (what an accepted 2xx promises). Each host writes its own files, so several
    API hosts can share one data folder. `host=None` keeps the name of one-host logs,
    `<YYYY-MM-DD>.jsonl`; `host=""` means this machine's hostname.

    A crash can leave a torn last line (no newline at the end). Before its first append to a
    file, a log looks at the file's last byte once and starts a fresh line if it is not one,
    so the next record is never glued to the torn one (the readers skip and count the torn one).
    """

    def __init__(self, directory: Path | str, fsync: bool = True, time_field: str = "ts", host: str | None = None):
        self.directory = Path(directory)
        self.fsync = fsync
        self.time_field = time_field
        self.host = None if host is None else host_name(host)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._line_start_checked: set[Path] = set()

    def path_for(self, ts: float) -> Path:
        day = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")
        return self.directory / (f"{day}.jsonl" if self.host is None else f"{day}.{self.host}.jsonl")

    def encode(self, records: list[dict]) -> dict[Path, list[bytes]]:
        """Each record as its line (versioned, compact JSON and a newline), by the day file it goes to."""
        by_file: dict[Path, list[bytes]] = {}
        for record in records:
            by_file.setdefault(self.path_for(record[self.time_field]), []).append(encode_line(versioned(record)))
        return by_file

    def append(self, records: list[dict]) -> None:
        for path, lines in self.encode(records).items():
            self.write(path, b"".join(lines))

    def append_lines(self, lines: list[str], ts: float) -> None:
        """Already encoded records (one JSON object and a newline each) that share the instant `ts`, in one
        write to that day's file: for writers that encode faster than `append` (a campaign's decisions)."""
        self.write(self.path_for(ts), "".join(lines).encode("utf-8"))

    def write(self, path: Path, payload: bytes) -> None:
        """Whole lines to one day file in one O_APPEND write (and an fsync). After an OSError the file's
        last byte is looked at again before the next write: the failed write may have left a torn line."""
        try:
            _append(path, payload, self.fsync, path not in self._line_start_checked)
        except OSError:
            self._line_start_checked.discard(path)
            raise
        self._line_start_checked.add(path)

    def append_or_refuse(self, records: list[dict], log_name: str, consequence: str) -> None:
        """`append`, or DiskUnavailable (503) naming the log and what the caller did not do: no 2xx for
        a record the disk did not take."""
        try:
            self.append(records)
        except OSError as exc:
            raise DiskUnavailable(
                f"cannot write the {log_name} ({exc.strerror}): {consequence}; free disk space and retry"
            ) from exc


def encode_line(record: dict) -> bytes:
    """One record as compact JSON and a newline (orjson: UTF-8 as is, NaN as null). The default turns
    numpy floats into numbers and anything else unknown into its str, as json.dumps(default=str) did;
    what orjson refuses (an int past 64 bits, a key that is not a str) goes through json.dumps."""
    try:
        return orjson.dumps(record, default=_plain, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode("utf-8")


def _plain(value: object) -> object:
    return float(value) if isinstance(value, float) else str(value)


def _append(path: Path, payload: bytes, fsync: bool, check_line_start: bool) -> None:
    """An OSError from a write carries `bytes_written`: how much of `payload` is in the file all the same
    (whole lines before that are there; an fsync that fails counts nothing as written)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # shared among writers; compaction (journal.compact) takes it exclusive to see no write in flight
        fcntl.flock(fd, fcntl.LOCK_SH)
        if check_line_start and _ends_mid_line(path):
            payload = b"\n" + payload
            written = -1  # the newline is not the caller's
        else:
            written = 0
        view = memoryview(payload)
        try:
            while view:
                step = os.write(fd, view)
                written += step
                view = view[step:]
        except OSError as error:
            error.bytes_written = max(written, 0)
            raise
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _ends_mid_line(path: Path) -> bool:
    """Whether the file's last byte is not a newline (a torn last line); one pread of one byte."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    finally:
        os.close(fd)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable (the directory entry itself is fsync'd)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

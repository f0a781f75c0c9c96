"""The erasure record: which ids were erased, kept as keyed hashes (never the ids), and how far compaction got.

`<data dir>/erasures/erasures.jsonl` is append-only and fsync'd. Two kinds of line:

- an erasure: `{"at": epoch s, "by": who asked, "ids": [keyed hash, ...], "check": secret check}`;
- a compaction: `{"compacted_at": epoch s, "erasures": n}`: the first n erasures are gone from the logs.

The keyed hash is HMAC-SHA256 (hex) of the id with a secret: `settings.erasure_secret`
(WAYFINDER_ERASURE_SECRET), or else a random one made once in `<data dir>/erasures/secret` (mode 0600).
Without the secret a hash cannot be checked against guessed ids. `check` is the HMAC of the empty
string: a reader holding another secret refuses to run rather than silently not skipping anyone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from config.settings import Settings
from journal.writer import fsync_directory
from models.errors import ConfigError

FILE = "erasures.jsonl"
SECRET_FILE = "secret"
_CACHE_IDS = 16_384
"""Keyed hashes of recently asked ids kept in memory (about 3 MB): one HMAC (about 2 µs) saved per repeat."""


@dataclasses.dataclass(frozen=True)
class Erasure:
    at: float
    by: str
    ids: tuple[str, ...]
    compacted_at: float | None = None


class Erasures:
    """The erasure record of one data directory; `is_erased` is cheap enough for every request (one stat)."""

    def __init__(self, data_dir: Path | str, secret: str = ""):
        self.directory = Path(data_dir) / "erasures"
        self.path = self.directory / FILE
        self._configured_secret = secret
        self._secret: bytes | None = None
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._records: list[Erasure] = []
        self._erased: dict[str, float] = {}
        self._keys: dict[str, str] = {}

    @classmethod
    def of_log(cls, log_directory: Path | str) -> Erasures | None:
        """The record of the data directory a log directory (`<data dir>/events`, ...) belongs to; None when
        nothing was ever erased there (readers then skip nothing and pay nothing)."""
        data_dir = Path(log_directory).resolve().parent
        if not (data_dir / "erasures" / FILE).is_file():
            return None
        with _SHARED_LOCK:
            found = _SHARED.get(data_dir)
            if found is None:
                found = _SHARED[data_dir] = cls(data_dir, Settings.from_env().erasure_secret)
            return found

    def share(self) -> Erasures:
        """Make this the record `of_log` answers for its data dir in this process (the service's, with the
        secret of its settings, which need not come from the environment)."""
        with _SHARED_LOCK:
            _SHARED[self.directory.resolve().parent] = self
        return self

    def key(self, some_id: str) -> str:
        """The keyed hash of an id (HMAC-SHA256, hex): what the record holds in its place."""
        found = self._keys.get(some_id)
        if found is None:
            if self._secret is None:  # made on first use: a service that never erases writes nothing
                self._secret = (self._configured_secret or _stored_secret(self.directory)).encode("utf-8")
            found = hmac.new(self._secret, some_id.encode("utf-8"), hashlib.sha256).hexdigest()
            if len(self._keys) >= _CACHE_IDS:
                self._keys.clear()
            self._keys[some_id] = found
        return found

    def record(self, ids: list[str], by: str, at: float) -> Erasure:
        """Append one erasure of `ids`, on disk (fsync) before it returns."""
        erasure = Erasure(at, by, tuple(sorted({self.key(i) for i in ids})))
        line = {"at": at, "by": by, "ids": list(erasure.ids), "check": self.key("")}
        _append_line(self.path, line)
        return erasure

    def mark_compacted(self, erasures: int, at: float) -> None:
        """Record that the logs no longer hold the first `erasures` erasures."""
        _append_line(self.path, {"compacted_at": at, "erasures": erasures})

    def erased_at(self, some_id: str | None) -> float | None:
        """When `some_id` was erased, or None when it was not (or is None)."""
        erased = self._current()
        if not some_id or not erased:
            return None
        return erased.get(self.key(some_id))

    def is_erased(self, some_id: str | None) -> bool:
        return self.erased_at(some_id) is not None

    def erased_keys(self) -> frozenset[str]:
        """Every erased id's keyed hash."""
        return frozenset(self._current())

    def records(self) -> list[Erasure]:
        """Every erasure, oldest first, each with when the logs were compacted without it (None: pending)."""
        self._current()
        return list(self._records)

    def pending(self) -> list[Erasure]:
        return [e for e in self.records() if e.compacted_at is None]

    def _current(self) -> dict[str, float]:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return {}
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    self._load()
                    self._seen = seen
        return self._erased

    def _load(self) -> None:
        records, compactions = [], []
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line: its erasure was never answered
                if "compacted_at" in row:
                    compactions.append((float(row["compacted_at"]), int(row["erasures"])))
                elif "ids" in row:
                    if row.get("check") != self.key(""):
                        raise ConfigError(
                            f"{self.path} was written with another erasure secret: set WAYFINDER_ERASURE_SECRET "
                            f"(settings.erasure_secret) to the service's, or keep {self.directory / SECRET_FILE}"
                        )
                    records.append(Erasure(float(row["at"]), str(row.get("by", "")), tuple(row["ids"])))
        for index, record in enumerate(records):
            done = [at for at, count in compactions if count > index]
            if done:
                records[index] = dataclasses.replace(record, compacted_at=min(done))
        self._records = records
        self._erased = {key: record.at for record in records for key in record.ids}


def day_of(at: float) -> str:
    """An erasure's date, as refusals name it."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d")


def _stored_secret(directory: Path) -> str:
    """The secret in `directory/secret`, made once (random, mode 0600) by whichever process gets there first."""
    path = directory / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".secret.{os.getpid()}.{threading.get_ident()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)  # fails if another process made it first: theirs is kept
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    fsync_directory(directory)
    return path.read_text().strip()


def _append_line(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        torn = end and os.pread(fd, 1, end - 1) != b"\n"
        os.write(fd, (b"\n" if torn else b"") + json.dumps(row, separators=(",", ":")).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(path.parent)


_SHARED: dict[Path, Erasures] = {}
_SHARED_LOCK = threading.Lock()


def erased_among(erasures: Erasures | None, values) -> set[str]:
    """The distinct ids among `values` (None and NaN ignored) that were erased: one keyed hash per distinct id."""
    if erasures is None:
        return set()
    keys = erasures.erased_keys()
    if not keys:
        return set()
    return {v for v in set(values) if isinstance(v, str) and v and erasures.key(v) in keys}


def erased_fields(erasures: Erasures | None, named: dict[str, str | None]) -> dict[str, list[str]]:
    """{field: [why]} for each of `named`'s ids that was erased, the reason naming the fix; empty: none was."""
    return erasure_check(erasures)(named)


def erasure_check(erasures: Erasures | None) -> Callable[[dict[str, str | None]], dict[str, list[str]]]:
    """erased_fields for the many events of one batch: one stat of the record for all of them."""
    erased = erasures._current() if erasures is not None else None
    if not erased:
        return _nothing_erased

    def check(named: dict[str, str | None]) -> dict[str, list[str]]:
        found = {}
        for field, some_id in named.items():
            at = erased.get(erasures.key(some_id)) if some_id else None
            if at is not None:
                found[field] = [f"this id was erased on {day_of(at)}: send a new id"]
        return found

    return check


def _nothing_erased(named: dict[str, str | None]) -> dict[str, list[str]]:
    return {}

"""The profile log: every accepted profile write, on disk before Redis changes, and its reader for the rebuild.

Records are `{"rv": 1, "visitor_id", "ts", "profile"}` in `<data dir>/profiles/<YYYY-MM-DD>.jsonl`
(journal.writer.DailyLog), the profile being the merged one the service stored.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from journal.erasures import Erasures
from journal.event_log import day_files
from journal.records import NotText, check_text, checked_id
from journal.writer import DailyLog

RECORD_VERSION = 1


def encode(profile: dict) -> str:
    """The profile as Redis holds it (the context hash's `profile` field): compact JSON."""
    return json.dumps(profile, separators=(",", ":"))


class ProfileLog:
    """Appends one record per accepted profile write, durably (fsync) before it returns."""

    def __init__(self, directory: Path | str, fsync: bool = True, host: str | None = None):
        self.log = DailyLog(directory, fsync=fsync, host=host)

    def append(self, visitor_id: str, profile: dict, ts: float) -> None:
        """Durable before it returns, or DiskUnavailable: the caller then leaves Redis as it was."""
        record = {"rv": RECORD_VERSION, "visitor_id": visitor_id, "ts": ts, "profile": profile}
        self.log.append_or_refuse([record], "profile log", "the profile was not stored")


@dataclasses.dataclass(frozen=True)
class ProfileRecord:
    visitor_id: str
    ts: float
    profile: dict


class LatestProfiles:
    """Each visitor's profile after all their logged writes: the latest write's (by `ts`; the files' order for
    equal times), with each consent key at its latest value.

    Live, each write's consent is the stored consent updated by the body's keys (service.visitors), so the
    latest write's consent already holds every earlier key and is kept as it is, byte for byte. Folding
    matters for a write accepted while Redis had lost the stored profile (before the rebuild restored it):
    that write merged with nothing, and would otherwise wipe an opt-out (consent keys are never removed,
    only set to false). The fold does not depend on the order records come in, and adding a record again
    changes nothing, so a day file can be read twice. Only the latest write of each visitor is held, as the
    JSON Redis stores (a few hundred bytes, not the log nor nested dicts), beside its consent's keys and each
    consent key's latest (time, value).
    """

    def __init__(self):
        self.bad_lines = 0
        self.erased_lines = 0
        """Records of erased ids (journal.erasures), skipped."""
        self._latest: dict[str, tuple[float, str, tuple[str, ...], dict[str, tuple[float, object]]]] = {}

    def read(self, directory: Path | str, since: float | None = None, until: float | None = None) -> LatestProfiles:
        """Add the records of the log at `directory` with since <= ts < until; a line cut short by a crash,
        not valid text (journal.records.NotText) or of another record version is skipped and counted in
        `bad_lines`; one of an erased id in `erased_lines`."""
        erasures = Erasures.of_log(directory)
        for path in day_files(directory, since, until):
            with open(path, "rb") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    record = _record(line)
                    if record is None:
                        self.bad_lines += 1
                    elif erasures is not None and erasures.is_erased(record.visitor_id):
                        self.erased_lines += 1
                    elif (since is None or record.ts >= since) and (until is None or record.ts < until):
                        self.add(record)
        return self

    def add(self, record: ProfileRecord) -> None:
        current = self._latest.get(record.visitor_id)
        consent = current[3] if current else {}
        record_consent = record.profile.get("consent") or {}
        for key, value in record_consent.items():
            if key not in consent or record.ts >= consent[key][0]:
                consent[key] = (record.ts, value)
        if current is None or record.ts >= current[0]:
            self._latest[record.visitor_id] = (record.ts, encode(record.profile), tuple(record_consent), consent)

    def __len__(self) -> int:
        return len(self._latest)

    def visitors(self) -> list[str]:
        return list(self._latest)

    def encoded(self, visitor_id: str) -> str:
        """The visitor's profile as Redis stores it (`encode`)."""
        _, encoded, latest_keys, consent = self._latest[visitor_id]
        if set(consent) <= set(latest_keys):
            return encoded
        profile = json.loads(encoded)
        folded = {key: value for key, (_, value) in consent.items()}
        return encode({**profile, "consent": {**folded, **profile.get("consent", {})}})

    def profile(self, visitor_id: str) -> dict:
        return json.loads(self.encoded(visitor_id))


def _record(line: bytes) -> ProfileRecord | None:
    """The line's record; None when it is not one (torn, another version, or not valid text: journal.records)."""
    try:
        row = json.loads(line.decode("utf-8"))
        check_text(row)
    except (json.JSONDecodeError, UnicodeDecodeError, NotText):
        return None
    if not isinstance(row, dict) or row.get("rv") != RECORD_VERSION:
        return None
    visitor_id, ts, profile = row.get("visitor_id"), row.get("ts"), row.get("profile")
    if not isinstance(visitor_id, str) or not isinstance(ts, int | float) or not isinstance(profile, dict):
        return None
    try:
        checked_id(visitor_id)
    except NotText:
        return None
    if not isinstance(profile.get("consent", {}), dict):
        return None
    return ProfileRecord(visitor_id, float(ts), profile)

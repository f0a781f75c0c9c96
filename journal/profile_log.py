"""The profile log: every accepted profile write, on disk before Redis changes, and its reader for the rebuild.

Records are `{"rv": 1, "visitor_id", "ts", "profile"}` in `<data dir>/profiles/<YYYY-MM-DD>.jsonl`
(journal.writer.DailyLog), the profile being the merged one the service stored.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from journal.event_log import day_files
from journal.writer import DailyLog
from models.errors import DiskUnavailable

RECORD_VERSION = 1


def encode(profile: dict) -> str:
    """The profile as Redis holds it (the context hash's `profile` field): compact JSON."""
    return json.dumps(profile, separators=(",", ":"))


class ProfileLog:
    """Appends one record per accepted profile write, durably (fsync) before it returns."""

    def __init__(self, directory: Path | str, fsync: bool = True):
        self.log = DailyLog(directory, fsync=fsync)

    def append(self, visitor_id: str, profile: dict, ts: float) -> None:
        """Durable before it returns, or DiskUnavailable: the caller then leaves Redis as it was."""
        record = {"rv": RECORD_VERSION, "visitor_id": visitor_id, "ts": ts, "profile": profile}
        try:
            self.log.append([record])
        except OSError as exc:
            raise DiskUnavailable(
                f"cannot write the profile log ({exc.strerror}): the profile was not stored; free disk space and retry"
            ) from exc


@dataclasses.dataclass(frozen=True)
class ProfileRecord:
    visitor_id: str
    ts: float
    profile: dict


def read_profile_log(
    directory: Path | str, since: float | None = None, until: float | None = None
) -> tuple[list[ProfileRecord], int]:
    """The records with since <= ts < until, in the files' order, and how many lines were not records.

    A line cut short by a crash, or of an unknown record version, is skipped and counted.
    """
    records, bad = [], 0
    for path in day_files(directory, since, until):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                record = _record(line)
                if record is None:
                    bad += 1
                elif (since is None or record.ts >= since) and (until is None or record.ts < until):
                    records.append(record)
    return records, bad


def _record(line: str) -> ProfileRecord | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict) or row.get("rv") != RECORD_VERSION:
        return None
    visitor_id, ts, profile = row.get("visitor_id"), row.get("ts"), row.get("profile")
    if not isinstance(visitor_id, str) or not isinstance(ts, int | float) or not isinstance(profile, dict):
        return None
    return ProfileRecord(visitor_id, float(ts), profile)


def latest_profiles(records: list[ProfileRecord]) -> dict[str, dict]:
    """Each visitor's profile after all their writes in time order: the latest write's, with consent folded.

    Live, each write's consent is the stored consent updated by the body's keys (service.visitors), so
    the latest record's consent already holds every earlier key and folding changes nothing. Folding
    matters for a write accepted while Redis had lost the stored profile (before the rebuild restored
    it): that write merged with nothing, and would otherwise wipe an opt-out (consent keys are never
    removed, only set to false).
    """
    out: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: r.ts):  # stable: equal times keep the files' order
        earlier = out.get(record.visitor_id, {}).get("consent") or {}
        consent = record.profile.get("consent") or {}
        if set(earlier) <= set(consent):
            out[record.visitor_id] = record.profile  # as stored, byte for byte
        else:
            out[record.visitor_id] = {**record.profile, "consent": {**earlier, **consent}}
    return out

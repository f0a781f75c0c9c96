"""Retention: the journal's day files older than a number of days are deleted, or moved to an archive.

The event, decision and profile logs (`<data dir>/{events,decisions,profiles}/<day>[.<host>].jsonl`)
grow by a file per day and host. With `retention_days` > 0 a day file is removed once its whole UTC
day ended more than that many days ago; today's file never is, nor any file not named like a day
file. With `retention_archive_dir` it is moved to `<archive>/<log>/<name>` instead (a rename on the
same file system; else a copy, fsync, then delete), never over an archived file of the same name (a
late backfill can write an old day's file again: the second one becomes `<day>.<host>.2.jsonl`, a day
file the readers still read). One process at a time applies it (a non-blocking file lock beside the
logs): workers that run it at once do not both archive a file, and the one that finds the lock
taken skips. What is removed is gone from every later rebuild of Redis (docs/recovery.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from journal.event_log import DAY, day_of
from journal.writer import fsync_directory

log = logging.getLogger(__name__)

LOGS = ("events", "decisions", "profiles")
"""The data dir's sub-folders of day files that retention applies to (not the spool nor the catalog)."""
LOCK_NAME = ".retention.lock"
CHECK_EVERY_S = 3600.0


@dataclasses.dataclass
class RetentionReport:
    """What one application did: the files deleted and archived (their paths before), and why none."""

    deleted: list[Path] = dataclasses.field(default_factory=list)
    archived: list[tuple[Path, Path]] = dataclasses.field(default_factory=list)
    skipped: str = ""

    def format(self) -> str:
        if self.skipped:
            return f"retention: nothing done ({self.skipped})"
        count = len(self.deleted) + len(self.archived)
        files = f"{count} day file{'' if count == 1 else 's'}"
        lines = [f"retention: {files}: {len(self.deleted)} deleted, {len(self.archived)} archived"]
        lines += [f"  deleted  {path}" for path in self.deleted]
        lines += [f"  archived {path} -> {target}" for path, target in self.archived]
        return "\n".join(lines)


def apply_retention(
    data_dir: Path | str, days: float, archive_dir: Path | str = "", now: float | None = None
) -> RetentionReport:
    """Delete (or archive, with `archive_dir`) the day files of the logs under `data_dir` whose whole day
    ended more than `days` days before `now`. `days` <= 0 keeps everything."""
    data_dir = Path(data_dir)
    if days <= 0:
        return RetentionReport(skipped="retention_days is 0: every day file is kept")
    now = time.time() if now is None else now
    cutoff = min(now - days * DAY, _midnight(now))  # never today's file, whatever `days` is
    report = RetentionReport()
    with _exclusive(data_dir) as held:
        if not held:
            return RetentionReport(skipped="another process is applying retention")
        for name in LOGS:
            for path in _expired(data_dir / name, cutoff):
                if archive_dir:
                    target = _archive(path, Path(archive_dir) / name)
                    if target is not None:
                        report.archived.append((path, target))
                elif _unlink(path):
                    report.deleted.append(path)
    return report


class RetentionTask:
    """The upkeep task: applies retention at most once every `every_s` (a cheap no-op between)."""

    def __init__(
        self,
        data_dir: Path | str,
        days: float,
        archive_dir: Path | str = "",
        every_s: float = CHECK_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.data_dir, self.days, self.archive_dir = Path(data_dir), days, archive_dir
        self.every_s, self.clock = every_s, clock
        self.next_due = -float("inf")

    def __call__(self) -> RetentionReport | None:
        if self.clock() < self.next_due:
            return None
        self.next_due = self.clock() + self.every_s
        report = apply_retention(self.data_dir, self.days, self.archive_dir)
        if report.deleted or report.archived:
            log.info("%s", report.format().replace("\n", ";"))
        return report


def _midnight(ts: float) -> float:
    return dt.datetime.fromtimestamp(ts, dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _expired(directory: Path, cutoff: float) -> list[Path]:
    """Day files under `directory` (not below) whose day ended at or before `cutoff`, oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        day = day_of(path)
        if day is not None and day + DAY <= cutoff and path.is_file():
            found.append(path)
    return found


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _archive(path: Path, folder: Path) -> Path | None:
    """Move `path` into `folder` under a name no archived file has; None when it is already gone."""
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        target = folder / (path.name if attempt == 1 else f"{path.name[: -len('.jsonl')]}.{attempt}.jsonl")
        try:
            _move_no_overwrite(path, target)
        except FileExistsError:
            continue
        except FileNotFoundError:
            return None
        fsync_directory(folder)
        return target
    raise OSError(errno.EEXIST, f"999 archived copies of {path.name} in {folder}")


def _move_no_overwrite(path: Path, target: Path) -> None:
    """A hard link then an unlink: a rename that refuses to replace `target`. Across file systems: copy to a
    temporary file beside `target`, fsync it, link it into place, then delete `path`."""
    try:
        os.link(path, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(path, "rb") as source, open(temporary, "wb") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
            copy.flush()
            os.fsync(copy.fileno())
        try:
            os.link(temporary, target)
        finally:
            temporary.unlink()
    path.unlink()


@contextlib.contextmanager
def _exclusive(data_dir: Path):
    """Yields whether this process holds the data dir's retention lock (non-blocking)."""
    if not data_dir.is_dir():
        yield True  # no logs, nothing to race on
        return
    with open(data_dir / LOCK_NAME, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

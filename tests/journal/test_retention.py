"""Retention deletes (or archives) old day files of the journal, keeps today's and recent ones, and nothing else."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path

import pytest

from journal.event_log import read_daily_log
from journal.retention import LOCK_NAME, RetentionTask, apply_retention
from service.wiring import upkeep
from training.__main__ import main

NOW = dt.datetime(2026, 6, 15, 10, 30, tzinfo=dt.UTC).timestamp()
OLD = ["events/2026-05-01.web-1.jsonl", "events/2026-05-01.jsonl", "decisions/2026-05-10.web-2.jsonl"]
OLD += ["profiles/2026-01-01.web-1.jsonl"]
KEPT = ["events/2026-06-15.web-1.jsonl", "events/2026-06-14.web-1.jsonl", "decisions/2026-05-16.web-2.jsonl"]
ODD = ["events/notes.txt", "events/2026-13-45.jsonl", "events/2026-05-01.web-1.jsonl.bak", "spool/2026-01-01.jsonl"]
ODD += ["catalog/default/2026-01-01.jsonl", "events/nested/2026-01-01.jsonl"]


def write_logs(data_dir: Path) -> None:
    for name in OLD + KEPT + ODD:
        path = data_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = NOW - 86_400 * 400 if name in OLD else NOW
        path.write_text(f'{{"rv":1,"event_id":"{name}","visitor_id":"v","type":"page_view","ts":{stamp}}}\n')


def remaining(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file() and p.name != LOCK_NAME}


def test_old_day_files_are_deleted_today_and_recent_ones_kept(tmp_path):
    write_logs(tmp_path)
    report = apply_retention(tmp_path, days=30, now=NOW)
    assert sorted(report.deleted) == sorted(tmp_path / name for name in OLD)
    assert remaining(tmp_path) == set(KEPT + ODD)
    assert "4 day files: 4 deleted, 0 archived" in report.format()


def test_a_day_is_removed_only_once_it_ended_more_than_the_days_ago(tmp_path):
    write_logs(tmp_path)
    apply_retention(tmp_path, days=1, now=NOW)  # 2026-06-14 ends at 06-15 00:00, 10.5 h ago: kept
    assert {"events/2026-06-14.web-1.jsonl", "events/2026-06-15.web-1.jsonl"} <= remaining(tmp_path)
    assert "decisions/2026-05-16.web-2.jsonl" not in remaining(tmp_path)


@pytest.mark.parametrize("days", [0.01, 0.4])  # 10.5 h into the day: only today is left
def test_todays_file_is_never_touched(tmp_path, days):
    write_logs(tmp_path)
    apply_retention(tmp_path, days=days, now=NOW)
    assert remaining(tmp_path) == {"events/2026-06-15.web-1.jsonl", *ODD}


@pytest.mark.parametrize("days", [0, -3])
def test_zero_days_keeps_everything(tmp_path, days):
    write_logs(tmp_path)
    report = apply_retention(tmp_path, days=days, now=NOW)
    assert remaining(tmp_path) == set(OLD + KEPT + ODD) and not report.deleted
    assert "every day file is kept" in report.format()


def test_the_archive_keeps_the_log_folders_and_never_overwrites(tmp_path):
    data, archive = tmp_path / "var", tmp_path / "archive"
    write_logs(data)
    report = apply_retention(data, days=30, archive_dir=archive, now=NOW)
    assert remaining(archive) == set(OLD)
    assert remaining(data) == set(KEPT + ODD)
    assert sorted(report.archived) == sorted((data / name, archive / name) for name in OLD)
    assert not report.deleted
    # a late backfill writes an old day's file again: archived beside the first, and the readers read both
    late = (archive / "events/2026-05-01.web-1.jsonl").read_text().replace('"event_id":"', '"event_id":"late-')
    (data / "events/2026-05-01.web-1.jsonl").write_text(late)
    apply_retention(data, days=30, archive_dir=archive, now=NOW)
    assert "events/2026-05-01.web-1.2.jsonl" in remaining(archive)
    assert len(read_daily_log(archive / "events")) == 3


def test_a_second_process_finds_the_lock_taken_and_skips(tmp_path):
    write_logs(tmp_path)
    with open(tmp_path / LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        pid = os.fork()
        if pid == 0:  # another process: the lock is per open file, as between gunicorn workers
            os._exit(0 if apply_retention(tmp_path, days=30, now=NOW).skipped else 1)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert remaining(tmp_path) == set(OLD + KEPT + ODD)
    assert len(apply_retention(tmp_path, days=30, now=NOW).deleted) == len(OLD)


def test_the_upkeep_task_applies_retention_at_most_once_an_hour(tmp_path):
    now = [0.0]
    task = RetentionTask(tmp_path, days=30, clock=lambda: now[0])
    tasks = dict(upkeep(None, spool=None, store=None, retention=task))
    (tmp_path / "events").mkdir()
    old, today = tmp_path / "events" / "2020-01-01.web-1.jsonl", tmp_path / "events" / day_file_of_today()
    old.write_text("{}\n")
    today.write_text("{}\n")
    assert tasks["journal retention"]().deleted == [old]
    old.write_text("{}\n")
    now[0] = 3599.0
    assert tasks["journal retention"]() is None and old.exists()  # not due yet: nothing read
    now[0] = 3600.0
    assert tasks["journal retention"]().deleted == [old] and today.exists()


def day_file_of_today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d") + ".web-1.jsonl"


def test_no_retention_task_by_default():
    assert "journal retention" not in dict(upkeep(None, spool=None, store=None))


def test_the_command_applies_it_at_once(tmp_path, capsys):
    data, archive = tmp_path / "var", tmp_path / "archive"
    (data / "events").mkdir(parents=True)
    old = data / "events" / "2020-01-01.web-1.jsonl"
    old.write_text("{}\n")
    assert main(["retention", "--data-dir", str(data), "--days", "30", "--archive", str(archive)]) == 0
    printed = capsys.readouterr().out
    assert f"archived {old} -> {archive / 'events' / old.name}" in printed
    assert (archive / "events" / old.name).exists() and not old.exists()


def test_an_archive_on_another_file_system_is_copied_then_deleted(tmp_path, monkeypatch):
    import errno

    from journal import retention

    data, archive = tmp_path / "var", tmp_path / "archive"
    write_logs(data)
    contents = {name: (data / name).read_bytes() for name in OLD}
    real_link = os.link

    def link_across_devices(source, target):
        if Path(source).parent.parent == data:  # a day file itself: another device
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(source, target)

    monkeypatch.setattr(retention.os, "link", link_across_devices)
    apply_retention(data, days=30, archive_dir=archive, now=NOW)
    assert {name: (archive / name).read_bytes() for name in OLD} == contents
    assert remaining(archive) == set(OLD) and remaining(data) == set(KEPT + ODD)  # no temporary left

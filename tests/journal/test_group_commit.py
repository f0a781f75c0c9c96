"""Group commit (journal/group_commit.py): real files, real threads, real fsyncs.

Events: concurrent appends share one write and fsync, each on disk before it returns. Decisions: a
background thread writes them every interval; close() writes the rest; a refusing disk keeps them and
refuses the next decisions (503) until a write succeeds."""

import dataclasses
import datetime as dt
import fcntl
import json
import os
import threading
import time

import pytest

from journal.event_log import read_daily_log
from journal.group_commit import BackgroundCommit, SharedCommit
from journal.writer import DailyLog
from models.errors import DiskUnavailable
from models.events import parse_event
from service import create_app
from tests.polling import wait_for

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def event(thread: int, n: int, minutes: int = 0) -> dict:
    raw = {"event_id": f"t{thread}-{n}", "visitor_id": f"v{thread}", "type": "product_view", "item_id": f"i{n}"}
    return parse_event({**raw, "timestamp": (T0 + dt.timedelta(minutes=minutes)).isoformat()})


def lines_of(directory) -> list[dict]:
    """Every line of every day file, each parsed: a torn or interleaved line fails here."""
    return [json.loads(line) for path in sorted(directory.glob("*.jsonl")) for line in path.read_text().splitlines()]


def run_threads(count: int, work) -> None:
    threads = [threading.Thread(target=work, args=(t,)) for t in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_many_threads_each_find_their_events_on_disk_when_the_call_returns(tmp_path):
    commit = SharedCommit(DailyLog(tmp_path, host="one"))
    missing: list[str] = []

    def work(thread: int) -> None:
        for n in range(40):
            batch = [event(thread, n), event(thread, n + 1000, minutes=24 * 60)]  # two day files per call
            commit.append(batch)
            on_disk = {json.loads(line)["event_id"] for path in tmp_path.glob("*.jsonl") for line in path.open()}
            missing.extend(e["event_id"] for e in batch if e["event_id"] not in on_disk)

    run_threads(16, work)
    assert missing == []
    records = lines_of(tmp_path)
    assert len(records) == 16 * 40 * 2 and len({r["event_id"] for r in records}) == len(records)
    events = read_daily_log(tmp_path)
    assert len(events) == len(records) and events.attrs["bad_lines"] == 0
    assert commit.appends == 16 * 40 and 1 <= commit.flushes <= commit.appends
    print(f"\n{commit.appends} appends, {commit.flushes} group writes (one fsync per file each)")


def test_callers_that_wait_together_share_one_write_and_fsync(tmp_path):
    """Compaction's exclusive lock holds the first writers; everyone who queues meanwhile goes in one group."""
    commit = SharedCommit(DailyLog(tmp_path, host="one"))
    path = commit.path_for(T0.timestamp())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        threads = [threading.Thread(target=commit.append, args=([event(t, 0)],)) for t in range(12)]
        for thread in threads:
            thread.start()

        def all_queued():
            """every caller is waiting on the group commit"""
            return commit.appends == 12

        wait_for(all_queued)
        assert lines_of(tmp_path) == []
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    for thread in threads:
        thread.join()
    assert sorted(r["event_id"] for r in lines_of(tmp_path)) == sorted(f"t{t}-0" for t in range(12))
    # the first max_in_flight callers each lead a group of one (and wait on the lock), the rest make one group
    assert commit.flushes == commit.max_in_flight + 1 < commit.appends


def test_one_caller_writes_as_daily_log_does(tmp_path):
    shared, plain = tmp_path / "shared", tmp_path / "plain"
    commit = SharedCommit(DailyLog(shared, host="one"))
    records = [event(0, n, minutes=n * 60) for n in range(30)]  # two days
    commit.append(records[:10])
    commit.append(records[10:])
    DailyLog(plain, host="one").append(records[:10])
    DailyLog(plain, host="one").append(records[10:])
    assert commit.flushes == 2
    for path in plain.glob("*.jsonl"):
        assert (shared / path.name).read_bytes() == path.read_bytes()


def test_a_refused_group_is_a_503_for_every_caller_of_it(tmp_path):
    commit = SharedCommit(DailyLog(tmp_path, host="one"))
    os.symlink("/dev/full", commit.path_for(T0.timestamp()))
    with pytest.raises(DiskUnavailable, match=r"cannot write the event log \(No space left on device\)"):
        commit.append_or_refuse([event(0, 0)], "event log", "nothing was accepted")


def test_the_torn_tail_is_still_ended_before_the_first_group(tmp_path):
    commit = SharedCommit(DailyLog(tmp_path, host="one"))
    commit.path_for(T0.timestamp()).write_bytes(b'{"event_id":"torn","visi')
    commit.append([event(0, 1)])
    assert commit.path_for(T0.timestamp()).read_bytes().split(b"\n")[1].startswith(b'{"rv":1,"event_id":"t0-1"')


def decision(n: int) -> dict:
    return {"decision_id": f"d{n}", "visitor_id": f"v{n}", "ts": T0.timestamp() + n, "items": []}


def test_the_background_writer_writes_within_its_interval_and_close_writes_the_rest(tmp_path):
    quick = BackgroundCommit(DailyLog(tmp_path / "quick", host="one"), interval_s=0.005)
    for n in range(50):
        quick.append_or_refuse([decision(n)], "decision log", "not served")

    def all_written():
        """the thread wrote all 50 without close(), and counted its flushes"""
        return len(lines_of(tmp_path / "quick")) == 50 and quick.pending == 0 and quick.flushes >= 1

    wait_for(all_written)
    assert quick.flushes <= 50

    slow = BackgroundCommit(DailyLog(tmp_path / "slow", host="one"), interval_s=3600)
    for n in range(50):
        slow.append_or_refuse([decision(n)], "decision log", "not served")
    assert lines_of(tmp_path / "slow") == [] and slow.pending == 50
    slow.close()
    assert [r["decision_id"] for r in lines_of(tmp_path / "slow")] == [f"d{n}" for n in range(50)]
    slow.append_or_refuse([decision(50)], "decision log", "not served")  # after close: written at once
    assert len(lines_of(tmp_path / "slow")) == 51


def test_a_full_queue_makes_the_caller_write_it(tmp_path):
    writer = BackgroundCommit(DailyLog(tmp_path, host="one"), interval_s=3600, max_pending=10)
    for n in range(35):
        writer.append_or_refuse([decision(n)], "decision log", "not served")
        assert writer.pending <= 10
    assert writer.flushes == 3 and len(lines_of(tmp_path)) == 30
    writer.close()
    assert [r["decision_id"] for r in lines_of(tmp_path)] == [f"d{n}" for n in range(35)]


def test_a_refusing_disk_keeps_the_records_and_refuses_decisions_until_a_write_succeeds(tmp_path):
    writer = BackgroundCommit(DailyLog(tmp_path, host="one"), interval_s=3600)
    day_file = writer.path_for(T0.timestamp())
    os.symlink("/dev/full", day_file)
    writer.append_or_refuse([decision(0)], "decision log", "not served")  # queued: the disk is not asked yet
    with pytest.raises(OSError):
        writer.flush()
    with pytest.raises(DiskUnavailable, match=r"cannot write the decision log \(No space left on device\)"):
        writer.append_or_refuse([decision(1)], "decision log", "not served")
    assert writer.pending == 1
    day_file.unlink()  # writable again
    writer.flush()
    writer.append_or_refuse([decision(2)], "decision log", "not served")
    writer.close()
    assert [r["decision_id"] for r in lines_of(tmp_path)] == ["d0", "d2"]


def test_a_write_cut_short_keeps_only_the_lines_the_file_did_not_take(tmp_path):
    """A file size limit (RLIMIT_FSIZE) stops the write part way through a line: the lines before it
    count as written, the rest are written once the limit is lifted, after a newline ends the torn one."""
    import resource
    import signal

    writer = BackgroundCommit(DailyLog(tmp_path, host="one"), interval_s=3600)
    for n in range(20):
        writer.append_or_refuse([decision(n)], "decision log", "not served")
    line = len(json.dumps({"rv": 1, **decision(0)}, separators=(",", ":"))) + 1
    limit = line * 7 + line // 2
    old_limit, old_handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old_limit[1]))
    try:
        with pytest.raises(OSError):
            writer.flush()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert writer.pending == 13
    writer.close()
    raw = writer.path_for(T0.timestamp()).read_text().splitlines()
    ids = []
    for text in raw:
        try:
            ids.append(json.loads(text)["decision_id"])
        except json.JSONDecodeError:
            ids.append("torn")
    assert ids == [f"d{n}" for n in range(7)] + ["torn"] + [f"d{n}" for n in range(7, 20)]


def test_a_decision_after_the_log_failed_answers_503_and_none_served_is_lost(settings):
    app = create_app(dataclasses.replace(settings, decision_log_flush_ms=5))
    client = app.test_client()
    writer = app.extensions["wayfinder"].engine.decision_log
    assert isinstance(writer, BackgroundCommit)
    day_file = writer.path_for(time.time())
    os.symlink("/dev/full", day_file)
    body = {"visitor_id": "v1", "placement": "home_hero"}
    served = []

    def refused():
        """a decision answers 503 once the background write failed"""
        answer = client.post("/v1/decisions", json=body)
        if answer.status_code == 200:
            served.append(answer.get_json()["decision_id"])
            return False
        assert answer.status_code == 503
        return answer.get_json()["message"].startswith("cannot write the decision log (No space left on device)")

    wait_for(refused)
    assert served and writer.pending >= len(served)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "decision log cannot be written" in ready.get_json()["checks"]["not_ready_because"][0]
    day_file.unlink()

    def served_again():
        """the retry wrote the kept decisions, and decisions are served again"""
        answer = client.post("/v1/decisions", json=body)
        if answer.status_code == 200:
            served.append(answer.get_json()["decision_id"])
        return answer.status_code == 200

    wait_for(served_again)
    writer.close()
    assert sorted(r["decision_id"] for r in lines_of(settings.data_dir / "decisions")) == sorted(served)


def test_lines_are_what_json_dumps_wrote_and_the_readers_read_them(tmp_path):
    """orjson (journal.writer.encode_line): the same bytes as json.dumps for ASCII records, numpy floats as
    numbers; UTF-8 text as is, which the line-by-line readers and Arrow's reader both read back."""
    import numpy as np

    from journal.event_log import rows_of_lines
    from journal.writer import encode_line

    plain = {"rv": 1, "event_id": "e1", "ts": 1.5, "value": np.float64(0.1), "tags": ("a", 2), "n": None}
    assert encode_line(plain) == (json.dumps(plain, separators=(",", ":"), default=str) + "\n").encode()
    assert encode_line({"big": 2**70}) == b'{"big":1180591620717411303424}\n'  # past orjson: json.dumps
    accented = {**event(0, 0), "properties": {"title": "Fahrzeug für Kunden ✓"}}
    SharedCommit(DailyLog(tmp_path, host="one")).append([accented])
    assert "für Kunden ✓".encode() in next(tmp_path.glob("*.jsonl")).read_bytes()
    rows, bad = rows_of_lines(next(tmp_path.glob("*.jsonl")), lambda record: record["properties"]["title"])
    assert rows == ["Fahrzeug für Kunden ✓"] and bad == 0
    assert len(read_daily_log(tmp_path)) == 1

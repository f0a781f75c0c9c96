"""Compaction blanks erased ids' lines, keeps every other byte where it was, loses no racing append,
leaves a tail's offsets right, and runs from the command line while the service writes."""

import json
import subprocess
import sys
import threading
from pathlib import Path

from journal.compact import blank_lines, compact, ids_in_line
from journal.erasures import Erasures
from journal.event_log import read_daily_log
from journal.tail import EventTail
from journal.writer import DailyLog

DAY0 = 1_767_225_600.0  # 2026-01-01T00:00Z
ROOT = Path(__file__).resolve().parents[2]


def event(n, visitor, user=None, **extra) -> dict:
    return {"event_id": f"e{n}", "visitor_id": visitor, "user_id": user, "type": "page_view", "ts": DAY0 + n, **extra}


def test_ids_are_found_at_any_depth_and_in_torn_lines():
    nested = json.dumps({"visitor_id": "v1", "context": {"visitor_id": "u\u00e9", "user_id": "u2"}}).encode()
    assert ids_in_line(nested) == ["v1", "u\u00e9", "u2"]
    assert ids_in_line(b'{"event_id":"x","user_id":"u3","visitor_id":"v') == ["u3"]


def test_erased_lines_are_blanked_and_every_other_byte_stays(tmp_path):
    log = DailyLog(tmp_path / "events", fsync=False)
    log.append([event(1, "v-keep"), event(2, "v-gone"), event(3, "v-keep", "u-gone"), event(4, "v-keep")])
    decisions = DailyLog(tmp_path / "decisions", fsync=False)
    decisions.append([{"decision_id": "d1", "visitor_id": "v-x", "ts": DAY0, "context": {"user_id": "u-gone"}}])
    spool = tmp_path / "spool" / "pending.jsonl"
    spool.parent.mkdir()
    spool.write_text(json.dumps(event(5, "v-gone")) + "\n" + json.dumps(event(6, "v-keep")) + "\n")
    path = log.path_for(DAY0)
    path.write_bytes(path.read_bytes() + b'{"event_id":"torn","visitor_id":"v-gone","ty')  # a crash mid-write
    before = path.read_bytes()
    erasures = Erasures(tmp_path)
    erasures.record(["v-gone", "u-gone"], by="admin", at=DAY0)

    report = compact(tmp_path, erasures)

    after = path.read_bytes()
    assert len(after) == len(before)
    kept = [line for line in after.split(b"\n") if line.strip()]
    assert [json.loads(line)["event_id"] for line in kept] == ["e1", "e4"]
    assert kept == [line for line in before.split(b"\n") if b"v-keep" in line and b"u-gone" not in line]
    assert [before.index(line) for line in kept] == [after.index(line) for line in kept]
    assert report.rewritten == {"events/2026-01-01.jsonl": 3, "decisions/2026-01-01.jsonl": 1, "spool/pending.jsonl": 1}
    for file in tmp_path.rglob("*.jsonl"):
        assert b"v-gone" not in file.read_bytes() and b"u-gone" not in file.read_bytes()
    assert list(read_daily_log(tmp_path / "events")["event_id"]) == ["e1", "e4"]
    assert erasures.pending() == []
    assert compact(tmp_path, erasures).lines_dropped == 0  # nothing left to do


def test_appends_racing_with_compaction_are_all_kept(tmp_path):
    erasures = Erasures(tmp_path)
    erasures.record(["v-gone"], by="admin", at=DAY0)
    log = DailyLog(tmp_path / "events", fsync=False)
    log.append([event(n, "v-gone") for n in range(200)])
    stop = threading.Event()
    written: list[list[str]] = [[] for _ in range(3)]

    def writer(k: int):
        n = 0
        while not stop.is_set() or n < 300:
            batch = [event(10_000 * (k + 1) + n + i, f"v{k}") for i in range(3)] + [event(-n - 1, "v-gone")]
            DailyLog(tmp_path / "events", fsync=False).append(batch)
            written[k].extend(e["event_id"] for e in batch[:3])
            n += 3

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    dropped = sum(compact(tmp_path, erasures).lines_dropped for _ in range(10))
    stop.set()
    for thread in threads:
        thread.join()
    compact(tmp_path, erasures)

    data = log.path_for(DAY0).read_bytes()
    ids = [json.loads(line)["event_id"] for line in data.split(b"\n") if line.strip()]
    assert sorted(ids) == sorted(i for k in written for i in k)  # every line appended meanwhile, whole
    assert b"v-gone" not in data and dropped >= 200


def test_a_tail_reads_on_across_a_compaction_each_record_once(tmp_path):
    log = DailyLog(tmp_path / "events", fsync=False)
    log.append([event(1, "v1"), event(2, "v-gone"), event(3, "v1")])
    tail = EventTail(tmp_path / "events", since=DAY0)
    assert [r["event_id"] for r in tail.read(1 << 20)] == ["e1", "e2", "e3"]
    log.append([event(4, "v-gone"), event(5, "v1")])  # appended, not yet read by the tail
    erasures = Erasures(tmp_path)
    erasures.record(["v-gone"], by="admin", at=DAY0)
    compact(tmp_path, erasures)
    log.append([event(6, "v1")])
    assert [r["event_id"] for r in tail.read(1 << 20)] == ["e5", "e6"]
    assert tail.bad_lines == 0


def test_blank_lines_of_a_missing_file_is_nothing(tmp_path):
    assert blank_lines(tmp_path / "gone.jsonl", lambda line: True) == 0


def test_the_command_compacts_now_and_says_what_it_dropped(tmp_path):
    data_dir = tmp_path / "var"
    DailyLog(data_dir / "events", fsync=False).append([event(1, "v1"), event(2, "v-gone")])
    Erasures(data_dir).record(["v-gone"], by="admin", at=DAY0)
    run = subprocess.run(
        [sys.executable, "-m", "training", "compact", "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "events/2026-01-01.jsonl: 1 lines dropped" in run.stdout
    assert "1 lines of erased ids dropped from 1 of 1 files; 1 erasures compacted" in run.stdout
    assert b"v-gone" not in (data_dir / "events" / "2026-01-01.jsonl").read_bytes()


def test_a_spool_half_drained_resumes_at_its_offset_after_a_compaction(tmp_path):
    from service.spool import Spool

    spool = Spool(tmp_path / "spool")
    spool.add([event(n, "v-gone" if n % 2 else "v-keep") for n in range(10)])
    applied: list[str] = []

    def apply_then_fail(events):
        if applied:
            raise ConnectionError("Redis went away again")
        applied.extend(e["event_id"] for e in events)

    try:
        spool.drain(apply_then_fail, batch=4)
    except ConnectionError:
        pass
    assert applied == ["e0", "e1", "e2", "e3"] and spool.draining_path.exists()
    erasures = Erasures(tmp_path)
    erasures.record(["v-gone"], by="admin", at=DAY0)
    assert compact(tmp_path, erasures).rewritten == {"spool/draining.jsonl": 5}
    spool.drain(lambda events: applied.extend(e["event_id"] for e in events), batch=4)
    assert applied == ["e0", "e1", "e2", "e3", "e4", "e6", "e8"]  # the rest, once: the offset still fits

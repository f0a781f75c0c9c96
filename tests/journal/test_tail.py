"""Following the event journal: each record once, every host's files, a torn tail waits then counts as bad."""

import datetime as dt

from journal.tail import EventTail
from journal.writer import DailyLog
from models.events import parse_event

T0 = dt.datetime(2026, 3, 1, 23, tzinfo=dt.UTC)


def canonical(n: int, minutes: int) -> dict:
    raw = {"event_id": f"e{n}", "visitor_id": f"v{n}", "type": "product_view", "item_id": f"i{n}"}
    return parse_event({**raw, "timestamp": (T0 + dt.timedelta(minutes=minutes)).isoformat()})


def ids(records) -> list[str]:
    return [r["event_id"] for r in records]


def test_each_record_is_read_once_across_hosts_and_days(tmp_path):
    one, two = DailyLog(tmp_path, fsync=False, host="one"), DailyLog(tmp_path, fsync=False, host="two")
    tail = EventTail(tmp_path, since=T0.timestamp())
    one.append([canonical(1, 0), canonical(2, 30)])  # 23:00, and 23:30 the same day
    assert ids(tail.read(1 << 20)) == ["e1", "e2"]
    assert tail.read(1 << 20) == []
    two.append([canonical(3, 90)])  # the next day, another host
    one.append([canonical(4, 91)])
    assert sorted(ids(tail.read(1 << 20))) == ["e3", "e4"]
    assert len(tail.offsets) == 3


def test_a_small_budget_spreads_the_reading_over_calls(tmp_path):
    log = DailyLog(tmp_path, fsync=False, host="one")
    log.append([canonical(n, n) for n in range(10)])
    tail = EventTail(tmp_path, since=T0.timestamp())
    seen = []
    for _ in range(30):
        seen += ids(tail.read(50))  # shorter than one line: one line a call
    assert seen == [f"e{n}" for n in range(10)]


def test_a_torn_tail_waits_for_its_line_then_counts_as_bad(tmp_path):
    log = DailyLog(tmp_path, fsync=False, host="one")
    log.append([canonical(1, 0)])
    path = log.path_for(canonical(1, 0)["ts"])
    with open(path, "ab") as handle:
        handle.write(b'{"event_id": "torn", "visitor_id": "v')  # a crash mid-write
    tail = EventTail(tmp_path, since=T0.timestamp())
    assert ids(tail.read(1 << 20)) == ["e1"] and tail.bad_lines == 0
    DailyLog(tmp_path, fsync=False, host="one").append([canonical(2, 1)])  # a new writer starts a fresh line
    assert ids(tail.read(1 << 20)) == ["e2"] and tail.bad_lines == 1


def test_days_before_since_are_not_read(tmp_path):
    DailyLog(tmp_path, fsync=False, host="one").append([canonical(1, -24 * 60), canonical(2, 0)])
    assert ids(EventTail(tmp_path, since=T0.timestamp()).read(1 << 20)) == ["e2"]

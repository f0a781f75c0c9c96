"""The journal's contract: what the writer writes, the readers read back identically, across two hosts'
files, old unversioned files and a torn tail left by a crash in between."""

import datetime as dt
import json

import pandas as pd
import pytest

from journal.decision_log import read_decision_log, read_shown_items
from journal.event_log import EVENT_COLUMNS, day_files, read_daily_log
from journal.records import RECORD_VERSION, record_version
from journal.writer import DailyLog, host_name
from models.events import parse_event

T0 = dt.datetime(2026, 3, 1, 23, tzinfo=dt.UTC)


def canonical(n: int, minutes: int, **fields) -> dict:
    """An event as the API accepts it (models.events.parse_event): what the service logs."""
    raw = {"event_id": f"e{n}", "visitor_id": f"v{n % 3}", "type": "page_view", "channel": "web", **fields}
    raw["timestamp"] = (T0 + dt.timedelta(minutes=minutes)).isoformat()
    return parse_event(raw)


def decision(n: int, minutes: int, items=("a", "b")) -> dict:
    ts = (T0 + dt.timedelta(minutes=minutes)).timestamp()
    return {
        "decision_id": f"d{n}",
        "visitor_id": f"v{n % 3}",
        "user_id": "u1" if n % 2 else None,
        "placement": "home_hero",
        "stage": "awareness",
        "policy": "model",
        "model_version": "20260301-000000",
        "ts": ts,
        "channel": "web",
        "items": [{"item_id": item, "position": p, "propensity": 0.5} for p, item in enumerate(items)],
        "candidates": ["a", "b", "c"],
        "reward": ["click"],
        "context": {"stage": "awareness"},
        "profile": {"interests": ["suv"]},
    }


def tear(directory):
    """What a crash mid-write leaves: half a record, no newline, at the end of the latest file."""
    latest = sorted(day_files(directory))[-1]
    with open(latest, "a") as handle:
        handle.write('{"rv":1,"event_id":"torn","visitor_id":"v')


def test_events_read_back_as_written_across_hosts_and_a_torn_tail(tmp_path):
    # hour 23: both hosts write on 2026-03-01; from minute 60 on, 2026-03-02
    old = [canonical(0, 0)]
    legacy = tmp_path / "events" / "2026-03-01.jsonl"  # a file from before host names and versions
    legacy.parent.mkdir()
    legacy.write_text(json.dumps(old[0]) + "\n")
    first = [canonical(n, n * 7, item_id=f"i{n}", value=float(n)) for n in range(1, 12, 2)]
    second = [canonical(n, n * 7, user_id="u1", decision_id=f"d{n}") for n in range(2, 12, 2)]
    DailyLog(tmp_path / "events", host="api-1").append(first[:3])
    DailyLog(tmp_path / "events", host="api 2/eu").append(second[:3])
    tear(tmp_path / "events")
    # a fresh process on each host after the crash
    DailyLog(tmp_path / "events", host="api-1").append(first[3:])
    DailyLog(tmp_path / "events", host="api 2/eu").append(second[3:])

    names = sorted(p.name for p in day_files(tmp_path / "events"))
    assert names == [
        "2026-03-01.api-1.jsonl",
        "2026-03-01.api-2-eu.jsonl",
        "2026-03-01.jsonl",
        "2026-03-02.api-1.jsonl",
        "2026-03-02.api-2-eu.jsonl",
    ]
    events = read_daily_log(tmp_path / "events")
    assert events.attrs["bad_lines"] == 1
    written = pd.DataFrame([{c: e.get(c) for c in EVENT_COLUMNS} for e in old + first + second])
    written = written.sort_values("ts").reset_index(drop=True)
    pd.testing.assert_frame_equal(events, written, check_dtype=False)


def test_decisions_read_back_as_written_across_hosts_and_a_torn_tail(tmp_path):
    directory = tmp_path / "decisions"
    records = [decision(n, n * 13) for n in range(8)]
    DailyLog(directory, host="api-1").append(records[0:3])
    DailyLog(directory, host="api-2").append(records[3:5])
    tear(directory)
    DailyLog(directory, host="api-2").append(records[5:])

    log = read_decision_log(directory)
    assert log.bad_lines == 1
    assert list(log.decisions["decision_id"]) == [r["decision_id"] for r in records]
    assert [u if isinstance(u, str) else None for u in log.decisions["user_id"]] == [r["user_id"] for r in records]
    assert log.decisions["ts"].tolist() == [r["ts"] for r in records]
    assert log.placement_rewards == {"home_hero": ("click",)}
    shown = read_shown_items(day_files(directory))
    assert shown.attrs["bad_lines"] == 1
    expected = [(r["decision_id"], i["item_id"], i["position"], i["propensity"]) for r in records for i in r["items"]]
    rows = zip(shown["decision_id"], shown["item_id"], shown["position"], shown["propensity"])
    assert list(rows) == expected
    assert shown["candidates"].iloc[0] == ("a", "b", "c") and shown["profile"].iloc[0] == {"interests": ["suv"]}


def test_the_writer_versions_records_and_the_reader_takes_unversioned_ones(tmp_path):
    log = DailyLog(tmp_path, host="h")
    log.append([canonical(1, 0)])
    line = json.loads((tmp_path / "2026-03-01.h.jsonl").read_text())
    assert record_version(line) == RECORD_VERSION == 1
    assert record_version(canonical(2, 0)) == 0


def test_a_torn_tail_is_followed_by_a_fresh_line_once_per_file(tmp_path):
    path = tmp_path / "2026-03-01.h.jsonl"
    path.write_text('{"event_id":"ok"}\n{"event_id":"to')
    log = DailyLog(tmp_path, host="h", fsync=False)
    log.append([canonical(1, 0)])
    log.append([canonical(2, 1)])
    lines = path.read_text().split("\n")
    assert lines[1] == '{"event_id":"to' and [json.loads(x)["event_id"] for x in lines[2:4]] == ["e1", "e2"]
    assert lines[4:] == [""]


@pytest.mark.parametrize(
    ("configured", "expected"),
    [("api-1", "api-1"), ("api 2/eu", "api-2-eu"), ("..", "host"), ("db.example.com", "db.example.com")],
)
def test_host_names_are_safe_in_a_file_name(configured, expected):
    assert host_name(configured) == expected


def test_an_empty_host_setting_means_this_machine(tmp_path):
    import socket

    assert DailyLog(tmp_path, host="").host == host_name(socket.gethostname())

"""The journal's readers skip and count a bad line wherever it is, and read every host's day files."""

import json

import pytest

from journal.decision_log import read_decision_log, read_shown_items
from journal.event_log import day_files, is_journal, read_daily_log
from journal.identity import read_identity_log
from journal.profile_log import LatestProfiles
from journal.tail import EventTail

DAY0 = 1_767_225_600.0  # 2026-01-01T00:00Z


def event(n, ts, **extra):
    return json.dumps({"event_id": f"e{n}", "visitor_id": "v", "type": "page_view", "ts": ts, **extra})


def test_bad_lines_anywhere_are_skipped_and_counted(tmp_path):
    lines = [
        event(1, DAY0 + 1),
        '{"event_id": "torn", "visi',  # a write cut short, then the writer went on
        event(2, DAY0 + 2, ts_note="x"),
        json.dumps({"event_id": "e3", "type": "page_view", "ts": DAY0 + 3}),  # no visitor
        event(4, "yesterday"),  # a time that is not a number
        "[1, 2]",  # JSON, not a record
        event(5, DAY0 + 5),
    ]
    (tmp_path / "2026-01-01.jsonl").write_text("\n".join(lines) + "\n" + '{"event_id": "tail')
    events = read_daily_log(tmp_path)
    assert list(events["event_id"]) == ["e1", "e2", "e5"]
    assert events.attrs["bad_lines"] == 5


def test_every_hosts_day_files_are_read_and_merged_in_time_order(tmp_path):
    (tmp_path / "2026-01-01.jsonl").write_text(event(1, DAY0 + 1) + "\n" + event(4, DAY0 + 4) + "\n")
    (tmp_path / "2026-01-01.api-2.jsonl").write_text(event(2, DAY0 + 2) + "\n" + event(5, DAY0 + 5) + "\n")
    (tmp_path / "2026-01-01.api_1.example.jsonl").write_text(event(3, DAY0 + 3) + "\n")
    (tmp_path / "notes.jsonl").write_text(event(9, DAY0 + 9) + "\n")  # not a day file: not ours
    assert [p.name for p in day_files(tmp_path)] == [
        "2026-01-01.api-2.jsonl",
        "2026-01-01.api_1.example.jsonl",
        "2026-01-01.jsonl",
    ]
    assert list(read_daily_log(tmp_path)["event_id"]) == ["e1", "e2", "e3", "e4", "e5"]


def test_a_journal_is_a_folder_of_day_files_only(tmp_path):
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / "2026-01-01.host.jsonl").write_text(event(1, DAY0) + "\n")
    (tmp_path / "imported").mkdir()
    (tmp_path / "imported" / "2026-01-01.jsonl").write_text(event(1, DAY0) + "\n")
    (tmp_path / "imported" / "part-0.jsonl").write_text(event(2, DAY0) + "\n")
    assert is_journal(tmp_path / "journal")
    assert not is_journal(tmp_path / "imported") and not is_journal(tmp_path / "journal" / "2026-01-01.host.jsonl")


def test_shown_items_skip_and_count_bad_decision_lines(tmp_path):
    record = {"decision_id": "d1", "visitor_id": "v", "ts": DAY0, "placement": "home", "items": [{"item_id": "a"}]}
    lines = [json.dumps(record), '{"decision_id": "d2", "items": [', json.dumps({**record, "ts": "soon"})]
    (tmp_path / "2026-01-01.jsonl").write_text("\n".join(lines) + "\n" + '{"decision_id": "d3"')
    shown = read_shown_items([tmp_path / "2026-01-01.jsonl"])
    assert list(shown["decision_id"]) == ["d1"] and shown["position"].tolist() == [0]
    assert shown.attrs["bad_lines"] == 3


def test_a_torn_tail_alone_costs_one_line(tmp_path):
    (tmp_path / "2026-01-01.a.jsonl").write_text(event(1, DAY0 + 1) + "\n" + event(2, DAY0 + 2) + "\n" + '{"ev')
    (tmp_path / "2026-01-01.b.jsonl").write_text('{"event_id": "e3", "visi')  # the crash hit the first write
    events = read_daily_log(tmp_path)
    assert list(events["event_id"]) == ["e1", "e2"] and events.attrs["bad_lines"] == 2


SURROGATE = "c\ud800"
"""A lone surrogate: valid JSON as the escape json.dumps writes (\\ud800), but not text: it cannot be encoded."""


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(event(2, DAY0 + 2, channel=SURROGATE), id="surrogate channel"),
        pytest.param(event(2, DAY0 + 2, properties={"note": SURROGATE}), id="surrogate in properties"),
        pytest.param(event(2, DAY0 + 2, item_id="a\u0001b"), id="control char in item_id"),
        pytest.param(
            json.dumps({"event_id": "e2", "visitor_id": "v\u0007", "type": "page_view", "ts": DAY0}),
            id="control char in visitor_id",
        ),
        pytest.param(event(2, DAY0 + 2).replace('"v"', '"v\\udfff"'), id="surrogate visitor_id"),
    ],
)
def test_a_line_whose_text_the_api_refuses_is_skipped_and_counted(tmp_path, bad):
    lines = [event(1, DAY0 + 1), bad, event(3, DAY0 + 3)]
    (tmp_path / "2026-01-01.jsonl").write_text("\n".join(lines) + "\n")
    events = read_daily_log(tmp_path)
    assert list(events["event_id"]) == ["e1", "e3"] and events.attrs["bad_lines"] == 1
    events.to_json()  # the strings kept encode again
    tail = EventTail(tmp_path, since=0)
    assert [row["event_id"] for row in tail.read(1 << 20)] == ["e1", "e3"] and tail.bad_lines == 1


def test_bytes_that_are_not_utf8_and_a_torn_line_cost_one_line_each(tmp_path):
    good = [event(1, DAY0 + 1).encode(), event(3, DAY0 + 3).encode()]
    data = good[0] + b"\n" + event(2, DAY0 + 2, channel="web").replace('"web"', '"w\xff"').encode("latin-1")
    (tmp_path / "2026-01-01.jsonl").write_bytes(data + b"\n" + b'{"event_id": "torn", "vi\n' + good[1] + b"\n")
    events = read_daily_log(tmp_path)
    assert list(events["event_id"]) == ["e1", "e3"] and events.attrs["bad_lines"] == 2


def decision(n, **extra):
    record = {
        "decision_id": f"d{n}",
        "visitor_id": "v",
        "ts": DAY0 + n,
        "placement": "home",
        "items": [{"item_id": "a"}],
    }
    return json.dumps({**record, **extra})


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(decision(2, channel=SURROGATE), id="surrogate channel"),
        pytest.param(decision(2, items=[{"item_id": SURROGATE}]), id="surrogate item"),
        pytest.param(decision(2, profile={"tier": SURROGATE}), id="surrogate in the profile"),
        pytest.param(decision(2, visitor_id="v\u001f"), id="control char in visitor_id"),
        pytest.param(decision(2, items=[{"item_id": "a"}, {"item_id": "b\u0000"}]), id="control char in an item"),
    ],
)
def test_decision_readers_skip_and_count_a_line_of_refused_text(tmp_path, bad):
    (tmp_path / "2026-01-01.jsonl").write_text("\n".join([decision(1), bad, decision(3)]) + "\n")
    log = read_decision_log(tmp_path)
    assert list(log.decisions["decision_id"]) == ["d1", "d3"] and log.bad_lines == 1
    assert list(log.impressions["decision_id"]) == ["d1", "d3"]
    shown = read_shown_items([tmp_path / "2026-01-01.jsonl"])
    assert list(shown["decision_id"]) == ["d1", "d3"] and shown.attrs["bad_lines"] == 1


def test_profile_and_identity_readers_skip_a_line_of_refused_text(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    rows = [
        {"rv": 1, "visitor_id": "a", "ts": DAY0, "profile": {"attributes": {"tier": "gold"}}},
        {"rv": 1, "visitor_id": "b", "ts": DAY0, "profile": {"attributes": {"tier": SURROGATE}}},
        {"rv": 1, "visitor_id": "c\u0002", "ts": DAY0, "profile": {"attributes": {}}},
    ]
    (profiles / "2026-01-01.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    latest = LatestProfiles().read(profiles)
    assert latest.visitors() == ["a"] and latest.bad_lines == 2
    identities = tmp_path / "identities"
    identities.mkdir()
    links = [
        {"ts": DAY0, "action": "link", "visitor_id": "v1", "user_id": "u1"},
        {"ts": DAY0 + 1, "action": "link", "visitor_id": "v2", "user_id": SURROGATE},
        {"ts": DAY0 + 2, "action": "link", "visitor_id": "v3\u0003", "user_id": "u1"},
    ]
    (identities / "2026-01-01.jsonl").write_text("".join(json.dumps(row) + "\n" for row in links))
    assert list(read_identity_log(tmp_path)["visitor_id"]) == ["v1"]

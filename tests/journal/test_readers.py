"""The journal's readers skip and count a bad line wherever it is, and read every host's day files."""

import json

from journal.decision_log import read_shown_items
from journal.event_log import day_files, is_journal, read_daily_log

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

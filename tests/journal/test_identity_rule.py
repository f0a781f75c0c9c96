"""journal.identity: whose event it is, point in time (the stated rule for shared devices and unlinks)."""

import json

import pandas as pd

from journal.identity import IDENTITIES_LOG, all_links, person_keys, read_identity_log


def events(*rows):
    return pd.DataFrame(rows, columns=["visitor_id", "user_id", "ts"])


def links(*rows):
    return pd.DataFrame(
        [(*row, "identify") for row in rows], columns=["ts", "action", "visitor_id", "user_id", "source"]
    )


def test_anonymous_history_before_the_first_link_is_the_first_persons():
    frame = events(("d1", None, 1.0), ("d1", None, 5.0), ("d2", None, 2.0))
    keys = person_keys(frame, links((3.0, "link", "d1", "alice")))
    assert list(keys) == ["alice", "alice", "d2"]


def test_a_shared_device_moves_to_the_new_person_and_nothing_is_merged_twice():
    frame = events(("d1", None, 1.0), ("d1", None, 4.0), ("d1", None, 8.0), ("d1", "carol", 9.0))
    keys = person_keys(frame, links((2.0, "link", "d1", "alice"), (6.0, "link", "d1", "bob")))
    assert list(keys) == ["alice", "alice", "bob", "carol"]  # a named user_id is always that person


def test_an_unlink_returns_the_device_to_itself_from_that_instant():
    frame = events(("d1", None, 1.0), ("d1", None, 4.0), ("d1", None, 8.0))
    keys = person_keys(frame, links((2.0, "link", "d1", "alice"), (6.0, "unlink", "d1", "alice")))
    assert list(keys) == ["alice", "alice", "d1"]


def test_an_unlink_of_another_pair_changes_nothing():
    frame = events(("d1", None, 8.0))
    keys = person_keys(frame, links((2.0, "link", "d1", "alice"), (6.0, "unlink", "d1", "bob")))
    assert list(keys) == ["alice"]


def test_links_come_from_the_identities_log_and_from_events_carrying_both_ids(tmp_path):
    log = tmp_path / IDENTITIES_LOG
    log.mkdir()
    record = {"rv": 1, "link_id": "x", "ts": 3.0, "action": "link", "visitor_id": "d1", "user_id": "alice"}
    (log / "1970-01-01.jsonl").write_text(json.dumps(record) + "\n{torn")
    assert list(read_identity_log(tmp_path)["user_id"]) == ["alice"]
    frame = events(("d2", None, 1.0), ("d2", "bob", 2.0), ("d2", "bob", 3.0), ("d1", None, 0.5))
    found = all_links(tmp_path, frame)
    assert list(zip(found["visitor_id"], found["user_id"], found["source"])) == [
        ("d2", "bob", "event"),
        ("d1", "alice", "identify"),
    ]
    assert list(person_keys(frame, found)) == ["bob", "bob", "bob", "alice"]

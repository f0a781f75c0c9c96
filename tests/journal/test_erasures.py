"""The erasure record holds keyed hashes only; every reader of the journal skips erased ids; links are transitive."""

import hashlib
import hmac
import json
import os
import stat

import pytest

from journal.decision_log import read_decision_log, read_shown_items
from journal.erasures import Erasures, erased_fields
from journal.event_log import day_files, read_daily_log
from journal.links import linked_ids
from journal.profile_log import LatestProfiles, ProfileLog
from journal.tail import EventTail
from journal.writer import DailyLog
from models.errors import ConfigError

DAY0 = 1_767_225_600.0  # 2026-01-01T00:00Z


def event(n: int, visitor: str, user: str | None = None) -> dict:
    return {"event_id": f"e{n}", "visitor_id": visitor, "user_id": user, "type": "page_view", "ts": DAY0 + n}


def decision(n: int, visitor: str, user: str | None = None) -> dict:
    context = {"visitor_id": user or visitor, "user_id": user, "stage": "awareness"}
    items = [{"item_id": "i1", "position": 0, "propensity": 0.5}]
    record = {"decision_id": f"d{n}", "visitor_id": visitor, "user_id": user, "ts": DAY0 + n, "items": items}
    return {**record, "context": context}


def write_logs(data_dir):
    DailyLog(data_dir / "events", fsync=False).append(
        [event(1, "v-keep"), event(2, "v-gone"), event(3, "v-gone", "u-gone"), event(4, "v-other", "u-keep")]
    )
    DailyLog(data_dir / "decisions", fsync=False).append(
        [{**decision(5, "v-keep"), "context": {}}, {**decision(6, "v-gone", "u-gone")}]
    )
    profiles = ProfileLog(data_dir / "profiles", fsync=False)
    profiles.append("v-keep", {"interests": ["a"]}, DAY0 + 7)
    profiles.append("u-gone", {"interests": ["b"]}, DAY0 + 8)


def test_the_record_holds_keyed_hashes_never_the_ids(tmp_path):
    erasures = Erasures(tmp_path, secret="s3cret")
    erasures.record(["u-gone", "v-gone"], by="key-1", at=DAY0)
    text = (tmp_path / "erasures" / "erasures.jsonl").read_text()
    assert "u-gone" not in text and "v-gone" not in text
    expected = hmac.new(b"s3cret", b"u-gone", hashlib.sha256).hexdigest()
    assert expected in json.loads(text)["ids"]
    assert erasures.is_erased("u-gone") and erasures.is_erased("v-gone") and not erasures.is_erased("v-keep")
    assert Erasures(tmp_path, secret="another").key("u-gone") != expected


def test_without_a_secret_one_is_made_once_private_and_shared(tmp_path):
    one, two = Erasures(tmp_path), Erasures(tmp_path)
    one.record(["v-gone"], by="admin", at=DAY0)
    secret = tmp_path / "erasures" / "secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600 and len(secret.read_text()) == 64
    assert two.is_erased("v-gone")  # another process sees the erasure on its next call (the file changed)
    two.record(["v-later"], by="admin", at=DAY0 + 1)
    assert one.is_erased("v-later")


def test_a_reader_with_another_secret_refuses_rather_than_skipping_no_one(tmp_path):
    Erasures(tmp_path, secret="right").record(["v-gone"], by="admin", at=DAY0)
    with pytest.raises(ConfigError, match="WAYFINDER_ERASURE_SECRET"):
        Erasures(tmp_path, secret="wrong").is_erased("v-gone")


def test_pending_erasures_until_compaction_is_recorded(tmp_path):
    erasures = Erasures(tmp_path)
    erasures.record(["a"], by="admin", at=DAY0)
    erasures.record(["b"], by="admin", at=DAY0 + 1)
    assert [e.at for e in erasures.pending()] == [DAY0, DAY0 + 1]
    erasures.mark_compacted(1, DAY0 + 2)
    erasures.record(["c"], by="admin", at=DAY0 + 3)
    assert [e.at for e in erasures.pending()] == [DAY0 + 1, DAY0 + 3]
    assert erasures.records()[0].compacted_at == DAY0 + 2


def test_a_refusal_names_the_field_and_the_day(tmp_path):
    erasures = Erasures(tmp_path)
    erasures.record(["u-gone"], by="admin", at=DAY0)
    assert erased_fields(erasures, {"visitor_id": "v", "user_id": "u-gone"}) == {
        "user_id": ["this id was erased on 2026-01-01: send a new id"]
    }
    assert erased_fields(erasures, {"visitor_id": "v", "user_id": None}) == {}


def test_links_are_found_transitively_in_events_and_decisions(tmp_path):
    DailyLog(tmp_path / "events", fsync=False).append(
        [event(1, "v1", "u1"), event(2, "v2", "u1"), event(3, "v2", "u2"), event(4, "v9", "u9"), event(5, "v3")]
    )
    DailyLog(tmp_path / "decisions", fsync=False).append([decision(6, "v4", "u2")])
    assert linked_ids(tmp_path, "v1") == {"v1", "u1", "v2", "u2", "v4"}
    assert linked_ids(tmp_path, "v3") == {"v3"}
    assert linked_ids(tmp_path, "nobody") == {"nobody"}


def test_links_survive_a_broken_line_in_the_middle_of_a_day_file(tmp_path):
    lines = [
        json.dumps(event(1, "v1", "u1")),
        '{"visitor_id": "v2", "user_id": "u1", "ty',
        json.dumps(event(3, "v3", "u1")),
    ]
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "2026-01-01.jsonl").write_text("\n".join(lines) + "\n")
    assert linked_ids(tmp_path, "u1") == {"u1", "v1", "v2", "v3"}  # the torn line's ids too, as compaction reads it


def test_every_reader_skips_erased_ids_and_counts_them(tmp_path):
    write_logs(tmp_path)
    Erasures(tmp_path).record(["u-gone", "v-gone"], by="admin", at=DAY0 + 9)

    events = read_daily_log(tmp_path / "events")
    assert list(events["event_id"]) == ["e1", "e4"] and events.attrs["erased_lines"] == 2
    decisions = read_decision_log(tmp_path / "decisions")
    assert list(decisions.decisions["decision_id"]) == ["d5"] and decisions.erased_lines == 1
    shown = read_shown_items(day_files(tmp_path / "decisions"))
    assert list(shown["decision_id"]) == ["d5"] and shown.attrs["erased_lines"] == 1
    profiles = LatestProfiles().read(tmp_path / "profiles")
    assert profiles.visitors() == ["v-keep"] and profiles.erased_lines == 1
    tail = EventTail(tmp_path / "events", since=DAY0)
    assert [r["event_id"] for r in tail.read(1 << 20)] == ["e1", "e4"] and tail.erased_lines == 2


def test_readers_of_a_data_dir_without_erasures_skip_nothing(tmp_path):
    write_logs(tmp_path)
    assert len(read_daily_log(tmp_path / "events")) == 4
    assert not (tmp_path / "erasures").exists()  # nothing is made for a service that never erased

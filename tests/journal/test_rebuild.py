"""Redis rebuilt from the journal: the very contexts live ingestion wrote, dedup state, caps counters."""

import datetime as dt
import json
import time

import pytest

import journal.rebuild
from journal.rebuild import catalog_item_ids, rebuild
from models import keys
from models.context import from_json
from models.errors import RebuildIncomplete

NOW = time.time()


def stamp(hours_ago: float) -> str:
    return dt.datetime.fromtimestamp(NOW - hours_ago * 3600, dt.UTC).isoformat().replace("+00:00", "Z")


EVENTS = [
    {"event_id": "a1", "visitor_id": "anna", "type": "page_view", "channel": "web", "timestamp": stamp(30)},
    {"event_id": "a2", "visitor_id": "anna", "type": "product_view", "item_id": "hero_x5_m_sport", "channel": "web",
     "timestamp": stamp(29)},
    {"event_id": "a3", "visitor_id": "anna", "type": "click", "item_id": "offer_tradein_bonus", "channel": "app",
     "timestamp": stamp(28)},
    {"event_id": "b1", "visitor_id": "web-b", "user_id": "u-bo", "type": "configure_product",
     "item_id": "hero_e2_electric", "channel": "web", "timestamp": stamp(20)},
    {"event_id": "b2", "visitor_id": "app-b", "user_id": "u-bo", "type": "purchase", "item_id": "hero_e2_electric",
     "value": 41999.5, "channel": "store", "timestamp": stamp(10)},
    {"event_id": "b3", "visitor_id": "app-b", "user_id": "u-bo", "type": "service_booking", "value": 0.1,
     "channel": "call_center", "timestamp": stamp(5)},
    {"event_id": "c1", "visitor_id": "cleo", "type": "add_to_cart", "item_id": "hero_x3_family_suv",
     "timestamp": stamp(3)},
]  # fmt: skip
LATE = {"event_id": "a0", "visitor_id": "anna", "type": "ad_click", "channel": "ads", "timestamp": stamp(40)}
PROFILES = ["anna", "u-bo", "cleo"]


def post(client, events):
    answer = client.post("/v1/events", json={"events": events})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def live_history(client, redis_client, tenant):
    """Events in three batches (one arriving late), decisions that count impressions; what Redis holds then."""
    post(client, EVENTS[:3])
    post(client, EVENTS[3:])
    post(client, [LATE])
    for visitor, channel in (("anna", "app"), ("anna", "web"), ("cleo", None), ("web-b", "app")):
        body = {"visitor_id": visitor, "placement": "app_offers", "context": {"channel": channel} if channel else {}}
        if visitor == "web-b":
            body["user_id"] = "u-bo"
        assert client.post("/v1/decisions", json=body).status_code == 200
    return snapshot(redis_client, tenant)


def snapshot(redis_client, tenant):
    return {
        pid: (
            redis_client.hget(keys.context_key(tenant, pid), "data"),
            redis_client.hgetall(keys.caps_key(tenant, pid)),
        )
        for pid in PROFILES
    }


def lose_everything(redis_client, tenant):
    """Data loss for this tenant (the shared test server is never flushed: the tenant's keys go)."""
    for key in redis_client.scan_iter(match=f"wf:{tenant}:*", count=1000):
        redis_client.delete(key)


@pytest.fixture
def redis_client(redis_backend):
    return redis_backend[2]


def test_rebuilt_contexts_and_counters_are_byte_identical_to_live(client, settings, journey, redis_client, tenant):
    before = live_history(client, redis_client, tenant)
    assert all(data for data, _ in before.values()) and before["anna"][1]
    lose_everything(redis_client, tenant)

    report = rebuild(redis_client, settings, journey, catalog_item_ids(redis_client, settings))

    after = snapshot(redis_client, tenant)
    for pid in PROFILES:
        assert after[pid][0] == before[pid][0], pid
        assert after[pid][1] == before[pid][1], pid
    assert report.events == 8 and report.profiles == 3 and report.contexts_written == 3
    assert report.decisions_counted == 4 and report.dedup_ids == 8
    for pid in PROFILES:
        for key in (keys.context_key(tenant, pid), keys.dedup_key(tenant, pid), keys.caps_key(tenant, pid)):
            assert redis_client.ttl(key) > 0
    assert redis_client.exists(keys.journal_sentinel_key(tenant))


def test_old_event_ids_are_duplicates_again_after_the_rebuild(client, settings, journey, redis_client, tenant):
    post(client, EVENTS)
    lose_everything(redis_client, tenant)
    rebuild(redis_client, settings, journey)
    answer = post(client, EVENTS + [LATE])
    assert answer["accepted"] == 1 and answer["duplicates"] == len(EVENTS)


def test_popularity_is_rebuilt_for_catalog_items(client, settings, journey, redis_client, tenant):
    post(client, EVENTS)
    decide = {"visitor_id": "nobody", "placement": "home_hero", "explain": True}
    lose_everything(redis_client, tenant)
    report = rebuild(redis_client, settings, journey, catalog_item_ids(redis_client, settings))
    assert report.popular_items == 4  # the four catalog items named; none other is counted
    assert client.post("/v1/decisions", json=decide).status_code == 200


def test_running_it_twice_changes_nothing(client, settings, journey, redis_client, tenant):
    before = live_history(client, redis_client, tenant)
    lose_everything(redis_client, tenant)
    rebuild(redis_client, settings, journey)
    dedup_once = redis_client.hgetall(keys.dedup_key(tenant, "anna"))
    rebuild(redis_client, settings, journey)
    assert snapshot(redis_client, tenant) == before
    assert redis_client.hgetall(keys.dedup_key(tenant, "anna")) == dedup_once


def test_a_visitor_written_live_since_the_loss_gets_their_whole_history(
    client, settings, journey, redis_client, tenant
):
    client.application.extensions["wayfinder"].store.on_state_lost = None  # this test runs the rebuild itself
    post(client, EVENTS + [LATE])
    complete = redis_client.hget(keys.context_key(tenant, "anna"), "data")
    lose_everything(redis_client, tenant)
    newer = {"event_id": "a9", "visitor_id": "anna", "type": "compare_models", "timestamp": stamp(1)}
    post(client, [newer])  # the live write lands first: anna's context holds one event
    assert stored_context(redis_client, tenant, "anna")["n_events"] == 1

    report = rebuild(redis_client, settings, journey)

    assert report.contexts_replayed_again == 1
    context = stored_context(redis_client, tenant, "anna")
    assert context["n_events"] == from_json(complete, "anna")["n_events"] + 1
    assert context["recent"][0]["event_id"] == "a9" and context["first_ts"] == from_json(complete, "anna")["first_ts"]


def stored_context(redis_client, tenant, visitor_id):
    return from_json(redis_client.hget(keys.context_key(tenant, visitor_id), "data"), visitor_id)


def live_events_while_the_rebuild_reads_the_journal(monkeypatch, client, times: int) -> list[str]:
    """Each of the first `times` reads of the journal by `_replay_again` is followed at once by a live event
    of cleo's (logged, then applied to Redis), as load does. Returns the ids posted."""
    read, posted = journal.rebuild._events_written_since, []

    def read_then_a_live_event(events_dir, since):
        fresh = read(events_dir, since)
        if len(posted) < times:
            posted.append(f"live-{len(posted)}")
            post(client, [{"event_id": posted[-1], "visitor_id": "cleo", "type": "page_view", "timestamp": stamp(1)}])
        return fresh

    monkeypatch.setattr(journal.rebuild, "_events_written_since", read_then_a_live_event)
    return posted


def page_views(client, visitor):
    return client.get(f"/v1/visitors/{visitor}").get_json()["counts"]["type"].get("page_view", 0)


def test_an_event_applied_just_after_the_rebuild_read_the_journal_is_not_lost(
    client, settings, journey, redis_client, tenant, monkeypatch
):
    client.application.extensions["wayfinder"].store.on_state_lost = None  # this test runs the rebuild itself
    post(client, EVENTS)
    lose_everything(redis_client, tenant)
    post(client, [{"event_id": "live", "visitor_id": "cleo", "type": "page_view", "timestamp": stamp(2)}])
    posted = live_events_while_the_rebuild_reads_the_journal(monkeypatch, client, times=1)

    report = rebuild(redis_client, settings, journey)

    assert posted == ["live-0"] and report.contexts_replayed_again == 1
    assert page_views(client, "cleo") == 2  # "live" and "live-0": the version is read before the journal
    assert redis_client.exists(keys.journal_sentinel_key(tenant))


def test_a_context_live_events_keep_changing_fails_the_rebuild_without_the_sentinel(
    client, settings, journey, redis_client, tenant, monkeypatch
):
    client.application.extensions["wayfinder"].store.on_state_lost = None
    post(client, EVENTS)
    lose_everything(redis_client, tenant)
    post(client, [{"event_id": "live", "visitor_id": "cleo", "type": "page_view", "timestamp": stamp(2)}])
    posted = live_events_while_the_rebuild_reads_the_journal(monkeypatch, client, times=100)

    with pytest.raises(RebuildIncomplete, match="1 contexts and 0 profiles"):
        rebuild(redis_client, settings, journey)

    assert len(posted) == 5 and not redis_client.exists(keys.journal_sentinel_key(tenant))
    monkeypatch.undo()  # the load stops; the next attempt (a later read, or the CLI again) completes
    assert rebuild(redis_client, settings, journey).contexts_replayed_again == 3  # the first run wrote the others
    assert page_views(client, "cleo") == 6 and redis_client.exists(keys.journal_sentinel_key(tenant))
    context = from_json(redis_client.hget(keys.context_key(tenant, "cleo"), "data"), "cleo")
    assert context["n_events"] == 7  # c1 and the six live page views: the history is whole again


PROFILES_PUT = [
    ("anna", {"interests": ["suv", "electric"], "consent": {"personalization": False, "email": True}}),
    ("cleo", {"segment": "fleet", "attributes": {"age": 41, "score": 0.1, "name": "Cléo \u2603"}}),
    ("anna", {"interests": ["electric"], "status": "gold"}),  # partial: anna's opt-out stays
    ("pia", {"consent": {"personalization": True}}),  # a profile and no events
]


def put_profiles(client) -> dict:
    """The profiles through the API; what GET /v1/visitors/<id> answers then."""
    for visitor, body in PROFILES_PUT:
        assert client.put(f"/v1/visitors/{visitor}/profile", json=body).status_code == 200
    return {visitor: client.get(f"/v1/visitors/{visitor}").get_json() for visitor in ("anna", "cleo", "pia")}


def test_profiles_are_restored_as_they_were(client, settings, journey, redis_client, tenant):
    client.application.extensions["wayfinder"].store.on_state_lost = None  # this test runs the rebuild itself
    post(client, EVENTS)
    views = put_profiles(client)
    assert views["anna"]["profile"]["consent"] == {"personalization": False, "email": True}
    stored = {v: redis_client.hget(keys.context_key(tenant, v), "profile") for v in views}
    lose_everything(redis_client, tenant)
    assert client.get("/v1/visitors/anna").get_json()["profile"] == {}

    report = rebuild(redis_client, settings, journey)

    assert report.profiles_logged == 3 and report.profiles_restored == 3 and report.profiles_kept_live == 0
    for visitor, view in views.items():
        assert client.get(f"/v1/visitors/{visitor}").get_json() == view, visitor
        assert redis_client.hget(keys.context_key(tenant, visitor), "profile") == stored[visitor]
        assert redis_client.ttl(keys.context_key(tenant, visitor)) > 0

    again = rebuild(redis_client, settings, journey)  # twice changes nothing
    assert again.profiles_restored == 0 and again.profiles_kept_live == 3
    assert {v: redis_client.hget(keys.context_key(tenant, v), "profile") for v in views} == stored


def test_a_profile_written_live_since_the_loss_wins_and_keeps_the_opt_out(
    client, settings, journey, redis_client, tenant
):
    client.application.extensions["wayfinder"].store.on_state_lost = None
    put_profiles(client)
    lose_everything(redis_client, tenant)
    live = client.put("/v1/visitors/anna/profile", json={"interests": ["boats"]}).get_json()
    assert live == {"interests": ["boats"]}  # Redis had lost anna's consent: nothing to merge with, live

    report = rebuild(redis_client, settings, journey)

    assert report.profiles_restored == 3
    profile = client.get("/v1/visitors/anna").get_json()["profile"]
    assert profile == {"interests": ["boats"], "consent": {"personalization": False, "email": True}}


def test_a_live_profile_the_rebuild_read_before_it_was_written_is_kept(client, settings, journey, redis_client, tenant):
    from journal.profile_log import LatestProfiles
    from journal.rebuild import RebuildReport, _restore_profiles

    client.application.extensions["wayfinder"].store.on_state_lost = None
    put_profiles(client)
    started = time.time()
    profiles = LatestProfiles().read(settings.data_dir / "profiles")  # the rebuild's read, before the live write
    lose_everything(redis_client, tenant)
    body = {"interests": ["boats"], "consent": {"personalization": True}}
    assert client.put("/v1/visitors/cleo/profile", json=body).status_code == 200
    report = RebuildReport()

    _restore_profiles(redis_client, settings, profiles, started_at=started, ttl_s=3600, report=report)

    assert report.profiles_restored == 2 and report.profiles_kept_live == 1
    assert client.get("/v1/visitors/cleo").get_json()["profile"] == body


def test_the_cli_rebuilds_from_the_environment(client, settings, redis_client, tenant, monkeypatch, capsys):
    from training.__main__ import main

    before = live_history(client, redis_client, tenant)
    lose_everything(redis_client, tenant)
    monkeypatch.setenv("WAYFINDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("WAYFINDER_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("WAYFINDER_TENANT", tenant)
    assert main(["rebuild", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["contexts_written"] == 3
    assert snapshot(redis_client, tenant) == before
    put_profiles(client)
    lose_everything(redis_client, tenant)
    assert main(["rebuild"]) == 0
    assert "3 visitor profiles restored (of 3 logged)" in capsys.readouterr().out


def test_dedup_remembers_the_ids_of_day_files_written_within_the_window(tmp_path):
    import os

    from journal.rebuild import _last_write_per_day, dedup_buckets
    from journal.writer import DailyLog
    from models import dedup

    day = 86_400
    now = 20_000 * day + 3600
    old, recent = {"event_id": "old", "ts": now - 30 * day}, {"event_id": "recent", "ts": now - 30 * day + 60}
    backfilled = {"event_id": "backfilled", "ts": now - 60 * day}
    log = DailyLog(tmp_path, fsync=False)
    log.append([old, recent, backfilled])
    os.utime(log.path_for(old["ts"]), (now - 10 * day, now - 10 * day))  # last written 10 days ago
    os.utime(log.path_for(backfilled["ts"]), (now - 2 * day, now - 2 * day))  # an old day, written lately

    buckets = dedup_buckets([old, recent, backfilled], _last_write_per_day(tmp_path), now, 7 * day)

    assert buckets == {dedup.day_of(now - 2 * day): dedup.pack(["backfilled"])}


def test_lines_of_text_the_api_refuses_are_skipped_and_counted(
    client, settings, redis_client, tenant, monkeypatch, capsys
):
    """Lines the service once wrote (or someone copied in) with a lone surrogate or a control character in
    an id: the rebuild skips and counts them instead of failing (which made the service retry forever)."""
    from training.__main__ import main

    before = live_history(client, redis_client, tenant)
    put_profiles(client)
    profiles_before = {pid: redis_client.hget(keys.context_key(tenant, pid), "profile") for pid in PROFILES}
    ts = NOW - 3600
    bad = {
        "events": [
            {"event_id": "s1", "visitor_id": "anna", "type": "page_view", "ts": ts, "channel": "c\ud800"},
            {"event_id": "s2\u0001", "visitor_id": "cleo", "type": "page_view", "ts": ts, "channel": "web"},
        ],
        "decisions": [
            {"decision_id": "sd", "visitor_id": "anna", "placement": "app_offers", "ts": ts, "channel": "c\udfff",
             "items": [{"item_id": "offer_tradein_bonus", "position": 0}], "context": {"stage": None}},
        ],
        "profiles": [{"rv": 1, "visitor_id": "anna", "ts": ts + 7200, "profile": {"attributes": {"t": "\ud800"}}}],
    }  # fmt: skip
    for log, records in bad.items():
        latest = sorted((settings.data_dir / log).glob("*.jsonl"))[-1]
        with latest.open("a") as handle:  # json.dumps writes a lone surrogate as its escape, \ud800
            handle.writelines(json.dumps(record) + "\n" for record in records)
    lose_everything(redis_client, tenant)
    monkeypatch.setenv("WAYFINDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("WAYFINDER_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("WAYFINDER_TENANT", tenant)
    assert main(["rebuild", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bad_lines"] == 3 and report["events"] == len(EVENTS) + 1  # 2 event lines, 1 profile line
    assert snapshot(redis_client, tenant) == before
    assert {pid: redis_client.hget(keys.context_key(tenant, pid), "profile") for pid in PROFILES} == profiles_before

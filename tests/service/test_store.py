"""The context store's behaviour, run against the embedded Redis and the real server alike."""

import threading

import pytest

from models import keys, popularity
from models.events import parse_event
from service.store import ContextStore

DAY = 86_400.0
NOW = 1_780_000_000.0  # 2026-05-28, after the events' timestamps


class Clock:
    """A clock the test moves by hand: no sleeping, no timed asserts."""

    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(redis_backend, tenant, journey, clock):
    return ContextStore(
        redis_backend[2],
        journey,
        tenant=tenant,
        ttl_s=3600,
        recent_cap=5,
        dedup_window_s=7 * DAY,
        popularity_half_life_s=7 * DAY,
        catalog_ids=lambda: {"x5", "x3"},
        clock=clock,
    )


def ev(visitor, kind, ts, event_id=None, item=None):
    raw = {"visitor_id": visitor, "type": kind, "timestamp": f"2026-05-01T10:00:{ts:02d}Z"}
    if event_id:
        raw["event_id"] = event_id
    if item:
        raw["item_id"] = item
    return parse_event(raw)


def test_unknown_visitor_reads_as_cold_start(store):
    state = store.read("nobody", ["a", "b"])
    assert state.context["stage"] is None and state.context["n_events"] == 0
    assert state.profile == {} and state.popularity == {"a": 0.0, "b": 0.0} and state.impressions == {}


def test_write_is_visible_to_the_next_read(store):
    store.record([ev("v1", "page_view", 1), ev("v1", "add_to_cart", 2, item="x5")])
    state = store.read("v1", ["x5"])
    assert state.context["stage"] == "intent"
    assert [e["type"] for e in state.context["recent"]] == ["add_to_cart", "page_view"]
    assert state.popularity["x5"] > 0


def test_duplicate_event_ids_are_dropped_within_and_across_batches(store):
    first = store.record([ev("v1", "page_view", 1, "e1"), ev("v1", "page_view", 1, "e1")])
    second = store.record([ev("v1", "page_view", 1, "e1"), ev("v1", "product_view", 2, "e2")])
    assert [e["event_id"] for e in first] == ["e1"]
    assert [e["event_id"] for e in second] == ["e2"]
    assert store.read("v1").context["n_events"] == 2


def test_before_commit_sees_only_new_events(store):
    store.record([ev("v1", "page_view", 1, "e1")])
    logged = []
    store.record([ev("v1", "page_view", 1, "e1"), ev("v1", "page_view", 2, "e2")], before_commit=logged.extend)
    assert [e["event_id"] for e in logged] == ["e2"]


def test_every_visitor_key_has_a_ttl(store, redis_backend, tenant):
    store.record([ev("v1", "page_view", 1)])
    store.put_profile("v1", {"interests": ["pets"]})
    client = redis_backend[2]
    for key in (keys.context_key(tenant, "v1"), keys.dedup_key(tenant, "v1")):
        assert 0 < client.ttl(key) <= 8 * DAY


def test_profile_round_trip_keeps_context(store):
    store.record([ev("v1", "product_view", 1)])
    store.put_profile("v1", {"interests": ["pets"], "consent": {"personalization": True}})
    state = store.read("v1")
    assert state.profile["interests"] == ["pets"] and state.context["stage"] == "consideration"


def test_concurrent_writers_lose_no_event(store):
    def send(worker):
        for n in range(10):
            store.record([ev("shared", "page_view", n % 60, event_id=f"w{worker}-{n}")])

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read("shared").context["n_events"] == 40


def test_tenants_do_not_see_each_other(redis_backend, tenant, journey):
    a = ContextStore(redis_backend[2], journey, tenant=tenant, ttl_s=60, recent_cap=5)
    b = ContextStore(redis_backend[2], journey, tenant=tenant + "x", ttl_s=60, recent_cap=5)
    a.record([ev("v1", "page_view", 1)])
    try:
        assert b.read("v1").context["n_events"] == 0
    finally:
        for key in redis_backend[2].scan_iter(match=f"wf:{tenant}x:*"):
            redis_backend[2].delete(key)


def test_impressions_are_counted_read_back_and_pruned(store, redis_backend, tenant):
    store.record_impressions("v1", {"100|i|x5": 1, "100|p|hero": 1, "c|app": 1}, stale=[])
    store.record_impressions("v1", {"100|i|x5": 1, "108|i|x5": 1}, stale=["100|p|hero"])
    assert store.read("v1").impressions == {"100|i|x5": 2, "108|i|x5": 1, "c|app": 1}
    assert 0 < redis_backend[2].ttl(keys.caps_key(tenant, "v1")) <= 3600


def test_user_id_joins_devices_into_one_context(store):
    web = parse_event({"visitor_id": "web-1", "user_id": "u-7", "type": "configure_product", "channel": "web"})
    app = parse_event({"visitor_id": "app-9", "user_id": "u-7", "type": "page_view", "channel": "app"})
    store.record([web, app])
    context = store.read("u-7").context
    assert context["n_events"] == 2 and context["channel_counts"] == {"web": 1, "app": 1}
    device = store.read("web-1")  # the event carrying both ids linked the device: it reads as its person
    assert device.person == "u-7" and device.context == context and device.devices == ["app-9", "web-1"]


def test_a_repeat_within_the_dedup_window_is_a_duplicate_and_after_it_counts_again(store, clock):
    assert store.record([ev("v1", "page_view", 1, "e1")])
    clock.now += 6 * DAY
    assert store.record([ev("v1", "page_view", 1, "e1")]) == []
    clock.now += 3 * DAY
    assert [e["event_id"] for e in store.record([ev("v1", "page_view", 1, "e1")])] == ["e1"]
    assert store.read("v1").context["n_events"] == 2


def test_dedup_state_keeps_only_the_days_in_the_window(store, clock, redis_backend, tenant):
    client = redis_backend[2]
    for day in range(30):
        store.record([ev("v1", "page_view", n % 60, f"d{day}-{n}") for n in range(20)])
        clock.now += DAY
    buckets = client.hgetall(keys.dedup_key(tenant, "v1"))
    assert len(buckets) <= 8
    assert all(len(packed) == 20 * 8 for packed in buckets.values())
    assert 0 < client.ttl(keys.dedup_key(tenant, "v1")) <= 8 * DAY


def test_dedup_state_of_one_day_is_capped(store, redis_backend, tenant):
    from models import dedup

    for batch in range(3):
        store.record([ev("v1", "page_view", n % 60, f"b{batch}-{n}") for n in range(500)])
    (packed,) = redis_backend[2].hgetall(keys.dedup_key(tenant, "v1")).values()
    assert len(packed) == dedup.MAX_IDS_PER_DAY * dedup.DIGEST_BYTES
    assert store.record([ev("v1", "page_view", 1, "b2-499")]) == []  # the newest are remembered


def test_popularity_counts_catalog_items_only_with_a_ttl(store, redis_backend, tenant, clock):
    store.record(
        [ev("v1", "product_view", 1, item="x5")] + [ev("v1", "page_view", 2, f"u{n}", f"junk-{n}") for n in range(50)]
    )
    key = keys.popularity_key(tenant, popularity.epoch_of(clock.now, 7 * DAY))
    assert [m.decode() for m in redis_backend[2].zrange(key, 0, -1)] == ["x5"]
    assert 0 < redis_backend[2].ttl(key)
    assert store.read("v1", ["x5", "junk-1"]).popularity["junk-1"] == 0.0


def test_popularity_halves_every_half_life(store, clock):
    base = 1_779_000_000
    old = parse_event({"visitor_id": "a", "type": "product_view", "item_id": "x5", "timestamp": _iso(base)})
    new = parse_event({"visitor_id": "b", "type": "product_view", "item_id": "x3", "timestamp": _iso(base + 7 * DAY)})
    clock.now = base + 8 * DAY
    store.record([old, new])
    scores = store.read("a", ["x5", "x3"]).popularity
    assert scores["x3"] == pytest.approx(2 * scores["x5"])


def test_popularity_of_the_previous_epoch_is_read_in_the_current_scale(store, clock):
    length = popularity.epoch_length_s(7 * DAY)
    start = (popularity.epoch_of(NOW, 7 * DAY) + 1) * length
    before = parse_event({"visitor_id": "a", "type": "product_view", "item_id": "x5", "timestamp": _iso(start - DAY)})
    after = parse_event({"visitor_id": "b", "type": "product_view", "item_id": "x3", "timestamp": _iso(start + DAY)})
    clock.now = start + 2 * DAY
    store.record([before, after])
    scores = store.read("a", ["x5", "x3"]).popularity
    assert scores["x3"] == pytest.approx(scores["x5"] * 2 ** (2 / 7))


def test_reads_and_writes_tell_when_the_journal_sentinel_is_gone(store, redis_backend, tenant):
    noticed = []
    store.on_state_lost = lambda: noticed.append(True)
    store.read("v1")
    store.record([ev("v1", "page_view", 1, "e1")])
    assert noticed == [True, True]
    redis_backend[2].set(keys.journal_sentinel_key(tenant), "1", ex=60)
    store.read("v1")
    store.record([ev("v1", "page_view", 2, "e2")])
    assert noticed == [True, True]


def _iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def test_an_event_batch_costs_a_read_a_write_and_a_popularity_write(store, monkeypatch):
    import redis

    store.record([ev("v1", "page_view", 1, "warm")])  # scripts loaded
    trips = []
    original = redis.client.Pipeline.execute

    def counted(pipe, *args, **kwargs):
        trips.append([c[0][0] for c in pipe.command_stack])
        return original(pipe, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    store.record([ev("v1", "product_view", 2, "e1", item="x5"), ev("v2", "page_view", 3, "e2", item="junk")])
    assert [trip[:2] for trip in trips] == [["EVALSHA", "EVALSHA"], ["EVALSHA", "EVALSHA"], ["ZINCRBY", "EXPIRE"]]
    trips.clear()
    store.record([ev("v1", "page_view", 4, "e3", item="junk")])  # no catalog item: no popularity write
    assert len(trips) == 2


def test_an_event_batch_after_redis_forgot_its_scripts_loads_them_and_records_once(store, redis_backend):
    store.record([ev("v1", "page_view", 1, "e0")])
    redis_backend[2].script_flush()  # as after a restart: the next read's EVALSHA answers NOSCRIPT
    assert [e["event_id"] for e in store.record([ev("v1", "product_view", 2, "e1", item="x5")])] == ["e1"]
    redis_backend[2].script_flush()
    store.record([ev("v1", "product_view", 2, "e1", item="x5")])  # a duplicate: read, nothing to write
    assert store.record([ev("v1", "page_view", 3, "e1"), ev("v1", "page_view", 4, "e2")])[0]["event_id"] == "e2"
    flush = lambda fresh: redis_backend[2].script_flush()  # noqa: E731 - between the read and the write
    assert [e["event_id"] for e in store.record([ev("v1", "page_view", 5, "e3")], before_commit=flush)] == ["e3"]
    assert store.read("v1").context["n_events"] == 4


def test_an_event_a_rebuild_applies_from_our_own_log_line_still_counts_as_accepted(store):
    """Between our journal write and our compare-and-set, a rebuild replays that line and marks it seen:
    the retry finds it a duplicate, but this call accepted it (it was once a 200 with duplicates 1)."""
    event = ev("v1", "page_view", 10, event_id="e-raced")

    def journal_then_rebuild_applies_it(fresh):
        store.record([dict(e) for e in fresh])  # what the rebuild does with the line just written

    accepted = store.record([event], before_commit=journal_then_rebuild_applies_it)
    assert [e["event_id"] for e in accepted] == ["e-raced"]
    assert store.read("v1").context["n_events"] == 1
    assert store.record([ev("v1", "page_view", 10, event_id="e-raced")]) == []


def test_the_most_popular_items_are_read_when_a_pool_is_too_large_to_name(store, clock):
    base = 1_779_000_000
    clock.now = base + DAY
    views = [("a", "x5"), ("b", "x5"), ("c", "x3")]
    store.record(
        [
            parse_event({"visitor_id": v, "type": "product_view", "item_id": item, "timestamp": _iso(base + n)})
            for n, (v, item) in enumerate(views)
        ]
    )
    named = store.read("a", ["x5", "x3"]).popularity
    assert store.read("a", top_popular=10).popularity == pytest.approx(named)
    assert list(store.read("a", top_popular=1).popularity) == ["x5"]

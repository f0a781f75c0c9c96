"""The context store's behaviour, run against the embedded Redis and the real server alike."""

import threading

import pytest

from models.events import parse_event
from service import keys
from service.store import ContextStore


@pytest.fixture
def store(redis_backend, tenant, journey):
    return ContextStore(redis_backend[2], journey, tenant=tenant, ttl_s=3600, recent_cap=5)


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
    assert state.popularity == {"x5": 1.0}


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
    for key in (keys.context_key(tenant, "v1"), keys.seen_key(tenant, "v1")):
        assert 0 < client.ttl(key) <= 3600


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
    assert store.read("web-1").context["n_events"] == 0

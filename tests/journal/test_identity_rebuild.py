"""Replay equals serving (issue 14): contexts, counters and device links rebuilt from the journal, identities
log included, are what serving built through the API."""

import pytest

from journal.rebuild import catalog_item_ids, rebuild
from models import keys

IDS = ("laptop", "phone", "tablet", "kiosk", "u-anna", "u-bob", "u-cleo")


@pytest.fixture
def redis_client(redis_backend):
    return redis_backend[2]


def event(client, visitor, kind, **fields):
    answer = client.post("/v1/events", json={"visitor_id": visitor, "type": kind, **fields})
    assert answer.status_code == 200 and answer.get_json()["accepted"] == 1, answer.get_json()


def identify(client, visitor, user, method="post"):
    answer = client.open("/v1/identify", method=method, json={"visitor_id": visitor, "user_id": user})
    assert answer.status_code == 200, answer.get_json()


def decide(client, visitor, **extra):
    body = {"visitor_id": visitor, "placement": "app_offers", "context": {"channel": "web"}, **extra}
    assert client.post("/v1/decisions", json=body).status_code == 200


def serve(client):
    """Anonymous browsing on a laptop, a login on a phone, more on both, a shared tablet, an unlink, a kiosk
    linked by an event carrying both ids; decisions on devices before and after their links."""
    event(client, "laptop", "page_view", channel="web")
    event(client, "laptop", "configure_product", channel="web", item_id="hero_x5_m_sport")
    decide(client, "laptop")
    event(client, "phone", "page_view", channel="app")
    identify(client, "phone", "u-anna")
    event(client, "phone", "product_view", channel="app", item_id="hero_x3_family_suv")
    identify(client, "laptop", "u-anna")
    identify(client, "laptop", "u-anna")  # a retry
    event(client, "laptop", "add_to_cart", channel="web", item_id="hero_x5_m_sport")
    decide(client, "phone")
    event(client, "tablet", "page_view", channel="web")
    identify(client, "tablet", "u-anna")
    event(client, "tablet", "product_view", channel="web", item_id="hero_x3_family_suv")
    decide(client, "tablet")
    identify(client, "tablet", "u-bob")  # shared: bob's from now on
    event(client, "tablet", "page_view", channel="web")
    decide(client, "tablet")
    identify(client, "tablet", "u-bob", method="delete")
    event(client, "tablet", "product_view", channel="web", item_id="hero_x3_family_suv")
    event(client, "kiosk", "page_view", channel="store")
    event(client, "kiosk", "book_test_drive", channel="store", user_id="u-cleo", item_id="action_book_test_drive")
    event(client, "kiosk", "page_view", channel="store")
    decide(client, "kiosk")


def state(client, redis_client, tenant):
    """What the API shows of each id, and the Redis bytes behind it."""
    views = {some_id: client.get(f"/v1/visitors/{some_id}").get_json() for some_id in IDS}
    stored = {
        some_id: (
            redis_client.hget(keys.context_key(tenant, some_id), "data"),
            redis_client.hgetall(keys.caps_key(tenant, some_id)),
            redis_client.hgetall(keys.link_key(tenant, some_id)),
            redis_client.smembers(keys.devices_key(tenant, some_id)),
        )
        for some_id in IDS
    }
    return views, stored


def test_the_rebuild_from_the_journal_equals_what_serving_built(client, settings, journey, redis_client, tenant):
    serve(client)
    views, stored = state(client, redis_client, tenant)
    assert views["laptop"]["person"] == "u-anna" and views["u-anna"]["devices"] == ["laptop", "phone", "tablet"]
    assert views["u-anna"]["events"] == 7 and views["u-bob"]["events"] == 1 and views["tablet"]["events"] == 1
    assert views["kiosk"]["person"] == "u-cleo" and views["u-cleo"]["events"] == 3
    for some_id in IDS:
        assert redis_client.delete(*keys.visitor_keys(tenant, some_id)) >= 0  # data loss: the tenant's state

    report = rebuild(redis_client, settings, journey, catalog_item_ids(redis_client, settings))

    assert report.devices_linked == 4
    rebuilt_views, rebuilt = state(client, redis_client, tenant)
    for some_id in IDS:
        assert rebuilt[some_id] == stored[some_id], some_id
        assert rebuilt_views[some_id] == views[some_id], some_id

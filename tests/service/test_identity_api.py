"""Identity stitching through the API (issue 14): a login links devices to one person, by the stated rule."""

import datetime as dt

from models.policy import holdout_bucket
from tests.redis_trips import count_round_trips

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def at(minutes_ago: float) -> str:
    return (NOW - dt.timedelta(minutes=minutes_ago)).isoformat()


def send(client, visitor, kind, minutes_ago, **fields):
    body = {"visitor_id": visitor, "type": kind, "timestamp": at(minutes_ago), **fields}
    answer = client.post("/v1/events", json=body)
    assert answer.status_code == 200 and answer.get_json()["accepted"] == 1, answer.get_json()


def identify(client, visitor, user, method="post", **extra):
    answer = client.open("/v1/identify", method=method, json={"visitor_id": visitor, "user_id": user, **extra})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def seen(client, some_id):
    answer = client.get(f"/v1/visitors/{some_id}")
    assert answer.status_code == 200
    return answer.get_json()


def placement(client, name="app_offers", **changes):
    body = client.get(f"/v1/placements/{name}").get_json()
    answer = client.put(f"/v1/placements/{name}", json={**body, "exploration": {}, "holdout_share": 0, **changes})
    assert answer.status_code == 200, answer.get_json()


def decide(client, visitor, name="app_offers", **extra):
    answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": name, **extra})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_anonymous_browsing_then_a_login_on_another_device_resumes_what_was_configured(model_client):
    placement(model_client)
    send(model_client, "laptop", "page_view", 60, channel="web")
    send(model_client, "laptop", "configure_product", 58, channel="web", item_id="hero_x5_m_sport")
    send(model_client, "phone", "page_view", 90, channel="app")  # the app, earlier: anonymous too
    assert identify(model_client, "phone", "u-anna", timestamp=at(30))["outcome"] == "merged"
    assert identify(model_client, "laptop", "u-anna")["outcome"] == "merged"
    person = seen(model_client, "u-anna")
    assert person["events"] == 3 and person["devices"] == ["laptop", "phone"]
    assert person["counts"]["channel"] == {"app": 1, "web": 2} and person["stage"] == "consideration"
    assert person["stage_since"] == at(58).replace("+00:00", "Z") and person["first_seen"] == at(90)[:19] + "Z"
    laptop = seen(model_client, "laptop")
    assert laptop["person"] == "u-anna" and laptop["visitor_id"] == "laptop" and laptop["events"] == 3

    again = identify(model_client, "laptop", "u-anna")  # a retried request merges nothing twice
    assert again["outcome"] == "unchanged" and seen(model_client, "u-anna")["events"] == 3

    decision = decide(model_client, "phone", context={"channel": "app"})  # the phone names no user id
    first = decision["items"][0]
    assert first["item_id"] == "action_book_test_drive"
    assert "you configured hero_x5_m_sport" in first["reasons"][0]


def test_a_shared_device_moves_to_its_new_person_and_nothing_is_merged_twice(client):
    send(client, "tablet", "page_view", 50)
    assert identify(client, "tablet", "u-alice")["outcome"] == "merged"
    send(client, "tablet", "product_view", 40, item_id="hero_x3_family_suv")
    assert identify(client, "tablet", "u-bob")["outcome"] == "moved"
    send(client, "tablet", "page_view", 30)
    alice, bob = seen(client, "u-alice"), seen(client, "u-bob")
    assert alice["events"] == 2 and bob["events"] == 1  # bob never receives alice's history
    assert seen(client, "tablet")["person"] == "u-bob" and alice["devices"] == bob["devices"] == ["tablet"]

    assert identify(client, "tablet", "u-alice", method="delete")["outcome"] == "not linked"
    assert identify(client, "tablet", "u-bob", method="delete")["outcome"] == "unlinked"
    send(client, "tablet", "page_view", 20)
    tablet = seen(client, "tablet")
    assert tablet["person"] == "tablet" and tablet["events"] == 1  # anonymous again, from the unlink on
    assert seen(client, "u-bob")["events"] == 1 and seen(client, "u-alice")["events"] == 2
    assert identify(client, "tablet", "u-alice")["outcome"] == "moved"  # merged once, ever: not again
    assert seen(client, "u-alice")["events"] == 2


def test_an_event_carrying_both_ids_links_the_device(client):
    send(client, "kiosk", "page_view", 10)
    send(client, "kiosk", "add_to_cart", 9, user_id="u-cleo", item_id="hero_x3_family_suv")
    send(client, "kiosk", "page_view", 8)  # the device alone: the person's event now
    cleo = seen(client, "u-cleo")
    assert cleo["events"] == 3 and cleo["devices"] == ["kiosk"] and seen(client, "kiosk")["person"] == "u-cleo"


def test_the_holdout_is_per_person_on_every_device(client):
    user = next(f"u{n}" for n in range(200) if holdout_bucket(f"u{n}", "app_offers") < 0.5)
    devices = [f"d{n}" for n in range(200) if holdout_bucket(f"d{n}", "app_offers") >= 0.5][:2]
    placement(client, holdout_share=0.5)
    assert {decide(client, d)["policy"] for d in devices} != {"holdout"}  # each device on its own: not held out
    for device in devices:
        identify(client, device, user)
    assert [decide(client, d)["policy"] for d in devices] == ["holdout", "holdout"]
    assert decide(client, devices[0], user_id=user)["policy"] == "holdout"


def test_a_linked_device_still_costs_one_read_and_one_write_per_decision(client, monkeypatch):
    send(client, "watch", "product_view", 5, item_id="hero_x3_family_suv")
    identify(client, "watch", "u-dan")
    warm = decide(client, "watch", context={"channel": "web"})  # catalog cached, scripts loaded
    trips = count_round_trips(monkeypatch)
    decision = decide(client, "watch", context={"channel": "web"})
    assert len(trips) == 2, trips
    assert trips[0][0] == "EVALSHA" and trips[1][0] == "HINCRBY"
    shown = len(warm["items"]) + len(decision["items"])  # counted for the person: caps are per person too
    assert shown and seen(client, "u-dan")["channel_preference"]["web"]["impressions"] == shown


def test_bad_identify_bodies_are_refused_and_change_nothing(client):
    for body, field in (
        ({"visitor_id": "a"}, "user_id"),
        ({"visitor_id": "a", "user_id": "a"}, "user_id"),
        ({"visitor_id": "a", "user_id": "b", "timestamp": "2999-01-01T00:00:00Z"}, "timestamp"),
        ({"visitor_id": "a", "user_id": "b", "stage": "conversion"}, "stage"),
        ({"visitor_id": "x" * 129, "user_id": "b"}, "visitor_id"),
    ):
        answer = client.post("/v1/identify", json=body)
        assert answer.status_code == 422 and field in str(answer.get_json()["errors"]), (body, answer.get_json())
    assert seen(client, "a")["person"] == "a" and seen(client, "b")["devices"] == []

"""The decision engine's scenarios (issue 4), through the HTTP API with a real trained model."""

import dataclasses
import datetime as dt

import pytest

from models.policy import holdout_bucket
from service import create_app
from tests.redis_trips import count_round_trips


def send(client, kind, visitor="v1", **fields):
    answer = client.post("/v1/events", json={"visitor_id": visitor, "type": kind, **fields})
    assert answer.status_code == 200 and answer.get_json()["accepted"] == 1


def decide(client, visitor="v1", placement="app_offers", **extra):
    answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": placement, **extra})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def ids(decision):
    return [i["item_id"] for i in decision["items"]]


def no_exploration(client, placement="app_offers", **changes):
    body = client.get(f"/v1/placements/{placement}").get_json()
    answer = client.put(f"/v1/placements/{placement}", json={**body, "exploration": {}, "holdout_share": 0, **changes})
    assert answer.status_code == 200, answer.get_json()


def test_configured_on_web_then_app_shows_the_test_drive_first_with_the_reason(model_client):
    no_exploration(model_client)
    send(
        model_client, "configure_product", visitor="web-device", user_id="u-7", channel="web", item_id="hero_x5_m_sport"
    )
    decision = decide(model_client, visitor="app-device", user_id="u-7", context={"channel": "app"})
    assert decision["policy"] == "model" and decision["stage"] == "consideration"
    first = decision["items"][0]
    assert first["item_id"] == "action_book_test_drive"
    assert "configured hero_x5_m_sport" in first["reasons"][0]
    send(model_client, "book_test_drive", visitor="app-device", user_id="u-7", item_id="action_book_test_drive")
    after = decide(model_client, visitor="app-device", user_id="u-7", context={"channel": "app"})
    assert not any("configured" in r for item in after["items"] for r in item["reasons"])


def test_pet_lovers_see_pet_items_above_equal_others(client):
    no_exploration(client, "email_block", candidates=["story_family_safety", "accessory_pet_pack"], filters=[])
    moment = dt.datetime.now(dt.UTC).isoformat()  # popularity decays: one moment makes it equal
    for item in ("story_family_safety", "accessory_pet_pack"):  # equal live popularity
        send(client, "product_view", visitor="someone", item_id=item, timestamp=moment)
    send(client, "product_view", visitor="plain")
    send(client, "product_view", visitor="pet-lover")
    client.put("/v1/visitors/pet-lover/profile", json={"interests": ["pets"]})
    plain = decide(client, visitor="plain", placement="email_block")
    lover = decide(client, visitor="pet-lover", placement="email_block")
    assert ids(plain)[0] == "story_family_safety"
    assert ids(lover)[0] == "accessory_pet_pack"
    assert "matches interest pets" in lover["items"][0]["reasons"]


def test_interest_boost_scales_model_scores(model_client):
    no_exploration(model_client)
    send(model_client, "product_view", visitor="a", item_id="hero_x3_family_suv")
    send(model_client, "product_view", visitor="b", item_id="hero_x3_family_suv")
    model_client.put("/v1/visitors/b/profile", json={"interests": ["pets"]})
    scores = {}
    for visitor in ("a", "b"):
        body = decide(model_client, visitor=visitor, candidates=["accessory_pet_pack"], limit=1)
        scores[visitor] = body["items"][0]["score"]
    assert scores["b"] == pytest.approx(scores["a"] * 1.25, rel=1e-3)


def test_bought_items_are_not_offered_and_caps_hide_items_for_the_day(model_client):
    no_exploration(model_client)
    send(model_client, "purchase", item_id="hero_x5_m_sport")
    send(model_client, "service_booking")  # now in loyalty, where winter tyres are offered
    before = decide(model_client, candidates=["offer_service_plan", "offer_winter_tyres"], limit=2)
    assert "offer_service_plan" in ids(before)
    send(model_client, "purchase", item_id="offer_service_plan")
    send(model_client, "service_booking")
    shown = []
    for _ in range(4):
        body = decide(model_client, candidates=["offer_service_plan", "offer_winter_tyres"], limit=1, explain=True)
        shown.append(ids(body))
    removed = {r["item_id"]: r["rule"] for r in body["explain"]["removed"]}
    assert removed["offer_service_plan"] == "converted"
    # the first decision above already showed winter tyres once
    assert shown[:2] == [["offer_winter_tyres"]] * 2
    assert shown[2:] == [[], []] and removed["offer_winter_tyres"] == "cap"
    assert body["explain"]["caps"]["offer_winter_tyres"]["today"] == 3


def test_holdout_visitors_always_get_the_default_experience(model_client):
    no_exploration(model_client, holdout_share=0.5)
    visitor = next(f"h{i}" for i in range(100) if holdout_bucket(f"h{i}", "app_offers") < 0.5)
    other = next(f"h{i}" for i in range(100) if holdout_bucket(f"h{i}", "app_offers") >= 0.5)
    send(model_client, "configure_product", visitor=visitor, item_id="hero_x5_m_sport")
    defaults = ["offer_financing_0apr", "action_book_test_drive", "offer_service_plan"]
    for _ in range(3):
        body = decide(model_client, visitor=visitor)
        assert body["policy"] == "holdout" and ids(body) == defaults
        assert all(i["propensity"] == 1.0 for i in body["items"])
    assert decide(model_client, visitor=other)["policy"] == "model"


def test_no_consent_means_the_default_experience(model_client):
    model_client.put("/v1/visitors/v1/profile", json={"consent": {"personalization": False}})
    body = decide(model_client, explain=True)
    assert body["policy"] == "default" and "no consent" in body["explain"]["branch_reason"]


def test_exploration_logs_propensities(model_client):
    no_exploration(model_client, exploration={"epsilon": 0.5})
    send(model_client, "product_view", item_id="hero_x3_family_suv")
    body = decide(model_client)
    assert all(0 < i["propensity"] <= 1 for i in body["items"])
    assert any(i["propensity"] < 1 for i in body["items"])


def test_diversity_limits_items_sharing_a_tag(model_client):
    no_exploration(model_client, "next_step_panel", slots=3, max_per_tag=1)
    send(model_client, "product_view", item_id="hero_x3_family_suv")
    body = decide(model_client, placement="next_step_panel")
    assert len(body["items"]) == 1  # every action carries the tag "action"


def test_next_best_action_uses_both_models(model_client):
    send(model_client, "product_view", item_id="hero_x3_family_suv")
    body = decide(model_client, placement="next_step_panel", explain=True)
    assert body["policy"] == "model"
    for detail in body["explain"]["items"].values():
        assert "advance_gain" in detail and detail["top_contributions"]
    assert "advance gain" in body["items"][0]["reasons"][-1]


def test_explain_trace(model_client):
    send(model_client, "product_view", item_id="hero_x3_family_suv")
    body = decide(model_client, explain=True, context={"channel": "app"})
    trace = body["explain"]
    assert set(trace) >= {"candidates", "removed", "boosts", "pinned", "caps", "items", "branch_reason"}
    assert {"item_id": "offer_service_plan", "rule": "stage"}.items() <= next(
        r for r in trace["removed"] if r["item_id"] == "offer_service_plan"
    ).items()
    contributions = next(iter(trace["items"].values()))["top_contributions"]
    assert len(contributions) == 5 and {"feature", "value", "contribution"} <= set(contributions[0])


def test_a_model_error_falls_back_instead_of_failing(model_settings):
    app = create_app(model_settings)
    bundle = app.extensions["wayfinder"].models.get()

    def broken(_):
        raise RuntimeError("corrupt tree")

    bundle.content.predict = broken  # fault injection into the dependency, not the engine
    body = app.test_client().post("/v1/decisions", json={"visitor_id": "v", "placement": "app_offers"}).get_json()
    assert body["policy"] == "fallback" and body["items"]
    assert body["items"][0]["reasons"][0] == "model error"


def test_redis_down_still_answers(model_settings):
    down = create_app(dataclasses.replace(model_settings, redis_url="redis://127.0.0.1:1/0")).test_client()
    for placement in ("app_offers", "home_hero", "next_step_panel", "email_block"):
        answer = down.post("/v1/decisions", json={"visitor_id": "v", "placement": placement})
        assert answer.status_code == 200 and answer.get_json()["policy"] == "fallback"


def test_a_decision_costs_one_read_and_one_write_round_trip(model_settings, monkeypatch):
    app = create_app(model_settings)
    client = app.test_client()
    send(client, "product_view", item_id="hero_x3_family_suv")
    decide(client)  # warm: catalog cached, scripts loaded
    trips = count_round_trips(monkeypatch)
    decide(client)
    assert len(trips) == 2, trips
    # EVALSHA: context, profile, counters and devices, of the person a linked device names (service.store)
    assert trips[0] == ["EVALSHA", "GET", "EXISTS"]  # EXISTS: the journal sentinel (service.recovery)
    assert trips[1][0] == "HINCRBY" and trips[1][-1] == "EXPIRE"


def test_channel_preference_counts_items_shown_and_keeps_the_rate_within_0_and_1(model_client):
    send(model_client, "product_view", channel="app", item_id="hero_x3_family_suv")
    on_app = decide(model_client, context={"channel": "app"}, limit=3)
    assert len(on_app["items"]) == 3
    for item_id in ids(on_app)[:2]:  # two of the three items shown get a click
        send(model_client, "click", channel="app", item_id=item_id, decision_id=on_app["decision_id"])
    by_email = decide(model_client, placement="email_block", context={"channel": "email"}, limit=1)
    assert len(by_email["items"]) == 1
    for _ in range(2):  # the one item in the email, clicked twice (the email was opened again)
        send(model_client, "click", channel="email", item_id=ids(by_email)[0], decision_id=by_email["decision_id"])
    send(model_client, "click", channel="web", item_id="hero_x3_family_suv")  # nothing was shown on the web
    preference = model_client.get("/v1/visitors/v1").get_json()["channel_preference"]
    assert preference == {
        "app": {"responses": 2, "impressions": 3, "response_rate": round(2 / 3, 4)},
        "email": {"responses": 2, "impressions": 1, "response_rate": 1.0},
        "web": {"responses": 1, "impressions": 0, "response_rate": None},
    }


def test_a_contribution_error_keeps_the_answer_and_the_trace_says_why(model_settings):
    app = create_app(model_settings)
    bundle = app.extensions["wayfinder"].models.get()

    def broken(_):
        raise RuntimeError("pred_contrib failed")

    bundle.content.contributions = broken  # fault injection into the dependency's explain call only
    client = app.test_client()
    send(client, "product_view", item_id="hero_x3_family_suv")
    answer = client.post(
        "/v1/decisions", json={"visitor_id": "v1", "placement": "app_offers", "explain": True, "limit": 2}
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["policy"] == "model" and len(body["items"]) == 2
    trace = body["explain"]
    assert trace["contributions_error"] == "feature contributions unavailable: pred_contrib failed"
    assert set(trace["items"]) == set(ids(body))
    for detail in trace["items"].values():
        assert detail["top_contributions"] is None and 0.0 <= detail["p_response"] <= 1.0


def test_with_rate_limits_on_a_decision_still_costs_one_read_and_one_write(model_settings, monkeypatch, tmp_path):
    """The public key's and the visitor's buckets travel in the decision's read; over the visitor's limit the answer is
    429, and nothing was counted or logged for it."""
    limited = dataclasses.replace(model_settings, rate_limits="on", rate_limit_visitor="0.001/2")
    app = create_app(limited)
    token = app.test_client().post("/v1/keys", json={"scope": "public"}).get_json()["token"]
    public = app.test_client()
    public.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def decide_publicly():
        return public.post("/v1/decisions", json={"visitor_id": "v-limited", "placement": "app_offers"})

    assert decide_publicly().status_code == 200  # warm: catalog cached, scripts loaded
    trips = count_round_trips(monkeypatch)
    assert decide_publicly().status_code == 200
    assert len(trips) == 2, trips
    assert trips[0] == ["EVALSHA", "GET", "EXISTS", "EVALSHA", "EVALSHA"]  # the read, then key and visitor buckets
    assert trips[1][0] == "HINCRBY"
    counters = app.test_client().get("/v1/visitors/v-limited").get_json()
    before = len(trips)
    refused = decide_publicly()
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["code"] == 429 and "visitor" in refused.get_json()["message"]
    assert trips[before:] == [
        trips[0],
        ["EVALSHA"],
    ]  # the read with the check, the refund of the key's tokens; no write
    assert app.test_client().get("/v1/visitors/v-limited").get_json() == counters
    logged = [
        line for path in (limited.data_dir / "decisions").glob("*.jsonl") for line in path.read_text().splitlines()
    ]
    assert sum('"v-limited"' in line for line in logged) == 2  # the warm-up and the one measured; not the refused one

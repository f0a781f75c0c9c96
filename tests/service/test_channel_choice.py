"""The next best channel (issue 14): a placement with channel choose answers the channel to send on, within
consent, quiet hours in the person's time zone and the contact policy; the model learns it from logged decisions."""

import dataclasses
import datetime as dt
import json
import shutil

import numpy as np
import pytest

from journal.decision_log import read_shown_items
from models.catalog import Catalog
from models.journey import JourneyMap
from service import create_app
from tests.redis_trips import count_round_trips

CONTENT = ["story_family_safety", "guide_ev_charging", "review_x5_press"]
"""Items without caps or channel limits: what the outreach placements send."""


def put_outreach(client, placement="outreach", channels=("email", "push", "sms"), **changes):
    body = {
        "slots": 1,
        "candidates": CONTENT,
        "objective": "click",
        "channel": "choose",
        "channels": list(channels),
        "default_items": [CONTENT[0]],
        **changes,
    }
    answer = client.put(f"/v1/placements/{placement}", json=body)
    assert answer.status_code == 200, answer.get_json()


def decide(client, visitor="p1", placement="outreach", **extra):
    answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": placement, **extra})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def profile(client, visitor="p1", **body):
    answer = client.put(f"/v1/visitors/{visitor}/profile", json=body)
    assert answer.status_code == 200, answer.get_json()


def logged(settings) -> list[dict]:
    return [json.loads(x) for f in (settings.data_dir / "decisions").glob("*.jsonl") for x in f.open()]


def test_choose_answers_a_channel_says_why_and_logs_it(model_settings):
    client = create_app(model_settings).test_client()
    put_outreach(client, exploration={"uncertainty_bonus": 0})
    client.post("/v1/events", json={"visitor_id": "p1", "type": "product_view", "item_id": CONTENT[1]})
    decision = decide(client, explain=True)
    assert decision["policy"] == "model" and len(decision["items"]) == 1
    assert decision["channel"] in ("email", "push", "sms")
    why = decision["explain"]["channel"]
    assert why["chosen"] == decision["channel"] and why["permitted"] == ["email", "push", "sms"]
    best = max(why["scores"], key=lambda c: why["scores"][c]["score"])
    assert decision["channel"] == best  # greedy: the channel whose best item scores highest
    assert why["scores"][best]["best_item"] == decision["items"][0]["item_id"]
    [record] = logged(model_settings)
    assert record["channel"] == decision["channel"] and record["channel_propensity"] == 1.0
    shown = read_shown_items(sorted((model_settings.data_dir / "decisions").glob("*.jsonl")))
    assert shown["channel"].tolist() == [decision["channel"]]  # what training, lift and OPE read


def test_the_logged_propensity_is_of_the_item_on_the_channel(model_settings):
    client = create_app(model_settings).test_client()
    put_outreach(client, exploration={"epsilon": 1.0, "uncertainty_bonus": 0})  # uniform over 3 channels, 3 items
    decision = decide(client)
    assert decision["items"][0]["propensity"] == round(1 / 9, 6)
    [record] = logged(model_settings)
    assert record["channel_propensity"] == round(1 / 3, 6) and record["channels_permitted"] == ["email", "push", "sms"]


def test_a_channel_without_consent_is_never_chosen(client):
    put_outreach(client)
    profile(client, consent={"email": False})
    assert decide(client)["channel"] == "push"  # no model: the first permitted channel
    profile(client, consent={"push": False})  # consent merges per key: email stays withdrawn
    assert decide(client)["channel"] == "sms"
    profile(client, consent={"sms": False})
    nothing = decide(client)
    assert nothing["items"] == [] and nothing["channel"] is None
    assert "email: no consent" in nothing["nothing"] and "sms: no consent" in nothing["nothing"]


def test_quiet_hours_hold_push_at_night_in_the_persons_time_zone_not_in_utc(client):
    hour = dt.datetime.now(dt.UTC).hour
    # a window that is night six hours east of UTC (3 hours either side of the person's now), day in UTC
    quiet = {"start": f"{(hour + 3) % 24:02d}:00", "end": f"{(hour + 9) % 24:02d}:00", "channels": ["push"]}
    put_outreach(client, channels=["push", "email"], quiet_hours=quiet)
    profile(client, visitor="east", attributes={"timezone": "Etc/GMT-6"})  # IANA: GMT-6 is UTC+6
    east = decide(client, visitor="east", explain=True)
    assert east["channel"] == "email"
    assert east["explain"]["channel"]["refused"] == {"push": "quiet hours"}
    assert east["explain"]["channel"]["timezone"] == "Etc/GMT-6"
    assert decide(client, visitor="in-utc")["channel"] == "push"  # no timezone: UTC, outside the window
    profile(client, visitor="east", attributes={"timezone": "Etc/GMT-6"}, consent={"email": False})  # a PUT replaces
    assert decide(client, visitor="east")["nothing"] == "no channel may be used (push: quiet hours; email: no consent)"


def test_an_unknown_time_zone_is_refused_at_profile_write(client):
    answer = client.put("/v1/visitors/p1/profile", json={"attributes": {"timezone": "Mars/Olympus_Mons"}})
    assert answer.status_code == 422
    assert "unknown time zone" in answer.get_json()["errors"]["attributes.timezone"][0]


def test_the_contact_limit_stops_a_fourth_email_in_a_week_across_placements(client, settings):
    put_outreach(client, "newsletter", channels=["email"])
    put_outreach(client, "winback", channels=["email"])
    sent = [decide(client, placement=p)["channel"] for p in ("newsletter", "winback", "newsletter")]
    assert sent == ["email"] * 3
    fourth = decide(client, placement="winback", explain=True)
    assert fourth["items"] == [] and fourth["channel"] is None
    assert fourth["nothing"] == "no channel may be used (email: contact policy: 3 of 3 messages this week)"
    assert fourth["explain"]["channel"]["messages_this_week"] == {"email": 3}
    assert decide(client, visitor="someone-else", placement="winback")["channel"] == "email"  # per person
    assert [r["channel"] for r in logged(settings)].count(None) == 1


def test_the_contact_counts_come_back_when_redis_is_rebuilt_from_the_journal(client, settings, redis_backend):
    from journal.rebuild import catalog_item_ids, rebuild
    from models import keys

    put_outreach(client, "newsletter", channels=["email"])
    assert [decide(client, placement="newsletter")["channel"] for _ in range(3)] == ["email"] * 3
    redis_client = redis_backend[2]
    served = {k: v for k, v in redis_client.hgetall(keys.caps_key(settings.tenant, "p1")).items() if b"|o|" in k}
    assert list(served.values()) == [b"3"]
    redis_client.delete(*keys.visitor_keys(settings.tenant, "p1"))  # Redis lost the person's state

    rebuild(
        redis_client,
        settings,
        JourneyMap.load(settings.config_dir / "journey.yaml"),
        catalog_item_ids(redis_client, settings),
    )

    rebuilt = {k: v for k, v in redis_client.hgetall(keys.caps_key(settings.tenant, "p1")).items() if b"|o|" in k}
    assert rebuilt == served
    assert decide(client, placement="newsletter")["channel"] is None  # the limit still holds


def test_the_contact_limit_counts_the_person_on_every_device(client):
    put_outreach(client, channels=["email"])
    for device in ("phone", "laptop"):
        answer = client.post("/v1/identify", json={"visitor_id": device, "user_id": "u-anna"})
        assert answer.status_code == 200, answer.get_json()
    sent = [decide(client, visitor=d)["channel"] for d in ("phone", "laptop", "phone", "laptop")]
    assert sent == ["email", "email", "email", None]


def test_the_contact_limit_is_a_setting(settings):
    client = create_app(dataclasses.replace(settings, contact_limit_per_week=1)).test_client()
    put_outreach(client, channels=["email", "sms"])
    assert [decide(client)["channel"] for _ in range(3)] == ["email", "sms", None]


def test_choosing_a_channel_costs_one_read_and_one_write(model_settings, monkeypatch):
    client = create_app(model_settings).test_client()
    put_outreach(client)
    decide(client)  # warm: catalog cached, scripts loaded
    decide(client, placement="email_block", context={"channel": "email"}, limit=1)
    trips = count_round_trips(monkeypatch)
    decide(client, placement="email_block", context={"channel": "email"}, limit=1)
    plain = list(trips)
    trips.clear()
    assert decide(client)["channel"]
    assert len(trips) == 2, trips
    assert trips[0] == plain[0]  # the same one read as any decision (consent, counts: already in it)
    assert trips[1][0] == "HINCRBY" and trips[1][-1] == "EXPIRE"  # the one write, the message counted in it
    assert len(trips[1]) == len(plain[1]) + 1  # one item each; one more HINCRBY: <day>|o|<channel>


# -- learning per channel ------------------------------------------------------------------------------

EMAIL_ITEM, PUSH_ITEM = "letter_a", "letter_b"
"""Two items alike in every feature the catalog gives (kind, value, tags, stages): what tells them apart per
channel is only their logged response there (item_channel_response_rate)."""
RESPONSE = {
    (EMAIL_ITEM, "email"): 0.5,
    (EMAIL_ITEM, "push"): 0.02,
    (PUSH_ITEM, "email"): 0.02,
    (PUSH_ITEM, "push"): 0.5,
}


@pytest.fixture(scope="module")
def channel_registry(tmp_path_factory):
    """The demo configuration with two alike items, and a real (small) LightGBM bundle trained on logged
    decisions where one is answered on email and the other on push: the channel and the item were drawn at
    random (propensity 1/4 each). Returns (registry, config directory)."""
    from training.train import train

    root = tmp_path_factory.mktemp("channels")
    config_dir = root / "config"
    shutil.copytree(_config_dir(), config_dir)
    with (config_dir / "catalog.yaml").open("a") as catalog:
        for item in (EMAIL_ITEM, PUSH_ITEM):
            catalog.write(f"  - {{id: {item}, kind: content, title: A letter, tags: [letter], value: 1.0}}\n")
    rng = np.random.default_rng(5)
    start = dt.datetime(2025, 3, 3, tzinfo=dt.UTC).timestamp()
    events, decisions = [], []
    for n in range(500):
        visitor, ts = f"c{n}", start + n * 43_200  # every 12 hours: most journeys end within the data's span
        events.append(_event(f"e{n}", visitor, "page_view", ts, "web"))
        events.append(_event(f"v{n}", visitor, "product_view", ts + 3_600, "web"))
        item, channel = rng.choice([EMAIL_ITEM, PUSH_ITEM]), rng.choice(["email", "push"])
        decision_id = f"d{n}"
        decisions.append(
            {
                "decision_id": decision_id,
                "visitor_id": visitor,
                "placement": "outreach",
                "ts": ts + 60,
                "channel": str(channel),
                "items": [{"item_id": str(item), "propensity": 0.25, "position": 0}],
                "reward": ["click"],
                "policy": "model",
            }
        )
        if rng.random() < RESPONSE[(item, channel)]:
            click = _event(f"k{n}", visitor, "click", ts + 120, str(channel))
            events.append({**click, "item_id": str(item), "decision_id": decision_id})
    (root / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (root / "decisions.jsonl").write_text("".join(json.dumps(d) + "\n" for d in decisions))
    train(
        root / "events.jsonl",
        root / "registry",
        JourneyMap.load(config_dir / "journey.yaml"),
        Catalog.load(config_dir),
        decisions_path=root / "decisions.jsonl",
        progress=lambda _: None,
        full_catalog_queries=0,
    )
    return root / "registry", config_dir


def test_the_model_learns_which_channel_each_item_is_answered_on(settings, channel_registry, tmp_path):
    trained, config_dir = channel_registry
    registry = tmp_path / "models"
    shutil.copytree(trained, registry)
    client = create_app(dataclasses.replace(settings, registry=registry, config_dir=config_dir)).test_client()
    for item, channel in ((EMAIL_ITEM, "email"), (PUSH_ITEM, "push")):
        put_outreach(client, candidates=[item], default_items=[item], channels=["push", "email"])
        decision = decide(client, visitor=f"new-{item}", explain=True)
        assert decision["policy"] == "model" and decision["items"][0]["item_id"] == item
        assert decision["channel"] == channel, decision["explain"]["channel"]


def _event(event_id, visitor, kind, ts, channel):
    stamp = dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
    return {"event_id": event_id, "visitor_id": visitor, "type": kind, "timestamp": stamp, "channel": channel}


def _config_dir():
    from tests.conftest import CONFIG_DIR

    return CONFIG_DIR

"""models.channel_choice, the pure part the service and the batch job share: consent, quiet hours, contact
policy, and the channel chosen with its probability."""

import datetime as dt
import json
import zoneinfo

import numpy as np
import pytest

from models import caps
from models.channel_choice import (
    channel_consent,
    channel_probabilities,
    choose_channel,
    contact_counts,
    decide_channel,
    in_quiet_hours,
    person_zone,
    quiet_channels,
)
from models.features import ItemStats

NIGHT = {"start": "21:00", "end": "08:00"}


def at(hour: int, minute: int = 0, zone: str = "UTC") -> float:
    return dt.datetime(2026, 6, 1, hour, minute, tzinfo=zoneinfo.ZoneInfo(zone)).timestamp()


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(20, 59, False), (21, 0, True), (23, 30, True), (3, 0, True), (7, 59, True), (8, 0, False)],
)
def test_quiet_hours_run_over_midnight(hour, minute, quiet):
    assert in_quiet_hours(NIGHT, at(hour, minute), dt.UTC) is quiet


def test_quiet_hours_are_read_in_the_persons_zone():
    noon_utc = at(12)
    tokyo, note = person_zone({"attributes": {"timezone": "Asia/Tokyo"}})  # 21:00 there
    assert note is None and quiet_channels(NIGHT, noon_utc, tokyo) == {"push", "sms", "call_center"}
    assert quiet_channels(NIGHT, noon_utc, dt.UTC) == frozenset()
    assert quiet_channels({**NIGHT, "channels": ["push"]}, noon_utc, tokyo) == {"push"}
    assert in_quiet_hours({"start": "09:00", "end": "17:00"}, noon_utc, dt.UTC)  # a window within one day
    assert not in_quiet_hours({"start": "09:00", "end": "09:00"}, noon_utc, dt.UTC)


def test_an_unusable_zone_reads_as_utc_with_a_note():
    zone, note = person_zone({"attributes": {"timezone": "Mars/Olympus_Mons"}})
    assert zone is dt.UTC and "unknown time zone" in note
    assert person_zone({}) == (dt.UTC, None)


def test_consent_per_channel_follows_require_consent_where_absent():
    profile = {"consent": {"personalization": True, "email": False, "sms": True}}
    assert channel_consent(profile, ["email", "push", "sms"], False) == {"email": False, "push": True, "sms": True}
    assert channel_consent(profile, ["email", "push", "sms"], True) == {"email": False, "push": False, "sms": True}


def test_contact_counts_cover_the_last_seven_days():
    now = at(12)
    today = caps.day_of(now)
    counts = {caps.contact_field(today, "email"): 2, caps.contact_field(today - 6, "email"): 1}
    counts[caps.contact_field(today - 7, "email")] = 5  # a week and a day ago: out of the window
    assert contact_counts(counts, ["email", "push"], now) == {"email": 3, "push": 0}
    assert caps.contact_field(today - 7, "email") in caps.stale_fields(counts, today)


def test_choose_channel_takes_the_best_permitted_and_says_why_not_otherwise():
    scores = {"email": np.array([0.1, 0.3]), "push": np.array([0.5, -np.inf]), "sms": np.array([0.2, 0.9])}
    everyone = dict.fromkeys(scores, True)
    assert choose_channel(scores, list(scores), everyone, (), {})[0] == "sms"
    assert choose_channel(scores, list(scores), {**everyone, "sms": False}, (), {})[0] == "push"
    assert choose_channel(scores, list(scores), everyone, {"sms", "push"}, {})[0] == "email"
    channel, why = choose_channel(scores, list(scores), everyone, {"push"}, {"email": 3, "sms": 4}, limit=3)
    assert channel is None
    assert why == (
        "no channel may be used (email: contact policy: 3 of 3 messages this week; push: quiet hours; "
        "sms: contact policy: 4 of 3 messages this week)"
    )
    tie = {"email": np.array([0.4]), "push": np.array([0.4])}
    assert choose_channel(tie, ["push", "email"], dict.fromkeys(tie, True), (), {})[0] == "push"
    nothing_there = {"email": np.array([-np.inf])}
    assert choose_channel(nothing_there, ["email"], {"email": True}, (), {}) == (
        None,
        "no item may be sent on a permitted channel",
    )


def test_channel_probabilities_sum_to_one_and_favour_the_best():
    best = {"email": 0.2, "push": 0.5, "sms": 0.1}
    assert channel_probabilities(best, {}) == {"email": 0.0, "push": 1.0, "sms": 0.0}
    greedy_ish = channel_probabilities(best, {"epsilon": 0.3})
    assert greedy_ish["push"] == pytest.approx(0.8) and greedy_ish["email"] == pytest.approx(0.1)
    soft = channel_probabilities(best, {"temperature": 0.5})
    assert sum(soft.values()) == pytest.approx(1.0) and max(soft, key=soft.get) == "push"


def test_decide_channel_logs_the_probability_of_what_it_drew():
    scores = {"email": np.array([0.2]), "push": np.array([0.5])}
    rng = np.random.default_rng(0)
    drawn = [
        decide_channel(scores, ["email", "push"], {"email": True, "push": True}, (), {}, 3, {"epsilon": 0.5}, rng)
        for _ in range(400)
    ]
    assert {d.propensity for d in drawn if d.channel == "push"} == {0.75}
    assert {d.propensity for d in drawn if d.channel == "email"} == {0.25}
    assert 60 < sum(d.channel == "email" for d in drawn) < 140  # about a quarter of 400
    assert all(d.reason.startswith("exploration") for d in drawn if d.channel == "email")


def test_item_stats_count_responses_per_channel_and_keep_them_in_the_bundle():
    stats = ItemStats()
    for responded in (True, True, False, False):
        stats.add_impression("x", responded, "email")
    for _ in range(4):
        stats.add_impression("x", False, "push")
    stats.add_impression("x", False, float("nan"))  # a logged decision without a channel: counted overall only
    email, push, none = (stats.channel_rates(["x", "y"], c) for c in ("email", "push", None))
    overall = stats.columns(["x", "y"], None)[2]
    k = ItemStats.PRIOR_IMPRESSIONS
    assert email[0] == pytest.approx((2 + k * overall[0]) / (4 + k)) and push[0] == pytest.approx(
        k * overall[0] / (4 + k)
    )
    assert email[1] == pytest.approx(overall[1])  # never shown on email: the item's own rate
    assert list(none) == [-1.0, -1.0]
    again = ItemStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert list(again.channel_rates(["x"], "email")) == list(email[:1])

"""Lift figures: a hand-made log worked out by hand, insufficient data, the window, and CI coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports.lift import MIN_DECISIONS, MIN_SUCCESSES, lift_from_log, lift_report
from reports.lift_html import render_lift_html
from reports.lift_stats import Z, rate_difference_ci, wilson
from tests import lift_log
from tests.lift_log import DAY, MINUTE, SINCE, T0, UNTIL, decision, event, hand_made_log, write_log


@pytest.fixture
def report(tmp_path, journey):
    return lift_from_log(hand_made_log(tmp_path), journey, since=SINCE, until=UNTIL)


def metrics(report, stage=None):
    (entry,) = report["placements"]
    segment = entry["overall"] if stage is None else next(s for s in entry["stages"] if s["stage"] == stage)
    return segment["metrics"]


# -- intervals against published values ------------------------------------------------------------


@pytest.mark.parametrize(
    "x, n, low, high",
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611)],  # Newcombe 1998a, Table I
)
def test_wilson_interval_matches_newcombe(x, n, low, high):
    assert wilson(x, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(
    "x1, n1, x0, n0, low, high",
    [(56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090), (6, 7, 2, 7, 0.0582, 0.8062)],
)
def test_rate_difference_interval_matches_newcombe_method_10(x1, n1, x0, n0, low, high):
    """Newcombe (1998), 'Interval estimation for the difference between independent proportions', Table II."""
    assert rate_difference_ci(x1, n1, x0, n0) == pytest.approx((low, high), abs=5e-5)


# -- the hand-made log -----------------------------------------------------------------------------


def test_counts_follow_the_definitions(report):
    (entry,) = report["placements"]
    overall = entry["overall"]
    assert overall["personalized"] == {
        "decisions": 70,
        "impressions": 70,
        "visitors": 70,
        "responses": 56,  # 54 by id, 1 last shown, 1 duplicate counted once; late/page_view/orphan are not
        "conversions": 14,  # 13 own + u13 on another device; p14 bought after the window
        "with_value": 14,
        "value": 1400.0,
    }
    assert overall["holdout"]["decisions"] == 80 and overall["holdout"]["responses"] == 48
    assert overall["holdout"]["conversions"] == 8  # h8 bought before its decision
    assert entry["policies"] == {"holdout": 80, "model": 70}
    assert [s["stage"] for s in entry["stages"]] == ["consideration"]
    joined = report["outcomes_joined"]
    assert (joined["by_decision_id"], joined["by_last_shown"], joined["duplicate"]) == (54 + 1 + 48 + 40, 1, 1)
    assert joined["late"] == 1 and joined["orphan"] == 1


def test_response_lift_and_its_intervals_by_hand(report):
    response = metrics(report)["response_rate"]
    assert (response["personalized"], response["holdout"]) == (0.8, 0.6)
    assert response["absolute_lift"] == pytest.approx(0.2)
    assert response["ci"] == pytest.approx([0.0524, 0.3339], abs=5e-5)  # Newcombe's worked example
    assert response["significant"] is True
    # relative: 0.8 / 0.6 - 1, log-ratio se = sqrt((1 - 0.8) / 56 + (1 - 0.6) / 48)
    se = math.sqrt(0.2 / 56 + 0.4 / 48)
    assert response["relative_lift"] == pytest.approx(1 / 3, abs=1e-6)
    expected = [math.exp(math.log(4 / 3) - Z * se) - 1, math.exp(math.log(4 / 3) + Z * se) - 1]
    assert response["relative_ci"] == pytest.approx(expected, abs=1e-6)
    assert response["relative_ci"] == pytest.approx([0.0766, 0.6512], abs=5e-5)


def test_conversion_lift_and_its_interval_by_hand(report):
    conversion = metrics(report)["conversion_rate"]
    assert (conversion["personalized"], conversion["holdout"], conversion["absolute_lift"]) == (0.2, 0.1, 0.1)
    # Wilson, z = 1.96: 14/70 -> (0.2 + z²/140 -/+ z·sqrt(0.2·0.8/70 + z²/19600)) / (1 + z²/70) = (0.123047, 0.308166);
    # 8/80 -> (0.051548, 0.185107). Newcombe: 0.1 - sqrt((0.2 - l1)² + (u0 - 0.1)²), 0.1 + sqrt((u1 - 0.2)² + ...)
    low = 0.1 - math.sqrt((0.2 - 0.123047) ** 2 + (0.185107 - 0.1) ** 2)
    high = 0.1 + math.sqrt((0.308166 - 0.2) ** 2 + (0.1 - 0.051548) ** 2)
    assert conversion["ci"] == pytest.approx([low, high], abs=2e-6)
    assert conversion["ci"] == pytest.approx([-0.0147, 0.2185], abs=5e-5)
    assert conversion["significant"] is False


def test_value_lift_is_welch_by_hand(report):
    value = metrics(report)["value_per_decision"]
    assert (value["personalized"], value["holdout"], value["absolute_lift"]) == (20.0, 10.0, 10.0)
    var1 = (14 * 80**2 + 56 * 20**2) / 69  # 14 decisions worth 100, 56 worth 0, around a mean of 20
    var0 = (8 * 90**2 + 72 * 10**2) / 79
    v1, v0 = var1 / 70, var0 / 80
    df = (v1 + v0) ** 2 / (v1**2 / 69 + v0**2 / 79)
    half = stats.t.ppf(0.975, df) * math.sqrt(v1 + v0)
    assert df == pytest.approx(126.7, abs=0.1)
    assert value["ci"] == pytest.approx([10 - half, 10 + half], abs=1e-6)
    assert value["ci"] == pytest.approx([-1.637, 21.637], abs=1e-3)
    assert value["significant"] is False


def test_headline_names_the_lift_and_the_stage(report):
    (entry,) = report["placements"]
    assert entry["headlines"][0] == (
        "home_hero adds +20.0 pts of response rate (95% CI +5.2 to +33.4) overall; "
        "by stage: adds +20.0 pts (95% CI +5.2 to +33.4) at consideration"
    )
    assert entry["headlines"][1].startswith("home_hero: no significant lift in conversion rate overall (+10.0 pts")


# -- windows ---------------------------------------------------------------------------------------


def test_only_decisions_in_the_window_count_and_only_days_in_range_are_read(report, tmp_path, journey):
    overall = report["placements"][0]["overall"]
    assert (overall["personalized"]["decisions"], overall["holdout"]["decisions"]) == (70, 80)
    # decisions: Mar 2 and 3 (the reward window after until); events: Mar 2 to 9 (the conversion window)
    assert report["read"] == {"decision_files": 2, "event_files": 5, "bad_decision_lines": 0, "bad_event_lines": 0}
    wider = lift_from_log(tmp_path, journey, since=SINCE.timestamp() - DAY, until=UNTIL.timestamp() + DAY)
    overall = wider["placements"][0]["overall"]
    assert (overall["personalized"]["decisions"], overall["holdout"]["decisions"]) == (110, 120)
    assert overall["holdout"]["responses"] == 48 + 40
    cut = lift_from_log(tmp_path, journey, since=T0, until=T0 + 30 * MINUTE)
    overall = cut["placements"][0]["overall"]
    assert (overall["personalized"]["decisions"], overall["holdout"]["decisions"]) == (30, 30)
    march_6 = SINCE.timestamp() + 4 * DAY  # the day of the line cut short: read when asked for
    assert lift_from_log(tmp_path, journey, since=march_6, until=march_6 + DAY)["read"]["bad_decision_lines"] == 1


def test_reward_window_and_types_can_be_changed(tmp_path, journey):
    hand_made_log(tmp_path)
    longer = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL, window_hours=48)
    assert longer["placements"][0]["overall"]["personalized"]["responses"] == 57  # p56's click 30 h later counts
    views = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL, reward_types=("page_view",))
    assert views["placements"][0]["overall"]["personalized"]["responses"] == 1
    assert views["placements"][0]["overall"]["metrics"]["response_rate"]["status"] == "insufficient_data"
    shorter = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL, conversion_window_days=1.5)
    assert shorter["placements"][0]["overall"]["personalized"]["conversions"] == 0


def test_a_placement_that_names_its_reward_counts_that_unless_the_query_names_others(tmp_path, journey):
    decisions, events = [], []
    for group, (carts, clicks) in (("model", (10, 10)), ("holdout", (5, 20))):
        for i in range(40):
            ts, visitor, ident = T0 + i * MINUTE, f"{group}-{i}", f"d-{group}-{i}"
            decisions.append(decision(ident, visitor, ts, group, placement="cart_panel", reward=["add_to_cart"]))
            kind = "add_to_cart" if i < carts else "click" if i < carts + clicks else None
            if kind:
                events.append(event(kind, visitor, ts + MINUTE, ident, "hero_a"))
    write_log(tmp_path, "decisions", decisions)
    write_log(tmp_path, "events", events)
    (own,) = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL)["placements"]
    assert own["reward_types"] == ["add_to_cart"]
    assert (own["overall"]["personalized"]["responses"], own["overall"]["holdout"]["responses"]) == (10, 5)
    (asked,) = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL, reward_types=("click",))["placements"]
    assert asked["reward_types"] == ["click"]
    assert (asked["overall"]["personalized"]["responses"], asked["overall"]["holdout"]["responses"]) == (10, 20)


def test_an_unknown_placement_is_an_empty_report_with_a_note(tmp_path, journey):
    hand_made_log(tmp_path)
    empty = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL, placement="nowhere")
    assert empty["placements"] == [] and "no decisions of placement 'nowhere'" in empty["notes"][0]


# -- insufficient data -----------------------------------------------------------------------------


def groups_log(tmp_path, holdout, personalized=40, responses=(10, 10), conversions=(0, 0), stage="awareness"):
    """A log of one placement with the given numbers of decisions, responses and conversions per group."""
    decisions, events = [], []
    for group, count, clicks, buys in (
        ("model", personalized, responses[0], conversions[0]),
        ("holdout", holdout, responses[1], conversions[1]),
    ):
        for i in range(count):
            ts, visitor, ident = T0 + i * MINUTE, f"{group}-{i}", f"d-{group}-{i}"
            decisions.append(decision(ident, visitor, ts, group, stage=stage))
            if i < clicks:
                events.append(event("click", visitor, ts + MINUTE, ident, "hero_a"))
            if i < buys:
                events.append(event("purchase", visitor, ts + DAY, value=50.0))
    write_log(tmp_path, "decisions", decisions)
    write_log(tmp_path, "events", events)
    return tmp_path


def test_a_group_under_the_minimum_marks_the_segment_insufficient(tmp_path, journey):
    groups_log(tmp_path, holdout=MIN_DECISIONS - 1)
    report = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL)
    (entry,) = report["placements"]
    for segment in (entry["overall"], entry["stages"][0]):
        assert segment["status"] == "insufficient_data" and segment["metrics"] == {}
        assert segment["reason"] == "holdout has 29 decisions (fewer than 30)"
        assert segment["holdout"]["decisions"] == 29  # the counts stay: they say why
    assert entry["headlines"][0].startswith("home_hero: too little data to say whether it adds response rate")
    page = render_lift_html(report)
    assert "<tr class='insufficient'>" in page and "holdout has 29 decisions (fewer than 30)" in page


def test_a_rare_outcome_marks_only_that_metric_insufficient(tmp_path, journey):
    groups_log(tmp_path, holdout=MIN_DECISIONS, conversions=(MIN_SUCCESSES - 1, MIN_SUCCESSES - 1))
    report = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL)
    figures = metrics(report)
    assert figures["response_rate"]["status"] == "ok"
    assert figures["conversion_rate"] == {
        "status": "insufficient_data",
        "reason": "fewer than 5 conversions in both groups (4 personalized, 4 holdout)",
    }
    assert figures["value_per_decision"]["status"] == "insufficient_data"


def test_enough_in_one_group_is_enough_and_a_zero_holdout_has_no_relative_lift(tmp_path, journey):
    groups_log(tmp_path, holdout=MIN_DECISIONS, conversions=(MIN_SUCCESSES, 0))
    conversion = metrics(lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL))["conversion_rate"]
    assert conversion["status"] == "ok" and conversion["holdout"] == 0.0
    assert conversion["relative_lift"] is None and conversion["relative_ci"] is None
    assert conversion["relative_note"] == "undefined: the holdout figure is 0"
    assert conversion["ci"][0] < 0.125 < conversion["ci"][1]  # 5/40 - 0/30


def test_decisions_without_a_stage_are_reported_as_unknown(tmp_path, journey):
    groups_log(tmp_path, holdout=40, stage=None)
    (entry,) = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL)["placements"]
    assert [s["stage"] for s in entry["stages"]] == ["unknown"]


def test_decisions_made_without_context_are_named_in_a_note(tmp_path, journey):
    groups_log(tmp_path, holdout=40)
    outage = [decision(f"o{i}", f"o{i}", T0 + i, "fallback", stage=None, context=None) for i in range(3)]
    no_model = [decision(f"n{i}", f"n{i}", T0 + i, "fallback") for i in range(4)]  # context read, no model loaded
    write_log(tmp_path, "decisions", outage + no_model)
    report = lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL)
    assert report["placements"][0]["policies"] == {"fallback": 7, "holdout": 40, "model": 40}
    assert report["placements"][0]["overall"]["personalized"]["decisions"] == 47  # intention to treat
    assert any(
        note.startswith("3 decisions were made while the context store was unreachable") for note in report["notes"]
    )


# -- coverage by simulation ------------------------------------------------------------------------


def simulated(seed: int, n: int = 4000) -> pd.DataFrame:
    """Per-decision outcomes with known truth: response 12% vs 8%, conversion 3% vs 2%, value 100 on average."""
    rng = np.random.default_rng(seed)
    holdout = rng.random(n) < 0.5
    response = np.where(holdout, 0.08, 0.12)
    conversion = np.where(holdout, 0.02, 0.03)
    converted = rng.random(n) < conversion
    return pd.DataFrame(
        {
            "decision_id": [f"d{i}" for i in range(n)],
            "who": [f"v{i}" for i in range(n)],
            "placement": "home_hero",
            "stage": rng.choice(["awareness", "consideration"], n),
            "policy": np.where(holdout, "holdout", "model"),
            "group": np.where(holdout, "holdout", "personalized"),
            "impressions": 1,
            "responded": rng.random(n) < response,
            "converted": converted,
            "value": np.where(converted, rng.exponential(100.0, n), 0.0),
        }
    )


def test_the_95_percent_intervals_cover_the_true_lift_in_most_seeds(journey):
    truth = {"response_rate": (0.04, 0.5), "conversion_rate": (0.01, 0.5), "value_per_decision": (1.0, 0.5)}
    covered = {(key, kind): 0 for key in truth for kind in ("ci", "relative_ci")}
    widths = []
    for seed in range(20):
        report = lift_report(simulated(seed), journey, since=0.0, until=1.0)
        figures = report["placements"][0]["overall"]["metrics"]
        widths.append(figures["response_rate"]["ci"][1] - figures["response_rate"]["ci"][0])
        for key, (absolute, relative) in truth.items():
            low, high = figures[key]["ci"]
            covered[key, "ci"] += low <= absolute <= high
            low, high = figures[key]["relative_ci"]
            covered[key, "relative_ci"] += low <= relative <= high
    assert all(count >= 17 for count in covered.values()), covered
    # and they are no wider than they need be: 2 z sqrt(p1 q1 / n1 + p0 q0 / n0) at about 2,000 a group
    assert np.mean(widths) == pytest.approx(2 * Z * math.sqrt(0.12 * 0.88 / 2000 + 0.08 * 0.92 / 2000), rel=0.05)


def test_the_response_lift_is_found_at_4000_decisions_in_most_seeds(journey):
    significant = sum(
        lift_report(simulated(seed), journey, since=0.0, until=1.0)["placements"][0]["overall"]["metrics"][
            "response_rate"
        ]["significant"]
        for seed in range(20)
    )
    assert significant >= 15  # power of about 0.99 for 12% vs 8% at 2,000 a group


# -- the page --------------------------------------------------------------------------------------


def test_the_page_is_self_contained_and_escapes_every_text(tmp_path, journey):
    records = [
        decision(f"d{i}", f"v{i}", T0 + i, "holdout" if i % 2 else "model", stage="<b>stage</b>", placement="<script>x")
        for i in range(100)
    ]
    write_log(tmp_path, "decisions", records)
    write_log(tmp_path, "events", [event("click", f"v{i}", T0 + i + 1, f"d{i}", "hero_a") for i in range(0, 100, 3)])
    page = render_lift_html(lift_from_log(tmp_path, journey, since=SINCE, until=UNTIL))
    assert "<script" not in page and "&lt;script&gt;x" in page and "&lt;b&gt;stage&lt;/b&gt;" in page
    assert page.count("<svg") == 2 and "http://www.w3.org/2000/svg" in page
    assert "src=" not in page and "href=" not in page and "<link" not in page


def test_the_hand_made_log_module_describes_its_figures():
    assert "56/70" in lift_log.__doc__  # the docstring is the worked example the tests above check

"""The feature spec: names in a fixed order, rows that match them."""

import numpy as np
import pytest

from models.context import apply_event, new_context
from models.errors import ConfigError
from models.features import CHANNELS, FeatureSpec, ItemStats, channel_response_share
from models.journey import JourneyMap


def test_names_follow_the_journey_map(journey):
    spec = FeatureSpec(journey)
    assert spec.context_names[0] == "stage_idx"
    assert [n for n in spec.context_names if n.startswith("stage_count_")] == [
        f"stage_count_{s}" for s in journey.stages
    ]
    assert len(spec.content_names) == len(spec.context_names) + len(spec.item_names)
    assert spec.signature["content"] == spec.content_names


def test_context_row_values(journey):
    spec = FeatureSpec(journey)
    ctx = new_context("v")
    for ts, kind, channel in [(0.0, "page_view", "web"), (3600.0, "configure_product", "app")]:
        apply_event(ctx, {"event_id": kind, "type": kind, "ts": ts, "channel": channel, "item_id": "x5"}, journey)
    row = dict(zip(spec.context_names, spec.context_row(ctx, now=7200.0, channel="email")))
    assert row["stage_idx"] == journey.stages.index("consideration")
    assert row["stage_count_awareness"] == 1 and row["stage_count_consideration"] == 1
    assert row["channel_count_web"] == 1 and row["channel_count_app"] == 1
    assert row["channel_now"] == CHANNELS.index("email")
    assert row["recent_distinct_items"] == 1
    assert row["lapsed"] == 0.0


def test_cold_start_row_has_no_stage(journey):
    spec = FeatureSpec(journey)
    row = dict(zip(spec.context_names, spec.context_row(new_context("v"), now=0.0)))
    assert row["stage_idx"] == -1 and row["since_last_log"] == -1.0


def test_content_matrix_marks_seen_and_interest_matching_items(journey, catalog):
    spec = FeatureSpec(journey)
    ctx = new_context("v")
    apply_event(ctx, {"event_id": "1", "type": "product_view", "ts": 1.0, "item_id": "accessory_pet_pack"}, journey)
    stats = ItemStats()
    stats.add("accessory_pet_pack", "consideration")
    items = ["accessory_pet_pack", "hero_x5_m_sport"]
    matrix = spec.content_matrix(ctx, 2.0, "web", items, stats, catalog.items, profile={"interests": ["pets"]})
    columns = {name: matrix[:, i] for i, name in enumerate(spec.content_names)}
    assert matrix.shape == (2, len(spec.content_names))
    assert list(columns["item_visitor_count"]) == [1, 0]
    assert list(columns["item_interest_match"]) == [1, 0]
    assert list(columns["item_is_last"]) == [1, 0]
    # one engagement of one: share (1 + 1) / (1 + 1); an item never engaged with: 1 / 2
    assert list(columns["item_pop_share_log"]) == [0.0, np.log(0.5)]


def test_popularity_is_a_share_that_stays_on_one_scale_as_counts_grow():
    early, late = ItemStats(), ItemStats()
    for item in ["a", "b", "a", "c"]:
        early.add(item, None)
    for item in ["a", "b", "a", "c"] * 50:
        late.add(item, None)
    assert early.popularity_share_log("a") < 0
    assert abs(early.popularity_share_log("a") - late.popularity_share_log("a")) < 0.25
    assert late.popularity_share_log("a") > late.popularity_share_log("b") > late.popularity_share_log("unseen")
    restored = ItemStats.from_dict(late.to_dict())
    assert restored.popularity_share_log("a") == late.popularity_share_log("a")


def _responded(journey, *touchpoints):
    """A context after (type, channel) touchpoints, in order."""
    ctx = new_context("v")
    for ts, (kind, channel) in enumerate(touchpoints):
        apply_event(ctx, {"event_id": str(ts), "type": kind, "ts": float(ts), "channel": channel}, journey)
    return ctx


@pytest.mark.parametrize(
    "channel, share",
    [("app", 2 / 3), ("web", 1 / 3), ("email", 0.0), ("kiosk", 0.0), (None, -1.0)],
)
def test_channel_response_share_is_the_channels_share_of_outcome_events(journey, channel, share):
    # two clicks on the app, a dismiss on the web; page views are not responses, nor is a click with no channel
    ctx = _responded(
        journey, ("click", "app"), ("page_view", "app"), ("click", "app"), ("dismiss", "web"), ("click", None)
    )
    assert channel_response_share(ctx, channel) == pytest.approx(share)
    spec = FeatureSpec(journey)
    row = dict(zip(spec.context_names, spec.context_row(ctx, 10.0, channel)))
    assert row["channel_response_share"] == pytest.approx(share)


def test_channel_response_share_is_minus_one_before_any_response(journey):
    browsing = _responded(journey, ("page_view", "app"), ("product_view", "web"))
    assert channel_response_share(browsing, "app") == -1.0
    older = {k: v for k, v in _responded(journey, ("click", "app")).items() if k != "response_counts"}
    assert channel_response_share(older, "app") == -1.0  # a context stored before the counter existed


def test_channel_response_shares_sum_to_one_over_the_channels(journey):
    ctx = _responded(journey, *[("click", c) for c in ("app", "app", "web", "email", "store")])
    shares = [channel_response_share(ctx, c) for c in CHANNELS]
    assert all(0.0 <= s <= 1.0 for s in shares)
    assert sum(shares) == pytest.approx(1.0)


PROFILED = {
    "stages": ["awareness", "conversion"],
    "events": {"page_view": "awareness", "purchase": "conversion"},
    "profile_features": {"tier": ["bronze", "silver", "gold"], "age": "number"},
}


def test_declared_profile_features_follow_the_context_features():
    spec = FeatureSpec(JourneyMap.from_dict(PROFILED))
    assert spec.context_names[-2:] == ["profile_tier", "profile_age"]
    assert spec.content_names[: len(spec.context_names)] == spec.context_names


@pytest.mark.parametrize(
    "profile, expected",
    [
        ({"tier": "gold", "age": 41}, [2.0, 41.0]),
        ({"tier": "silver", "attributes": {"age": "38"}}, [1.0, 38.0]),  # looked up under attributes too
        ({"tier": "platinum", "age": "unknown"}, [None, None]),  # unknown category, not a number: missing
        ({}, [None, None]),
        (None, [None, None]),
    ],
)
def test_profile_values_are_category_positions_and_numbers_nan_when_missing(profile, expected):
    spec = FeatureSpec(JourneyMap.from_dict(PROFILED))
    values = spec.profile_values(profile)
    assert [None if np.isnan(v) else v for v in values] == expected
    row = spec.context_row(new_context("v"), now=0.0, profile=profile)
    assert len(row) == len(spec.context_names)


@pytest.mark.parametrize(
    "declared, message",
    [
        ({"tier": "text"}, "must be 'number' or a list"),
        ({"tier": []}, "distinct category values"),
        ({"tier": ["a", "a"]}, "distinct"),
    ],
)
def test_a_malformed_profile_feature_is_refused_with_its_name(declared, message):
    with pytest.raises(ConfigError, match=message):
        JourneyMap.from_dict({**PROFILED, "profile_features": declared})


def test_profile_features_survive_the_bundle_round_trip():
    journey = JourneyMap.from_dict(PROFILED)
    assert JourneyMap.from_dict(journey.to_dict()) == journey
    assert "profile_features" not in JourneyMap.from_dict({**PROFILED, "profile_features": {}}).to_dict()

"""The feature spec: names in a fixed order, rows that match them."""

import numpy as np

from models.context import apply_event, new_context
from models.features import CHANNELS, FeatureSpec, ItemStats


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
    matrix = spec.content_matrix(ctx, 2.0, "web", items, stats, catalog.items, interests=["pets"])
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

"""Serving's precomputed item columns (models.item_table) give exactly the features and scores of the plain
path training uses, for a real bundle, across catalog edits and live generator snapshots."""

import dataclasses

import numpy as np
import pytest

from models import caps
from models.bundle import ModelBundle
from models.catalog import Catalog, Item
from models.context import apply_event, new_context
from models.item_table import item_table
from models.policy import with_uncertainty_bonus
from models.registry import Registry
from models.retrieval import Retrieval
from models.scoring import score_candidates

NOW = 1_790_000_000.0


@pytest.fixture
def bundle(trained_registry, journey) -> ModelBundle:
    """A fresh copy of the session's real bundle, with logged impressions so every rate column moves."""
    registry = Registry(trained_registry)
    bundle = ModelBundle.load(registry.path(registry.current()), journey)
    stats = bundle.item_stats
    for n, item_id in enumerate(["hero_x5_m_sport", "hero_e2_electric", "guide_ev_charging", "hero_x5_m_sport"]):
        stats.add_impression(item_id, responded=n % 2 == 0, channel="web" if n < 3 else "email")
    return bundle


def _contexts(journey) -> list[dict]:
    browsed = new_context("browser")
    for n, item_id in enumerate(["hero_x3_family_suv", "guide_ev_charging", "hero_x5_m_sport", "guide_ev_charging"]):
        event = {"event_id": str(n), "type": "product_view", "ts": NOW - 3_600 * (4 - n), "item_id": item_id}
        apply_event(browsed, event, journey)
    return [new_context("newcomer"), browsed]


def _plain_and_served(bundle, catalog, ctx, channel, item_ids, profile):
    spec = bundle.spec
    plain = spec.content_matrix(ctx, NOW, channel, item_ids, bundle.item_stats, catalog.items, profile)
    served = spec.content_matrix(
        ctx, NOW, channel, item_ids, bundle.item_stats, catalog.items, profile, table=item_table(bundle, catalog)
    )
    return plain, served


def _assert_identical(bundle, catalog, journey):
    ids = list(catalog.items)
    for ctx in _contexts(journey):
        for channel in (None, "web", "email", "a_channel_never_logged"):
            for profile in ({}, {"interests": ["electric", "suv"]}):
                for item_ids in (ids, ids[::-2]):
                    plain, served = _plain_and_served(bundle, catalog, ctx, channel, item_ids, profile)
                    assert np.array_equal(plain, served, equal_nan=True), (channel, profile, item_ids)
        for placement in catalog.placements.values():
            scored = score_candidates(bundle, catalog, placement, ctx, {}, "web", NOW, ids)
            plain, _ = _plain_and_served(bundle, catalog, ctx, "web", ids, {})
            assert np.array_equal(scored.matrix, plain, equal_nan=True)
            assert np.array_equal(scored.p_response, bundle.content.predict(plain))


def test_the_served_matrix_and_scores_equal_the_plain_ones(bundle, catalog, journey):
    assert bundle.item_stats.shown and bundle.retrieval.items  # the columns read real counts
    _assert_identical(bundle, catalog, journey)


def test_a_catalog_edit_is_never_served_stale(bundle, catalog, journey):
    before = item_table(bundle, catalog)
    changed = dataclasses.replace(catalog.items["guide_ev_charging"], value=42.0, tags=("suv", "new_tag"))
    added = Item(id="brand_new_offer", kind="offer", tags=("electric",), value=7.0, attributes={"model": "e2"})
    edited = Catalog(items={**catalog.items, changed.id: changed, added.id: added}, placements=catalog.placements)
    assert item_table(bundle, edited) is not before
    assert item_table(bundle, catalog) is before  # the old version's table stays with the old catalog
    _assert_identical(bundle, edited, journey)
    _, served = _plain_and_served(bundle, edited, _contexts(journey)[1], "web", ["guide_ev_charging"], {})
    assert served[0, bundle.spec.content_names.index("item_value")] == 42.0


def test_a_new_generator_snapshot_is_read_at_once(bundle, catalog, journey):
    item_table(bundle, catalog)
    bundle.item_stats.signals = Retrieval.empty()  # what service.live_signals does with each snapshot
    _assert_identical(bundle, catalog, journey)


def test_the_uncertainty_bonus_is_the_same_with_the_table(bundle, catalog, journey):
    ids = list(catalog.items)
    today = caps.day_of(NOW)
    impressions = {
        **caps.impression_increments(today, ids[:3], "home_hero", "web"),
        **caps.impression_increments(today - 3, ids[2:5], "home_hero", "web"),
        caps.item_field(today - 9, ids[0]): 5,  # older than the window
    }
    scores = np.linspace(0.5, 0.1, len(ids))
    for ctx in _contexts(journey):
        args = ({"uncertainty_bonus": 0.5}, scores, scores, ids, bundle.item_stats, catalog.items, ctx, impressions)
        plain = with_uncertainty_bonus(*args, NOW)
        served = with_uncertainty_bonus(*args, NOW, item_table(bundle, catalog))
        assert np.array_equal(plain, served)


def test_item_impressions_equal_the_per_item_count():
    today = 20_000
    counts = {
        caps.item_field(today, "a"): 2,
        caps.item_field(today - 6, "a"): 1,
        caps.item_field(today - 7, "a"): 9,
        caps.item_field(today - 1, "b|odd"): 3,
        caps.placement_field(today, "a"): 4,
        caps.channel_field("web"): 8,
        caps.contact_field(today, "email"): 1,
    }
    many = caps.item_impressions(counts, today, 7)
    assert many == {"a": 3, "b|odd": 3}
    for item_id in ("a", "b|odd", "c"):
        assert many.get(item_id, 0) == caps.impressions(counts, "i", item_id, today, 7)

"""Eligibility rules and frequency-cap arithmetic, each removal with its rule."""

import datetime as dt

import pytest

from models.catalog import Catalog, Item, Placement
from models.context import new_context
from service import caps
from service.eligibility import filter_allows, screen

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC).timestamp()


def catalog_of(*items, placement=None):
    placement = placement or Placement.from_dict({"id": "p"})
    return Catalog({i.id: i for i in items}, {placement.id: placement}), placement


@pytest.mark.parametrize(
    "item, context_stage, channel, converted, rule",
    [
        ({"id": "a", "end": "2026-05-01T00:00:00Z"}, None, None, [], "dates"),
        ({"id": "a", "start": "2026-07-01T00:00:00Z"}, None, None, [], "dates"),
        ({"id": "a", "stages": ["loyalty"]}, "awareness", None, [], "stage"),
        ({"id": "a", "channels": ["email"]}, None, "app", [], "channel"),
        ({"id": "a"}, None, None, ["a"], "converted"),
        ({"id": "a", "stages": ["loyalty"]}, None, None, [], None),
    ],
)
def test_each_rule_removes_with_its_name(item, context_stage, channel, converted, rule):
    catalog, placement = catalog_of(Item.from_dict(item))
    context = {**new_context("v"), "stage": context_stage, "converted_items": converted}
    result = screen(["a"], catalog, placement, context, {}, {}, channel, NOW)
    assert [r["rule"] for r in result.removed] == ([rule] if rule else [])
    assert result.eligible == ([] if rule else ["a"])


def test_item_cap_counts_todays_impressions_only():
    item = Item.from_dict({"id": "a", "caps": {"per_visitor_per_day": 3}})
    catalog, placement = catalog_of(item)
    today = caps.day_of(NOW)
    shown_today = {caps.item_field(today, "a"): 3}
    shown_yesterday = {caps.item_field(today - 1, "a"): 3}
    assert screen(["a"], catalog, placement, None, {}, shown_today, None, NOW).removed[0]["rule"] == "cap"
    assert screen(["a"], catalog, placement, None, {}, shown_yesterday, None, NOW).eligible == ["a"]


def test_weekly_cap_sums_seven_day_buckets():
    today = caps.day_of(NOW)
    counts = {caps.item_field(today - d, "a"): 1 for d in range(7)}
    assert caps.cap_reached({"per_visitor_per_week": 7}, counts, "i", "a", today)
    assert caps.cap_reached({"per_visitor_per_week": 8}, counts, "i", "a", today) is None
    assert caps.stale_fields({**counts, caps.item_field(today - 7, "a"): 1, "c|web": 4}, today) == [
        caps.item_field(today - 7, "a")
    ]


MARKET = {"action": "include", "field": "item.attributes.market", "value_from": "profile.market"}
ITEM = Item.from_dict({"id": "a", "kind": "offer", "tags": ["pets"], "attributes": {"market": "uk"}})


@pytest.mark.parametrize(
    "rule, profile, allowed",
    [
        ({"action": "exclude", "field": "item.tags", "op": "contains", "value": "pets"}, {}, False),
        ({"action": "include", "field": "item.kind", "op": "in", "value": ["offer", "action"]}, {}, True),
        (
            {"action": "include", "field": "item.attributes.market", "value_from": "profile.market"},
            {"market": "de"},
            False,
        ),
        (
            {"action": "include", "field": "item.attributes.market", "value_from": "profile.market"},
            {"market": "uk"},
            True,
        ),
        ({"action": "include", "field": "item.attributes.market", "value_from": "profile.market"}, {}, True),
    ],
)
def test_placement_filters(rule, profile, allowed):
    assert filter_allows({"op": "equals", **rule}, ITEM, profile) is allowed

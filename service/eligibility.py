"""Which candidates may be shown to this visitor now; every removal carries the rule that made it."""

from __future__ import annotations

import dataclasses
import datetime as dt

from models.catalog import Catalog, Item, Placement
from service import caps


@dataclasses.dataclass
class Screened:
    eligible: list[str]
    removed: list[dict]


def screen(
    candidates: list[str],
    catalog: Catalog,
    placement: Placement,
    context: dict | None,
    profile: dict,
    impressions: dict[str, int],
    channel: str | None,
    now: float,
) -> Screened:
    """Apply, in order: dates, stage, channel, already converted, placement filters, item caps."""
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    stage = context["stage"] if context else None
    converted = set(context["converted_items"]) if context else set()
    today = caps.day_of(now)
    eligible, removed = [], []
    for item_id in candidates:
        item = catalog.items[item_id]
        rule = _first_failing_rule(item, placement, stage, channel, converted, moment, profile, impressions, today)
        if rule:
            removed.append({"item_id": item_id, "rule": rule[0], "detail": rule[1]})
        else:
            eligible.append(item_id)
    return Screened(eligible, removed)


def _first_failing_rule(item: Item, placement, stage, channel, converted, moment, profile, impressions, today):
    if not item.live_at(moment):
        return "dates", f"live from {item.start} until {item.end}"
    if item.stages and stage is not None and stage not in item.stages:
        return "stage", f"shown at {list(item.stages)}, visitor is at {stage}"
    if item.channels and channel is not None and channel not in item.channels:
        return "channel", f"shown on {list(item.channels)}, request is on {channel}"
    if item.id in converted:
        return "converted", "the visitor already bought it"
    for index, rule in enumerate(placement.filters):
        if not filter_allows(rule, item, profile):
            return "filter", f"placement filter {index}: {rule['action']} {rule['field']} {rule['op']}"
    reached = caps.cap_reached(item.caps, impressions, "i", item.id, today)
    if reached:
        return "cap", reached
    return None


def filter_allows(rule: dict, item: Item, profile: dict) -> bool:
    """An include rule must match; an exclude rule must not. A rule comparing with a profile
    attribute the visitor does not have is not applied."""
    if rule.get("value_from"):
        expected = _lookup(profile, rule["value_from"].removeprefix("profile."))
        if expected is None:
            return True
    else:
        expected = rule.get("value")
    actual = _item_value(item, rule["field"])
    op = rule.get("op", "equals")
    if op == "equals":
        matched = actual == expected
    elif op == "in":
        matched = isinstance(expected, list | tuple) and actual in expected
    else:  # contains
        matched = isinstance(actual, list | tuple) and expected in actual
    return matched if rule["action"] == "include" else not matched


def _item_value(item: Item, field: str):
    if field == "item.tags":
        return list(item.tags)
    if field in ("item.kind", "item.id"):
        return getattr(item, field.removeprefix("item."))
    return _lookup(item.attributes, field.removeprefix("item.attributes."))


def _lookup(data: dict, dotted: str):
    value = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value

"""The journey reducer: folds touchpoints into a visitor's compact context, online and offline alike."""

from __future__ import annotations

import json
from typing import TypedDict

from models import context_codec
from models.journey import JourneyMap

CONTEXT_VERSION = 1
CONVERSION_TYPES = ("purchase", "repeat_purchase")
"""Event types that mark their item as converted on (no more ads for what was just bought)."""


def profile_key(event: dict) -> str:
    """Whose context a touchpoint belongs to: the known customer if given, else the device/visitor."""
    return event.get("user_id") or event["visitor_id"]


class RecentTouch(TypedDict):
    """One touchpoint as the context keeps it (newest first in `recent`)."""

    event_id: str
    type: str
    ts: float
    stage: str | None
    channel: str | None
    item_id: str | None


class VisitorContext(TypedDict):
    """The reduced context of one visitor (or known customer): the record Redis caches and the models read.

    Version `v` is CONTEXT_VERSION; `from_json` upgrades older stored records field by field.
    """

    v: int
    visitor_id: str
    user_id: str | None
    stage: str | None
    stage_since: float | None
    max_stage: str | None
    first_ts: float | None
    last_ts: float | None
    n_events: int
    value_total: float
    stage_counts: dict[str, int]
    channel_counts: dict[str, int]
    response_counts: dict[str, int]
    type_counts: dict[str, int]
    last_item_by_type: dict[str, str]
    converted_items: list[str]
    recent: list[RecentTouch]


CONTEXT_FIELDS = tuple(VisitorContext.__annotations__)


def new_context(visitor_id: str) -> VisitorContext:
    """The context of a visitor never seen before (cold start).

    Every field is bounded, whatever the visitor sends (ids are at most 128 characters, types 64,
    channels 32: models.events):
    scalars (`visitor_id` ... `value_total`): one value each;
    `stage_counts`: one counter per stage of the journey map;
    `channel_counts`, `response_counts`: one per channel of the map, plus `other` (JourneyMap.counted_channel);
    `type_counts`, `last_item_by_type`: one per event type of the map, plus `other` (JourneyMap.counted_type);
    `converted_items`, `recent`: at most `recent_cap` entries (the newest).
    """
    return {
        "v": CONTEXT_VERSION,
        "visitor_id": visitor_id,
        "user_id": None,
        "stage": None,
        "stage_since": None,
        "max_stage": None,
        "first_ts": None,
        "last_ts": None,
        "n_events": 0,
        "value_total": 0.0,
        "stage_counts": {},
        "channel_counts": {},
        "response_counts": {},
        "type_counts": {},
        "last_item_by_type": {},
        "converted_items": [],
        "recent": [],
    }


def to_json(ctx: VisitorContext) -> bytes:
    """The stored form of a context (models.context_codec, format 2: compact, lossless): live ingestion, the
    identity merge and the rebuild all write with this, so the same events give the same bytes.
    (The name stays from when it was JSON; `from_json` still reads those records.)"""
    return context_codec.encode(ctx)


def from_json(data: bytes | str | None, visitor_id: str) -> VisitorContext:
    """A stored context (format 2, or the JSON of format 1), or a new one for `visitor_id` when there is none.

    A record of an older version (stored before a field existed, e.g. `response_counts`) gets the field,
    empty; fields this version does not know (a newer writer's, during a rolling upgrade) are dropped;
    either way every field comes in `new_context`'s order and `v` is this version.
    """
    if not data:
        return new_context(visitor_id)
    if isinstance(data, str):
        data = data.encode()
    stored = json.loads(data) if data[:1] == b"{" else context_codec.decode(data)
    context = new_context(stored.get("visitor_id", visitor_id))
    context.update({name: stored[name] for name in CONTEXT_FIELDS if name in stored and name != "v"})
    return context


def copy_context(ctx: VisitorContext) -> VisitorContext:
    """A copy `apply_event` may fold into without changing `ctx`: every dict and list of it is copied (their
    entries are never changed in place, only replaced), whatever fields the context gains."""
    return {name: value.copy() if isinstance(value, dict | list) else value for name, value in ctx.items()}


def apply_event(ctx: VisitorContext, event: dict, journey: JourneyMap, recent_cap: int = 50) -> VisitorContext:
    """Fold one canonical event into `ctx` (mutated and returned).

    Events may arrive late: a late one is counted and placed in time order in `recent`,
    but never moves the current stage backwards in time (stale writes do not win).
    """
    ts = event["ts"]
    stage = journey.stage_of(event["type"])
    is_latest = ctx["last_ts"] is None or ts >= ctx["last_ts"]

    ctx["n_events"] += 1
    if ctx["first_ts"] is None or ts < ctx["first_ts"]:
        ctx["first_ts"] = ts
    if is_latest:
        ctx["last_ts"] = ts
    if event.get("user_id"):
        ctx["user_id"] = event["user_id"]
    if event.get("value"):
        ctx["value_total"] += float(event["value"])
    counted_type = journey.counted_type(event["type"])
    _increment(ctx["type_counts"], counted_type)
    if event.get("channel"):
        channel = journey.counted_channel(event["channel"])
        _increment(ctx["channel_counts"], channel)
        if event["type"] in journey.outcomes:
            _increment(ctx.setdefault("response_counts", {}), channel)
    if stage is not None:
        _increment(ctx["stage_counts"], stage)
        if is_latest and stage != ctx["stage"]:
            ctx["stage"] = stage
            ctx["stage_since"] = ts
        if journey.stage_index(stage) > journey.stage_index(ctx["max_stage"]):
            ctx["max_stage"] = stage
    item_id = event.get("item_id")
    if item_id:
        if is_latest:
            _insert_sorted(ctx["last_item_by_type"], counted_type, item_id)
        if event["type"] in CONVERSION_TYPES and item_id not in ctx["converted_items"]:
            ctx["converted_items"] = (ctx["converted_items"] + [item_id])[-recent_cap:]
    _insert_recent(ctx, event, stage, recent_cap)
    return ctx


def _increment(counts: dict, key: str) -> None:
    if key in counts:
        counts[key] += 1
    else:
        _insert_sorted(counts, key, 1)


def _insert_sorted(mapping: dict, key: str, value) -> None:
    """Keys stay in sorted order, so the context's stored form does not depend on the order events arrived in
    (a rebuild from the journal replays them in time order and must write the same bytes)."""
    known = key in mapping
    mapping[key] = value
    if not known and list(mapping) != sorted(mapping):
        ordered = sorted(mapping.items())
        mapping.clear()
        mapping.update(ordered)


def _insert_recent(ctx: dict, event: dict, stage: str | None, cap: int) -> None:
    entry = {
        "event_id": event["event_id"],
        "type": event["type"],
        "ts": event["ts"],
        "stage": stage,
        "channel": event.get("channel"),
        "item_id": event.get("item_id"),
    }
    recent = ctx["recent"]
    position = 0
    while position < len(recent) and recent[position]["ts"] > event["ts"]:
        position += 1
    recent.insert(position, entry)
    del recent[cap:]


def merge_contexts(person: VisitorContext, device: VisitorContext, journey: JourneyMap, recent_cap: int = 50):
    """The person's context with a device's anonymous context folded in (a new context; neither is changed).

    It equals replaying both contexts' events through `apply_event` in time order, which is what the
    rebuild does, when one history ends before the other begins (anonymous browsing, then a login): the
    earlier context's events come first, counters add up, the later context's stage and last items win.
    When the two histories interleave, the stage's start and the last item per type follow the later
    context (the rebuild, replaying every event in order, may place them a little differently).
    The result keeps the person's `visitor_id` and `user_id`.
    """
    if not device["n_events"]:
        return copy_context(person)
    if not person["n_events"]:
        merged = copy_context(device)
        merged["visitor_id"], merged["user_id"] = person["visitor_id"], person["user_id"]
        return merged
    older, newer = sorted((device, person), key=lambda c: (c["last_ts"], c is person))
    merged = copy_context(person)
    merged["n_events"] = older["n_events"] + newer["n_events"]
    merged["value_total"] = older["value_total"] + newer["value_total"]
    merged["first_ts"] = min(older["first_ts"], newer["first_ts"])
    merged["last_ts"] = max(older["last_ts"], newer["last_ts"])
    for name in ("stage_counts", "channel_counts", "response_counts", "type_counts"):
        summed = dict(older.get(name) or {})
        for key, count in (newer.get(name) or {}).items():
            summed[key] = summed.get(key, 0) + count
        merged[name] = dict(sorted(summed.items()))
    if newer["stage"] is None:
        merged["stage"], merged["stage_since"] = older["stage"], older["stage_since"]
    else:
        one_run = set(newer["stage_counts"]) == {newer["stage"]} and older["stage"] == newer["stage"]
        merged["stage"] = newer["stage"]
        merged["stage_since"] = older["stage_since"] if one_run else newer["stage_since"]
    merged["max_stage"] = max((older["max_stage"], newer["max_stage"]), key=journey.stage_index)
    merged["last_item_by_type"] = dict(sorted({**older["last_item_by_type"], **newer["last_item_by_type"]}.items()))
    converted = list(older["converted_items"])
    for item_id in newer["converted_items"]:
        if item_id not in converted:
            converted = (converted + [item_id])[-recent_cap:]
    merged["converted_items"] = converted
    # newest first; at equal instants the later-replayed (newer) context's touch first, as _insert_recent does
    merged["recent"] = sorted(newer["recent"] + older["recent"], key=lambda t: -t["ts"])[:recent_cap]
    return merged

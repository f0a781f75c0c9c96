"""The feature spec: one function from (context, moment) to numbers, for training and serving alike."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from models.catalog import ITEM_KINDS, Item
from models.journey import JourneyMap

if TYPE_CHECKING:
    from models.item_table import ItemTable
from models.retrieval import SIGNAL_NAMES, Retrieval, signal_block, tag_profile

FEATURE_SPEC_VERSION = "6"
"""5: the candidate generators' signals (models.retrieval.SIGNAL_NAMES) joined the item features.
6: push and sms have channel codes of their own (they were `other`), so the models tell the outbound
channels apart, and `item_channel_response_rate` (the item's logged response rate on the decision's
channel) joined the item features: the next best channel, docs/channels.md."""
DEFAULT_RECENT_CAP = 50
"""What every bundle before `feature_settings` was trained with (models.context.apply_event's default)."""
CHANNELS = ("web", "app", "email", "store", "call_center", "social", "ads", "push", "sms", "other")
_LOG_DAY = math.log1p(86_400.0)


class FeatureSpec:
    """Ordered feature names and the vectorised code that fills them, for one journey map."""

    def __init__(self, journey: JourneyMap, recent_cap: int = DEFAULT_RECENT_CAP):
        self.journey = journey
        self.recent_cap = recent_cap
        """How many recent touchpoints the features read: what the model was trained with, so that a
        context that keeps more (the service's recent_events_cap) is read as training read it."""
        self._stage_index = {s: i for i, s in enumerate(journey.stages)}
        self._channel_index = {c: i for i, c in enumerate(CHANNELS)}
        self.context_names = [
            "stage_idx",
            "max_stage_idx",
            "lapsed",
            "n_events_log",
            "value_total_log",
            "since_last_log",
            "in_stage_log",
            "days_active",
            "hour",
            "weekday",
            "last_event_stage_idx",
            "recent_distinct_items",
            "channel_now",
            "channel_response_share",
            *(f"stage_count_{s}" for s in journey.stages),
            *(f"channel_count_{c}" for c in CHANNELS),
            *(f"profile_{name}" for name in journey.profile_features),
        ]
        self.item_names = [
            "item_pop_share_log",
            "item_stage_share",
            "item_response_rate",
            "item_visitor_count",
            "item_is_last",
            "item_value",
            "item_stage_eligible",
            "item_interest_match",
            "item_kind",
            "position",
            "item_channel_response_rate",
            *SIGNAL_NAMES,
        ]
        self.content_names = self.context_names + self.item_names

    @property
    def signature(self) -> dict:
        """What a bundle records and loading compares: spec version and ordered names."""
        return {
            "version": FEATURE_SPEC_VERSION,
            "next_stage": list(self.context_names),
            "content": list(self.content_names),
        }

    def channel_code(self, channel: str | None) -> int:
        if not channel:
            return -1
        return self._channel_index.get(channel, self._channel_index["other"])

    def context_row(
        self, ctx: dict, now: float, channel: str | None = None, profile: dict | None = None
    ) -> list[float]:
        """Context features of one visitor at epoch second `now`, with the map's profile features."""
        stage_idx = self._stage_index.get(ctx["stage"], -1)
        last_ts = ctx["last_ts"]
        since_last = max(now - last_ts, 0.0) if last_ts is not None else -1.0
        in_stage = max(now - ctx["stage_since"], 0.0) if ctx["stage_since"] is not None else -1.0
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        recent = ctx["recent"][: self.recent_cap]
        last_stage = self._stage_index.get(recent[0]["stage"], -1) if recent else -1
        channel_counts = [0.0] * len(CHANNELS)
        for name, count in ctx["channel_counts"].items():
            channel_counts[self._channel_index.get(name, len(CHANNELS) - 1)] += count
        stage_counts = ctx["stage_counts"]
        return [
            stage_idx,
            self._stage_index.get(ctx["max_stage"], -1),
            1.0 if since_last > self.journey.lapse_after_days * 86_400 else 0.0,
            math.log1p(ctx["n_events"]),
            math.log1p(max(ctx["value_total"], 0.0)),
            math.log1p(since_last) / _LOG_DAY if since_last >= 0 else -1.0,
            math.log1p(in_stage) / _LOG_DAY if in_stage >= 0 else -1.0,
            (last_ts - ctx["first_ts"]) / 86_400 if last_ts is not None else 0.0,
            moment.hour,
            moment.weekday(),
            last_stage,
            len({e["item_id"] for e in recent if e["item_id"]}),
            self.channel_code(channel),
            channel_response_share(ctx, channel),
            *(stage_counts.get(s, 0) for s in self.journey.stages),
            *channel_counts,
            *self.profile_values(profile),
        ]

    def profile_values(self, profile: dict | None) -> list[float]:
        """The declared profile attributes as numbers: a category's position, NaN where absent or unknown."""
        raw = self.journey.profile_attributes(profile)
        values = []
        for name, categories in self.journey.profile_features.items():
            value = raw[name]
            if categories is not None:
                values.append(float(categories.index(str(value))) if str(value) in categories else math.nan)
            else:
                values.append(_number(value))
        return values

    def content_matrix(
        self,
        ctx: dict,
        now: float,
        channel: str | None,
        item_ids: list[str],
        item_stats: ItemStats,
        catalog_items: dict[str, Item],
        profile: dict | None = None,
        positions: list[int] | None = None,
        context_row: list[float] | None = None,
        table: ItemTable | None = None,
    ) -> np.ndarray:
        """One row per candidate: the visitor's context (and profile) beside each item's features; `table`:
        serving's precomputed item columns for this item stats and catalog (models.item_table)."""
        base = context_row if context_row is not None else self.context_row(ctx, now, channel, profile)
        interests = (profile or {}).get("interests") or ()
        matrix = np.empty((len(item_ids), len(self.content_names)), dtype=np.float64)
        matrix[:, : len(base)] = base
        matrix[:, len(base) :] = self.item_block(
            ctx, item_ids, item_stats, catalog_items, interests, positions, now, channel, table
        )
        return matrix

    def item_block(
        self, ctx, item_ids, item_stats, catalog_items, interests=(), positions=None, now=None, channel=None, table=None
    ) -> np.ndarray:
        """Item-side features for each candidate, given the visitor's context; with `table` (serving), what
        does not depend on the visitor is gathered from it: the same numbers."""
        stage = ctx["stage"]
        seen: dict[str, int] = {}  # touches per item, and (newest first) each item's latest touch: one pass
        latest: dict[str, float] = {}
        for entry in ctx["recent"][: self.recent_cap]:
            item_id = entry["item_id"]
            if item_id:
                if item_id in seen:
                    seen[item_id] += 1
                else:
                    seen[item_id], latest[item_id] = 1, entry["ts"]
        distinct = list(latest.items())  # models.retrieval.recent_items
        last_item = distinct[0][0] if distinct else None
        interests = set(interests or ())
        block = np.empty((len(item_ids), len(self.item_names)), dtype=np.float64)
        own = len(self.item_names) - len(SIGNAL_NAMES)
        signals = item_stats.signals or _no_signals()
        rows = table.rows(item_ids) if table is not None and table.stats is item_stats else None
        tags = tag_profile(distinct, catalog_items)
        known = None
        if rows is not None:  # the tag columns are read only for a visitor with a tag profile
            tag_sets = [set(table.tags[r]) if table.tags[r] else None for r in rows] if tags else []
            known = (tag_sets, *table.signal_columns(signals, rows, item_ids))
        block[:, own:] = signal_block(
            signals, distinct, ctx["last_ts"] if now is None else now, item_ids, catalog_items, tags, known
        )
        n = len(item_ids)
        block[:, 3] = np.fromiter((seen.get(i, 0) for i in item_ids), dtype=np.float64, count=n)
        block[:, 4] = np.fromiter((i == last_item for i in item_ids), dtype=np.float64, count=n)
        block[:, 9] = positions if positions is not None else 0
        if rows is not None:
            stage_share, stage_eligible = table.stage_columns(stage)
            block[:, 0], block[:, 1], block[:, 2] = table.share[rows], stage_share[rows], table.response_rate[rows]
            block[:, 5], block[:, 6], block[:, 8] = table.value[rows], stage_eligible[rows], table.kind[rows]
            block[:, 7] = [len(interests.intersection(table.tags[r])) for r in rows] if interests else 0.0
            block[:, CHANNEL_RATE_COLUMN] = table.channel_rates(channel)[rows]
            return block
        block[:, 0], block[:, 1], block[:, 2] = item_stats.columns(item_ids, stage)
        block[:, 5:9] = (1.0, 1.0, 0.0, -1.0)  # an item the catalog does not hold
        for row, item_id in enumerate(item_ids):
            item = catalog_items.get(item_id)
            if item is not None:
                block[row, 5:9] = (
                    item.value,
                    1.0 if not item.stages or stage in item.stages else 0.0,
                    len(interests.intersection(item.tags)),
                    ITEM_KINDS.index(item.kind),
                )
        block[:, CHANNEL_RATE_COLUMN] = item_stats.channel_rates(item_ids, channel)
        return block


CHANNEL_RATE_COLUMN = 10
"""`item_channel_response_rate`'s place among the item features: the one item feature that depends on the
channel (models.scoring.score_channels sets it per channel)."""
_EMPTY: list[Retrieval] = []


def _no_signals() -> Retrieval:
    if not _EMPTY:
        _EMPTY.append(Retrieval.empty())
    return _EMPTY[0]


def _number(value) -> float:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def channel_response_share(ctx: dict, channel: str | None) -> float:
    """Share of the visitor's responses (outcome events) that came on this channel; -1 if none yet."""
    responses = ctx.get("response_counts") or {}
    total = sum(responses.values())
    return responses.get(channel, 0) / total if total and channel else -1.0


class ItemStats:
    """Per-item counts from the training data: engagements (overall and per stage), and, where
    decisions were logged, impressions and responses (for a smoothed response rate)."""

    PRIOR_IMPRESSIONS = 20.0

    def __init__(self, counts: dict[str, dict[str, int]] | None = None, shown=None, responded=None, by_channel=None):
        self.counts = counts or {}
        self.shown: dict[str, int] = shown or {}
        self.responded: dict[str, int] = responded or {}
        self.by_channel: dict[str, dict[str, list[int]]] = by_channel or {}
        """channel -> item -> [impressions, responses] on that channel, from logged decisions."""
        self._totals = {item: sum(by_stage.values()) for item, by_stage in self.counts.items()}
        self._grand_total = sum(self._totals.values())
        self._ranked: dict[str | None, tuple[int, list[str]]] = {}
        self.signals: Retrieval | None = None
        """The candidate generators as of the same moment (models.retrieval): online in training, the
        bundle's frozen form in serving; None reads as no signal."""

    def to_dict(self) -> dict:
        return {
            "engagements": self.counts,
            "shown": self.shown,
            "responded": self.responded,
            "by_channel": self.by_channel,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> ItemStats:
        return cls(raw.get("engagements"), raw.get("shown"), raw.get("responded"), raw.get("by_channel"))

    def add(self, item_id: str, stage: str | None) -> None:
        by_stage = self.counts.setdefault(item_id, {})
        key = stage or "none"
        by_stage[key] = by_stage.get(key, 0) + 1
        self._totals[item_id] = self._totals.get(item_id, 0) + 1
        self._grand_total += 1

    def add_impression(self, item_id: str, responded: bool, channel: str | None = None) -> None:
        self.shown[item_id] = self.shown.get(item_id, 0) + 1
        if responded:
            self.responded[item_id] = self.responded.get(item_id, 0) + 1
        if isinstance(channel, str) and channel:  # a logged decision without a channel reads as NaN or None
            counts = self.by_channel.setdefault(channel, {}).setdefault(item_id, [0, 0])
            counts[0] += 1
            counts[1] += bool(responded)

    def channel_rates(self, item_ids: list[str], channel: str | None) -> np.ndarray:
        """Each item's responses per impression on `channel`, smoothed toward the item's own rate (its
        `response_rate`); -1 where no decision was logged, or without a channel."""
        n = len(item_ids)
        if not self.shown or not channel:
            return np.full(n, -1.0)
        on = self.by_channel.get(channel, {})
        none = (0, 0)
        counts = np.asarray([on.get(i, none) for i in item_ids], dtype=np.float64).reshape(n, 2)
        _, _, overall = self.columns(item_ids, None)
        k = self.PRIOR_IMPRESSIONS
        return (counts[:, 1] + k * overall) / (counts[:, 0] + k)

    def response_rate(self, item_id: str) -> float:
        """Responses per impression, smoothed toward the overall rate; -1 when nothing was logged."""
        if not self.shown:
            return -1.0
        overall = (sum(self.responded.values()) + 1) / (sum(self.shown.values()) + 2)
        k = self.PRIOR_IMPRESSIONS
        return (self.responded.get(item_id, 0) + k * overall) / (self.shown.get(item_id, 0) + k)

    def columns(self, item_ids: list[str], stage: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """popularity_share_log, stage_share and response_rate for each item, a column at a time."""
        n, key = len(item_ids), stage or "none"
        totals = np.fromiter((self._totals.get(i, 0) for i in item_ids), dtype=np.float64, count=n)
        empty: dict = {}
        at_stage = np.fromiter((self.counts.get(i, empty).get(key, 0) for i in item_ids), dtype=np.float64, count=n)
        share = np.log((totals + 1) / (self._grand_total + 1))
        stage_share = np.divide(at_stage, totals, out=np.zeros(n), where=totals > 0)
        if not self.shown:
            return share, stage_share, np.full(n, -1.0)
        overall = (sum(self.responded.values()) + 1) / (sum(self.shown.values()) + 2)
        k = self.PRIOR_IMPRESSIONS
        responded = np.fromiter((self.responded.get(i, 0) for i in item_ids), dtype=np.float64, count=n)
        shown = np.fromiter((self.shown.get(i, 0) for i in item_ids), dtype=np.float64, count=n)
        return share, stage_share, (responded + k * overall) / (shown + k)

    def total(self, item_id: str) -> int:
        return self._totals.get(item_id, 0)

    def popularity_share_log(self, item_id: str) -> float:
        """log of the item's share of all engagements so far (add-one smoothed).

        A share, not a count: replayed point in time, counts only grow, so a model that learned
        "a count above k means a response" grew overconfident on later data (YOOCHOOSE: log loss
        0.63 on the later days against 0.31 in training time); the share stays on one scale.
        """
        return math.log((self._totals.get(item_id, 0) + 1) / (self._grand_total + 1))

    def stage_share(self, item_id: str, stage: str | None) -> float:
        total = self._totals.get(item_id, 0)
        if not total:
            return 0.0
        return self.counts[item_id].get(stage or "none", 0) / total

    def most_popular(self, stage: str | None = None) -> list[str]:
        """Item ids by engagement, at a stage if given (ties broken by overall count, then id)."""
        key = stage or "none"
        cached = self._ranked.get(stage)
        if cached is not None and cached[0] == self._grand_total:  # serving asks per decision; training adds
            return cached[1]

        def rank(item_id):
            return (-self.counts[item_id].get(key, 0) if stage else 0, -self._totals[item_id], item_id)

        ranked = sorted(self.counts, key=rank)
        self._ranked[stage] = (self._grand_total, ranked)
        return ranked

"""Full-catalog evaluation: rank every item for each later engagement, as a service with retrieval would.

Protocol (docs/evaluation.md): the events are split by time where `train` splits them. Every later
engagement (an event with an item whose type bears a stage in the journey map: what the content model
learns from) is a query: the visitor's state just before it (their engagements in time order, training
and earlier test ones alike; their stage) and the item engaged with, the target. A scorer scores the
whole universe (every item of the training slice, and the catalog's when it belongs to the data); the
target's rank gives HR@10, HR@20, NDCG@10 and MRR@20, ties counted exactly at their expectation under a
random order, each with a 95 % normal-approximation interval whose variance is clustered by visitor.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from models.journey import JourneyMap
from training.replay import profile_keys

METRICS = ("hit_rate@10", "hit_rate@20", "ndcg@10", "mrr@20")
Z95 = 1.959964
CHUNK_CELLS = 8_000_000
"""Scores held at once per scorer (queries x universe): 64 MB of float64."""


@dataclasses.dataclass
class TrainingLog:
    """The training slice's engagements, in time order, as universe indices: all a baseline may fit on."""

    universe: list
    item: np.ndarray
    who: np.ndarray
    """Integer code of the profile key (user, else visitor)."""
    stage: np.ndarray

    @property
    def popularity(self) -> np.ndarray:
        return np.bincount(self.item, minlength=len(self.universe)).astype(np.float64)


@dataclasses.dataclass
class Queries:
    """One row per later engagement; `history[start[i]:end[i]]` are query i's earlier engagements, oldest first.

    History items and targets are universe indices, -1 for an item the training slice never had.
    """

    who: np.ndarray
    ts: np.ndarray
    stage: np.ndarray
    target: np.ndarray
    start: np.ndarray
    end: np.ndarray
    history: np.ndarray
    event_row: np.ndarray
    """The query's event: its row in the events frame (which must not be re-sorted after building)."""
    seen: np.ndarray
    """Whether the target is among the visitor's earlier engagements."""

    def __len__(self) -> int:
        return len(self.target)

    def take(self, rows: np.ndarray | slice) -> Queries:
        """The queries at `rows`, sharing the history."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return Queries(**{name: value if name == "history" else value[rows] for name, value in fields.items()})

    def recent(self, i: int, limit: int | None = None) -> np.ndarray:
        """Query i's history items in the universe, newest first, each once, at most `limit`."""
        items = self.history[self.start[i] : self.end[i]][::-1]
        items = items[items >= 0]
        _, first = np.unique(items, return_index=True)
        distinct = items[np.sort(first)]
        return distinct[:limit] if limit is not None else distinct


class Scorer(Protocol):
    name: str

    def scores(self, queries: Queries) -> np.ndarray:
        """(len(queries), len(universe)) scores; higher ranks first."""


def split_log(
    events: pd.DataFrame, journey: JourneyMap, cutoff: float, catalog_items=(), max_queries: int | None = None
) -> tuple[TrainingLog, Queries]:
    """The training log (engagements before `cutoff`) and the queries (engagements from it on).

    `events` sorted by time, as read_events returns them. With `max_queries`, a fixed-seed uniform
    sample of the queries (histories still hold every earlier engagement).
    """
    who_key = profile_keys(events)
    stage = events["type"].map(journey.events)
    engaged = (events["item_id"].notna() & stage.notna()).to_numpy()
    ts = events["ts"].to_numpy(dtype=float)
    train = engaged & (ts < cutoff)
    universe = sorted(set(events["item_id"][train].unique()) | set(catalog_items))
    index = {item: i for i, item in enumerate(universe)}
    who_codes, _ = pd.factorize(who_key)
    item_idx = events["item_id"].map(index).fillna(-1).to_numpy(dtype=np.int64)
    log = TrainingLog(universe, item_idx[train], who_codes[train], stage[train].to_numpy(dtype=object))

    # the stage each visitor was in just before each event: their previous stage-bearing event's stage
    order = np.lexsort((np.arange(len(events)), who_codes))
    frame = pd.DataFrame({"who": who_codes[order], "stage": stage.to_numpy(dtype=object)[order]})
    before = frame.groupby("who", sort=False)["stage"].shift(1)
    before = before.groupby(frame["who"].to_numpy(), sort=False).ffill()
    stage_before = np.empty(len(events), dtype=object)
    stage_before[order] = before.astype(object).where(before.notna(), None).to_numpy(dtype=object)

    rows = np.flatnonzero(engaged)
    ordered = rows[np.lexsort((rows, who_codes[rows]))]  # engagements grouped by visitor, in time order
    who_sorted = who_codes[ordered]
    group_start = np.r_[0, np.flatnonzero(np.diff(who_sorted)) + 1]
    starts = np.repeat(group_start, np.diff(np.r_[group_start, len(ordered)]))
    position = np.arange(len(ordered))
    raw_items = events["item_id"].to_numpy(dtype=object)[ordered]
    seen = pd.DataFrame({"who": who_sorted, "item": raw_items}).groupby(["who", "item"], sort=False).cumcount() > 0
    is_query = ts[ordered] >= cutoff
    picked = np.flatnonzero(is_query)
    if max_queries is not None and len(picked) > max_queries:
        picked = np.sort(np.random.default_rng(7).choice(picked, size=max_queries, replace=False))
    event_row = ordered[picked]
    queries = Queries(
        who=who_sorted[picked],
        ts=ts[event_row],
        stage=stage_before[event_row],
        target=item_idx[event_row],
        start=starts[picked],
        end=position[picked],
        history=item_idx[ordered],
        event_row=event_row,
        seen=seen.to_numpy()[picked],
    )
    return log, queries


def tie_aware_metrics(scores: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Per query, each metric's expectation over a random order of the items tied with the target.

    With g items scoring above the target and e (the target included) scoring equal, its rank is
    uniform on g+1 .. g+e, so HR@K = |[g+1, min(g+e, K)]| / e and MRR@K, NDCG@K average 1/r and
    1/log2(r+1) over those ranks exactly. A target outside the universe (-1) is a miss.
    """
    inside = target >= 0
    rows = np.arange(len(target))
    s = scores[rows, np.where(inside, target, 0)][:, None]
    above = (scores > s).sum(axis=1)
    equal = (scores == s).sum(axis=1)
    out = {}
    for name, k, weight in (
        ("hit_rate@10", 10, lambda r: np.ones_like(r)),
        ("hit_rate@20", 20, lambda r: np.ones_like(r)),
        ("ndcg@10", 10, lambda r: 1.0 / np.log2(r + 1.0)),
        ("mrr@20", 20, lambda r: 1.0 / r),
    ):
        cumulative = np.r_[0.0, np.cumsum(weight(np.arange(1, k + 1, dtype=float)))]
        low, high = np.minimum(above, k), np.minimum(above + equal, k)
        out[name] = np.where(inside, (cumulative[high] - cumulative[low]) / equal, 0.0)
    return out


def interval(values: np.ndarray, clusters: np.ndarray | None = None) -> dict:
    """Mean with a 95 % normal-approximation interval, its variance clustered by visitor.

    Queries of one visitor are not independent, so the standard error is the cluster-robust one:
    var = G / (G - 1) * sum over the G clusters of (S_g - mean * n_g)^2 / n^2, S_g and n_g the
    cluster's total and size. With every query its own cluster (`clusters` None) it is the
    familiar sd / sqrt(n), sd with n - 1.
    """
    n = len(values)
    if n == 0:
        return {"value": None, "low": None, "high": None}
    mean = float(values.mean())
    codes = np.arange(n) if clusters is None else pd.factorize(clusters)[0]
    groups = int(codes.max()) + 1
    if groups > 1:
        totals = np.bincount(codes, weights=values, minlength=groups)
        sizes = np.bincount(codes, minlength=groups)
        variance = groups / (groups - 1) * float(((totals - mean * sizes) ** 2).sum()) / n**2
        half = Z95 * math.sqrt(variance)
    else:
        half = 0.0
    return {"value": round(mean, 4), "low": round(max(mean - half, 0.0), 4), "high": round(min(mean + half, 1.0), 4)}


def evaluate(queries: Queries, scorers: Sequence[Scorer], universe_size: int) -> dict[str, dict[str, np.ndarray]]:
    """Per scorer, per metric, one value per query; queries go in chunks that bound the score matrix."""
    chunk = max(1, CHUNK_CELLS // max(universe_size, 1))
    per_query = {s.name: {m: np.empty(len(queries)) for m in METRICS} for s in scorers}
    for begin in range(0, len(queries), chunk):
        part = queries.take(slice(begin, begin + chunk))
        for scorer in scorers:
            values = tie_aware_metrics(scorer.scores(part), part.target)
            for metric, column in values.items():
                per_query[scorer.name][metric][begin : begin + len(part)] = column
    return per_query


def summarise(per_query: dict, queries: Queries, universe_size: int, model: str = "model") -> dict:
    """The `full_catalog` block: each scorer's intervals, overall and split by seen / new targets, and the verdict.

    `with_history` keeps the queries of visitors with an earlier engagement: the "every prefix of every
    test session" protocol of the session-based literature, which never asks about a session's first click.
    """
    seen = queries.seen
    splits = {"seen": seen, "new": ~seen, "with_history": queries.end > queries.start}
    block: dict = {
        "protocol": "every later engagement ranked against the whole universe; ties at their expected value; "
        "95 % normal-approximation intervals, variance clustered by visitor",
        "queries": len(queries),
        "queries_seen": int(seen.sum()),
        "queries_new": int((~seen).sum()),
        "queries_with_history": int(splits["with_history"].sum()),
        "targets_outside_universe": int((queries.target < 0).sum()),
        "universe": universe_size,
    }
    for name, values in per_query.items():
        block[name] = {metric: interval(column, queries.who) for metric, column in values.items()}
        for split, mask in splits.items():
            block[name][split] = {m: interval(column[mask], queries.who[mask]) for m, column in values.items()}
    block["baselines"] = [name for name in per_query if name != model]
    if model in per_query:
        block["verdict"] = verdict(block, model, block["baselines"])
    return block


def verdict(block: dict, model: str, baselines: Sequence[str], metric: str = "mrr@20") -> str:
    """One plain line: does the model beat the best baseline on `metric`, and do their intervals overlap?"""
    if not baselines:
        return "no baselines to compare with"
    best = max(baselines, key=lambda name: block[name][metric]["value"] or 0.0)
    ours, theirs = block[model][metric], block[best][metric]
    if ours["value"] is None:
        return "no queries: nothing to compare"
    figures = f"{metric} {ours['value']:.4f} [{ours['low']:.4f}, {ours['high']:.4f}] against {best}'s " + (
        f"{theirs['value']:.4f} [{theirs['low']:.4f}, {theirs['high']:.4f}]"
    )
    if ours["low"] > theirs["high"]:
        return f"the model beats the best baseline ({best}): {figures}, intervals apart"
    if ours["value"] > theirs["value"]:
        return f"the model is ahead of the best baseline ({best}) but the intervals overlap: {figures}"
    return f"the model does not beat the best baseline ({best}): {figures}"


def format_block(block: dict) -> list[str]:
    """The printed summary's lines for a `full_catalog` block: a table with intervals, seen / new, the verdict."""
    lines = [
        f"  full catalog: {block.get('queries', 0):,} queries ({block.get('queries_seen', 0):,} seen, "
        f"{block.get('queries_new', 0):,} new) ranked against {block.get('universe', 0):,} items; 95 % intervals"
    ]
    for name in ("model", *block.get("baselines", [])):
        if name not in block:
            continue
        row = block[name]
        cells = "  ".join(f"{m} {row[m]['value']:.4f} [{row[m]['low']:.4f}, {row[m]['high']:.4f}]" for m in METRICS)
        split = "  ".join(f"{s} mrr@20 {_value(row[s]['mrr@20'])}" for s in ("seen", "new"))
        lines.append(f"    {name:<24} {cells}  ({split})")
    lines.append(f"    {block.get('verdict', '')}")
    return lines


def _value(figure: dict) -> str:
    return "n/a" if figure["value"] is None else f"{figure['value']:.4f}"

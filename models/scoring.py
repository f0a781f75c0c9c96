"""Scoring candidates with a bundle under a placement's objective: one matrix, one model call."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from models.bundle import ModelBundle
from models.catalog import Catalog, Placement
from models.context import apply_event, copy_context
from models.features import CHANNEL_RATE_COLUMN
from models.item_table import item_table
from models.pools import Pool
from models.retrieval import candidates, recent_items, tag_profile

TOP_CONTRIBUTIONS = 5
SHORTLIST = 300
"""Over a larger pool, the ranker scores this many: what the generators propose, then the most popular."""


@dataclasses.dataclass
class Scored:
    scores: np.ndarray
    p_response: np.ndarray
    next_stage: dict[str, float]
    advance_gain: np.ndarray | None = None
    matrix: np.ndarray | None = None


def score_candidates(
    bundle: ModelBundle,
    catalog: Catalog,
    placement: Placement,
    context: dict,
    profile: dict,
    channel: str | None,
    now: float,
    item_ids: list[str],
) -> Scored:
    """Expected value of each candidate: P(response) for `click`, x item value for `value`,
    x the rise in P(reaching a later stage) that responding brings for `progress`."""
    spec, table = bundle.spec, item_table(bundle, catalog)
    row = spec.context_row(context, now, channel, profile)
    matrix = spec.content_matrix(
        context, now, channel, item_ids, bundle.item_stats, catalog.items, profile, context_row=row, table=table
    )
    p_response = bundle.content.predict(matrix)
    classes = bundle.classes
    if placement.objective == "progress":
        rows = [row] + [
            spec.context_row(_after_response(context, catalog.items[i], channel, now, bundle), now, channel, profile)
            for i in item_ids
        ]
        probabilities = bundle.next_stage.predict_proba(np.asarray(rows))
        advance = _p_advance(probabilities, classes, context["stage"])
        gain = advance[1:] - advance[0]
        scores = p_response * gain
        now_probabilities = probabilities[0]
    else:
        gain = None
        now_probabilities = bundle.next_stage.predict_proba(np.asarray([row]))[0]
        scores = p_response * (
            np.array([catalog.items[i].value for i in item_ids]) if placement.objective == "value" else 1.0
        )
    next_stage = {name: round(float(p), 4) for name, p in zip(classes, now_probabilities)}
    return Scored(np.asarray(scores, dtype=float), p_response, next_stage, gain, matrix)


def score_channels(
    bundle: ModelBundle,
    catalog: Catalog,
    placement: Placement,
    context: dict,
    profile: dict,
    channels: list[str],
    now: float,
    item_ids: list[str],
) -> dict[str, Scored]:
    """`score_candidates` under each of `channels`, as if the decision were made there: one matrix of
    channels x items rows (only the channel features differ between the blocks), one call of
    the content model; for `progress`, one call of the next-stage model over every channel's rows."""
    spec, n, table = bundle.spec, len(item_ids), item_table(bundle, catalog)
    rows = [spec.context_row(context, now, channel, profile) for channel in channels]
    block = spec.content_matrix(
        context, now, channels[0], item_ids, bundle.item_stats, catalog.items, profile, context_row=rows[0], table=table
    )
    matrix = np.tile(block, (len(channels), 1))
    rate = len(rows[0]) + CHANNEL_RATE_COLUMN
    for k, (channel, row) in enumerate(zip(channels, rows)):
        matrix[k * n : (k + 1) * n, : len(row)] = row
        matrix[k * n : (k + 1) * n, rate] = bundle.item_stats.channel_rates(item_ids, channel)
    p_all = np.asarray(bundle.content.predict(matrix), dtype=float).reshape(len(channels), n)
    classes = bundle.classes
    values = np.array([catalog.items[i].value for i in item_ids]) if placement.objective == "value" else 1.0
    if placement.objective == "progress":
        ns_rows = []
        for channel, row in zip(channels, rows):
            ns_rows.append(row)
            ns_rows += [
                spec.context_row(
                    _after_response(context, catalog.items[i], channel, now, bundle), now, channel, profile
                )
                for i in item_ids
            ]
        probabilities = bundle.next_stage.predict_proba(np.asarray(ns_rows)).reshape(len(channels), n + 1, -1)
    else:
        probabilities = bundle.next_stage.predict_proba(np.asarray(rows))[:, None, :]
    out = {}
    for k, channel in enumerate(channels):
        gain = None
        if placement.objective == "progress":
            advance = _p_advance(probabilities[k], classes, context["stage"])
            gain = advance[1:] - advance[0]
            scores = p_all[k] * gain
        else:
            scores = p_all[k] * values
        next_stage = {name: round(float(p), 4) for name, p in zip(classes, probabilities[k, 0])}
        out[channel] = Scored(np.asarray(scores, dtype=float), p_all[k], next_stage, gain, matrix[k * n : (k + 1) * n])
    return out


def shortlist(
    bundle: ModelBundle, catalog: Catalog, context: dict, eligible: list[str], size: int = SHORTLIST
) -> tuple[list[str], dict[str, str]]:
    """The eligible items to rank and, for those a generator proposed, why (its reason in words).

    A pool no larger than `size` is ranked whole; a larger one is cut to the generators' proposals
    (from the visitor's recent items, already in the context) filled up by popularity at their stage.
    """
    pool = {i: catalog.items[i] for i in eligible}
    recent = [(i, ts) for i, ts in recent_items(context, bundle.spec.recent_cap) if i in pool or i in catalog.items]
    popular = [i for i in bundle.item_stats.most_popular(context["stage"])[: size * 2] if i in pool]
    tags = tag_profile(recent, catalog.items)
    proposed = candidates(bundle.retrieval, recent, popular, catalog.items, tags, size * 4, pool)
    proposed = {i: why for i, why in proposed.items() if i in pool}
    if len(eligible) <= size:
        return eligible, proposed
    chosen = dict.fromkeys(list(proposed)[:size])
    for item_id in popular + eligible:
        if len(chosen) >= size:
            break
        chosen.setdefault(item_id, None)
    return list(chosen), proposed


def retrieve(bundle: ModelBundle, catalog: Catalog, context: dict, pool: Pool, size: int = SHORTLIST) -> dict[str, str]:
    """Over a pool larger than `size`, before eligibility: up to `size` items of the pool the generators
    propose, each with its reason, touching only what they propose (the pool's tag index for tag matches,
    the stage's most popular filtered to the pool). The caller screens them, then ranks what is left."""
    recent = [(i, ts) for i, ts in recent_items(context, bundle.spec.recent_cap) if i in catalog.items]
    popular = [i for i in bundle.item_stats.most_popular(context["stage"])[: size * 2] if i in pool]
    tags = tag_profile(recent, catalog.items)
    proposed = candidates(bundle.retrieval, recent, popular, catalog.items, tags, size * 4, None, pool.tags)
    return dict(list(((i, why) for i, why in proposed.items() if i in pool))[:size])


def pool_by_popularity(bundle: ModelBundle | None, pool: Pool, stage: str | None, live: dict[str, float]):
    """The pool's items, most popular first (the bundle's counts at the stage, else the live counts read
    with the context), then the rest in the pool's order: lazily, so a caller takes only what it needs."""
    if bundle is not None:
        ranked = (i for i in bundle.item_stats.most_popular(stage) if i in pool)
    else:
        ranked = iter(sorted((i for i in live if live[i] and i in pool), key=lambda i: (-live[i], i)))
    return itertools.chain(ranked, pool.ids)


def top_contributions(bundle: ModelBundle, matrix: np.ndarray) -> list[list[dict]]:
    """Per row, the features that moved P(response) most (LightGBM pred_contrib, in log-odds)."""
    contributions = bundle.content.contributions(matrix)
    names = bundle.spec.content_names
    out = []
    for row_values, row_contrib in zip(matrix, contributions):
        order = np.argsort(-np.abs(row_contrib[:-1]))[:TOP_CONTRIBUTIONS]
        out.append(
            [
                {
                    "feature": names[j],
                    "value": round(float(row_values[j]), 4),
                    "contribution": round(float(row_contrib[j]), 4),
                }
                for j in order
            ]
        )
    return out


def _after_response(context: dict, item, channel: str | None, now: float, bundle: ModelBundle) -> dict:
    """The visitor's context had they just responded to `item` (its event, else a click)."""
    hypothetical = copy_context(context)
    event = {
        "event_id": "hypothetical",
        "type": item.event or "click",
        "ts": now,
        "channel": channel,
        "item_id": item.id,
    }
    return apply_event(hypothetical, event, bundle.spec.journey, bundle.spec.recent_cap)


def _p_advance(probabilities: np.ndarray, classes: list[str], stage: str | None) -> np.ndarray:
    """P(the next stage is later than the current one); from no stage, any stage counts."""
    stages = [c for c in classes if c != "exit"]
    current = stages.index(stage) if stage in stages else -1
    later = [k for k, name in enumerate(classes) if name in stages and stages.index(name) > current]
    return probabilities[:, later].sum(axis=1)

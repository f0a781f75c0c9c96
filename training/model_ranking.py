"""The content model as a full-catalog Scorer: it scores a candidate set, popularity ranks the rest after.

A service with retrieval ranks only what retrieval proposes; here retrieval is the visitor's recent
items and the most popular ones, and every item outside that set follows, by training popularity.
`model_scorer` is the one place this is put together, so a retrieval + ranker pair can replace it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from journal.replay import BEFORE_EVENT, point_in_time
from models.context import profile_key
from models.features import FeatureSpec, ItemStats
from training.full_catalog import Queries, TrainingLog
from training.replay import profile_keys

POPULAR_CANDIDATES = 300


class CandidateModelScorer:
    """P(response) from the content model for each query's candidates; the rest by popularity, after them."""

    name = "model"

    def __init__(self, content, contexts: dict, item_blocks: dict, popular, fallback, tags: dict):
        self.content = content
        self.tags = tags
        """Universe index -> the catalog item's tags (for the interest match with the visitor's profile)."""
        self.contexts = contexts
        """Per query event row: context features, universe indices of recent items, their counts, the last
        item, the profile's interests."""
        self.item_blocks = item_blocks
        """Per stage: the item features of every universe item for a visitor at that stage with no history."""
        self.popular = popular
        self.fallback = fallback

    def scores(self, queries: Queries) -> np.ndarray:
        out = np.broadcast_to(self.fallback, (len(queries), len(self.fallback))).copy()
        blocks, candidates = [], []
        for row, stage in zip(queries.event_row, queries.stage):
            context, recent, counts, last, interests = self.contexts[row]
            chosen = np.union1d(self.popular, recent)
            block = self.item_blocks[stage][chosen]
            block[:, SEEN_COLUMN] = 0.0
            block[np.searchsorted(chosen, recent), SEEN_COLUMN] = counts
            block[:, LAST_COLUMN] = (chosen == last).astype(float)
            if interests:
                block[:, INTEREST_COLUMN] = [len(interests & self.tags.get(i, frozenset())) for i in chosen]
            blocks.append(np.hstack([np.broadcast_to(context, (len(chosen), len(context))), block]))
            candidates.append(chosen)
        if blocks:
            p = self.content.predict(np.vstack(blocks))
            at = 0
            for i, chosen in enumerate(candidates):
                out[i, chosen] = 1.0 + p[at : at + len(chosen)]
                at += len(chosen)
        return out


SEEN_COLUMN, LAST_COLUMN, INTEREST_COLUMN = 3, 4, 7
"""Positions of the per-visitor item features in FeatureSpec.item_names (checked in model_scorer)."""


def model_scorer(
    content,
    spec: FeatureSpec,
    events: pd.DataFrame,
    queries: Queries,
    log: TrainingLog,
    catalog_items: dict,
    profiles: dict | None = None,
    popular: int = POPULAR_CANDIDATES,
) -> CandidateModelScorer:
    """The content model (fitted on the training slice) behind a candidate set, with item features from
    training counts only (what a bundle made at the split would serve with) and each visitor's context
    replayed up to each query through the service's reducer."""
    per_visitor = [spec.item_names[c] for c in (SEEN_COLUMN, LAST_COLUMN, INTEREST_COLUMN)]
    assert per_visitor == ["item_visitor_count", "item_is_last", "item_interest_match"], per_visitor
    universe = log.universe
    index = {item: i for i, item in enumerate(universe)}
    item_stats = _training_item_stats(log)
    stages = set(queries.stage.tolist())
    item_blocks = {
        stage: spec.item_block({"stage": stage, "recent": []}, universe, item_stats, catalog_items) for stage in stages
    }
    contexts = _query_contexts(events, queries, spec, index, profiles or {})
    popularity = log.popularity
    top = np.sort(np.argsort(-popularity, kind="stable")[:popular])
    fallback = popularity / (popularity.max() + 1.0) if len(popularity) else popularity
    tags = {index[i]: frozenset(item.tags) for i, item in catalog_items.items() if i in index}
    return CandidateModelScorer(content, contexts, item_blocks, top, fallback, tags)


def _training_item_stats(log: TrainingLog) -> ItemStats:
    counts: dict[str, dict[str, int]] = {}
    frame = pd.DataFrame({"item": log.item, "stage": log.stage})
    for (item, stage), count in frame.value_counts().items():
        counts.setdefault(log.universe[item], {})[stage or "none"] = int(count)
    return ItemStats(counts)


def _query_contexts(events, queries: Queries, spec: FeatureSpec, index: dict, profiles: dict) -> dict:
    """Each query's context features and recent items, replayed from its visitor's events only."""
    wanted = set(queries.event_row.tolist())
    keys = profile_keys(events)
    mine = np.flatnonzero(keys.isin(set(keys.iloc[queries.event_row])).to_numpy())
    subset = events.iloc[mine]
    contexts = {}
    for moment in point_in_time(subset, [], spec.journey, spec.recent_cap):
        row = int(mine[moment.index])
        if moment.kind != BEFORE_EVENT or row not in wanted:
            continue
        event, ctx = moment.record, moment.context
        recent = ctx["recent"][: spec.recent_cap]
        counts: dict[int, int] = {}
        for entry in recent:
            at = index.get(entry["item_id"], -1) if entry["item_id"] else -1
            if at >= 0:
                counts[at] = counts.get(at, 0) + 1
        last_item = next((e["item_id"] for e in recent if e["item_id"]), None)
        profile = profiles.get(profile_key(event), {})
        features = spec.context_row(ctx, event["ts"], event["channel"], profile)
        order = sorted(counts)
        contexts[row] = (
            np.asarray(features, dtype=np.float64),
            np.asarray(order, dtype=np.int64),
            np.asarray([counts[i] for i in order], dtype=np.float64),
            index.get(last_item, -1) if last_item else -1,
            set((profile or {}).get("interests") or ()),
        )
    return contexts

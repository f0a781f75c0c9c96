"""The content model as a full-catalog Scorer: it ranks what retrieval proposes, popularity ranks the rest after.

This is what the service does with a pool larger than its shortlist (models.scoring.shortlist): the
generators (as frozen at the split, `Replay.signals_at_split`) propose up to `shortlist` items from the
visitor's recent items, the stage's most popular and trending ones; the content model scores them with
the same feature code as serving (`FeatureSpec.content_matrix`, the context replayed up to each query
through the service's reducer); every item outside that set follows, by training popularity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from journal.replay import BEFORE_EVENT, point_in_time
from models.context import copy_context, profile_key
from models.features import FeatureSpec, ItemStats
from models.pools import TagIndex
from models.retrieval import Retrieval, candidates, recent_items, tag_profile
from models.scoring import SHORTLIST
from training.full_catalog import Queries, TrainingLog
from training.replay import profile_keys

PREDICT_BATCH = 100
"""Queries whose shortlists go to the model in one call (100 x 300 rows x ~60 features: 14 MB)."""


class CandidateModelScorer:
    """P(response) from the content model for each query's shortlist; the rest by popularity, after them."""

    name = "model"

    def __init__(self, content, spec: FeatureSpec, moments: dict, stats: ItemStats, log: TrainingLog, catalog, size):
        self.content = content
        self.spec = spec
        self.moments = moments
        """Per query event row: the visitor's context just before it, the event, the profile."""
        self.item_stats = stats
        self.index = {item: i for i, item in enumerate(log.universe)}
        self.catalog_items = catalog
        self.tag_index = TagIndex.of(catalog)
        self.size = size
        popularity = log.popularity
        self.fallback = popularity / (popularity.max() + 1.0) if len(popularity) else popularity

    def shortlist(self, ctx: dict) -> list[str]:
        """What the service would rank for this visitor over the whole universe (models.scoring.shortlist)."""
        recent = recent_items(ctx, self.spec.recent_cap)
        popular = self.item_stats.most_popular(ctx["stage"])[: self.size * 2]
        tags = tag_profile(recent, self.catalog_items)
        proposed = candidates(
            self.item_stats.signals, recent, popular, self.catalog_items, tags, self.size, None, self.tag_index
        )
        chosen = dict.fromkeys(i for i in proposed if i in self.index)
        for item_id in popular:
            if len(chosen) >= self.size:
                break
            chosen.setdefault(item_id, None)
        return list(chosen)

    def scores(self, queries: Queries) -> np.ndarray:
        out = np.broadcast_to(self.fallback, (len(queries), len(self.fallback))).copy()
        pending: list[tuple[int, np.ndarray, np.ndarray]] = []
        for i, row in enumerate(queries.event_row):
            ctx, event, profile = self.moments[row]
            chosen = self.shortlist(ctx)
            if not chosen:
                continue
            matrix = self.spec.content_matrix(
                ctx, event["ts"], event["channel"], chosen, self.item_stats, self.catalog_items, profile
            )
            pending.append((i, np.fromiter((self.index[c] for c in chosen), dtype=np.int64), matrix))
            if len(pending) == PREDICT_BATCH:
                self._predict(out, pending)
                pending = []
        if pending:
            self._predict(out, pending)
        return out

    def _predict(self, out: np.ndarray, pending: list) -> None:
        """One model call for a batch of queries' shortlists (a call costs about a millisecond by itself)."""
        p = self.content.predict(np.vstack([matrix for _, _, matrix in pending]))
        at = 0
        for i, columns, _ in pending:
            out[i, columns] = 1.0 + p[at : at + len(columns)]
            at += len(columns)


def model_scorer(
    content,
    spec: FeatureSpec,
    events: pd.DataFrame,
    queries: Queries,
    log: TrainingLog,
    catalog_items: dict,
    profiles: dict | None = None,
    signals: Retrieval | None = None,
    size: int = SHORTLIST,
) -> CandidateModelScorer:
    """The content model (fitted on the training slice) behind the service's shortlist, with item features
    from training counts only and the generators as frozen at the split (what a bundle made at the split
    would serve with), and each visitor's context replayed up to each query through the service's reducer."""
    item_stats = _training_item_stats(log)
    item_stats.signals = signals if signals is not None else Retrieval.empty()
    moments = _query_moments(events, queries, spec, profiles or {})
    return CandidateModelScorer(content, spec, moments, item_stats, log, catalog_items, size)


def _training_item_stats(log: TrainingLog) -> ItemStats:
    counts: dict[str, dict[str, int]] = {}
    frame = pd.DataFrame({"item": log.item, "stage": log.stage})
    for (item, stage), count in frame.value_counts().items():
        counts.setdefault(log.universe[item], {})[stage or "none"] = int(count)
    return ItemStats(counts)


def _query_moments(events, queries: Queries, spec: FeatureSpec, profiles: dict) -> dict:
    """Each query's context (a copy, as it was just before the query's event), the event and the profile,
    replayed from the queried visitors' events only."""
    wanted = set(queries.event_row.tolist())
    keys = profile_keys(events)
    mine = np.flatnonzero(keys.isin(set(keys.iloc[queries.event_row])).to_numpy())
    moments = {}
    for moment in point_in_time(events.iloc[mine], [], spec.journey, spec.recent_cap):
        row = int(mine[moment.index])
        if moment.kind != BEFORE_EVENT or row not in wanted:
            continue
        event = moment.record
        moments[row] = (copy_context(moment.context), event, profiles.get(profile_key(event), {}))
    return moments

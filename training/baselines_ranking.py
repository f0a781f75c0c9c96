"""Ranking baselines for the full-catalog evaluation: each a Scorer fitted on the training log only.

Every baseline breaks its own ties by training popularity, as a service would fall back on it; the
popularity term is scaled below one unit of the baseline's own score, so it only orders ties.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from training.full_catalog import Queries, TrainingLog


def _tie_break(popularity: np.ndarray) -> np.ndarray:
    """Popularity squeezed into [0, 1): added to whole-number scores, it orders only their ties."""
    return popularity / (popularity.max() + 1.0) if len(popularity) else popularity


class MostPopular:
    """Every visitor gets the items engaged with most in training."""

    name = "most_popular"

    def fit(self, log: TrainingLog) -> MostPopular:
        self.popularity_ = log.popularity
        return self

    def scores(self, queries: Queries) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(queries), len(self.popularity_))).copy()


class MostPopularByStage:
    """The items engaged with most at the visitor's current stage; overall popularity breaks ties."""

    name = "most_popular_by_stage"

    def fit(self, log: TrainingLog) -> MostPopularByStage:
        size = len(log.universe)
        self.by_stage_ = {
            stage: np.bincount(log.item[log.stage == stage], minlength=size).astype(np.float64)
            for stage in set(log.stage.tolist())
        }
        self.fallback_ = _tie_break(log.popularity)
        return self

    def scores(self, queries: Queries) -> np.ndarray:
        out = np.empty((len(queries), len(self.fallback_)))
        for i, stage in enumerate(queries.stage):
            out[i] = self.by_stage_.get(stage, 0.0) + self.fallback_
        return out


class ItemKNN:
    """Cosine item-item similarity over the training visitors x items matrix; a visitor's score for an
    item sums its similarities to their `recent` latest distinct items, the newest weighing most (1/k)."""

    name = "item_knn"

    def __init__(self, recent: int = 10):
        self.recent = recent

    def fit(self, log: TrainingLog) -> ItemKNN:
        size = len(log.universe)
        visitors = int(log.who.max()) + 1 if len(log.who) else 0
        matrix = sp.csr_matrix((np.ones(len(log.item)), (log.who, log.item)), shape=(visitors, size))
        matrix.data[:] = 1.0  # engaged or not: repeats do not make two items more alike
        norms = np.sqrt(np.asarray(matrix.sum(axis=0)).ravel())
        scaled = matrix @ sp.diags(np.divide(1.0, norms, out=np.zeros(size), where=norms > 0))
        similarity = (scaled.T @ scaled).tocsr()
        similarity.setdiag(0.0)  # reshowing what was seen is reshow_recent's idea, not this one's
        similarity.eliminate_zeros()
        self.similarity_ = similarity
        # below the smallest similarity step that matters (1e-6 of a cosine): popularity orders ties only
        self.fallback_ = 1e-6 * _tie_break(log.popularity)
        return self

    def scores(self, queries: Queries) -> np.ndarray:
        rows, cols, weights = [], [], []
        for i in range(len(queries)):
            items = queries.recent(i, self.recent)
            rows.extend([i] * len(items))
            cols.extend(items.tolist())
            weights.extend(1.0 / np.arange(1, len(items) + 1))
        size = self.similarity_.shape[0]
        weighted = sp.csr_matrix((weights, (rows, cols)), shape=(len(queries), size))
        return (weighted @ self.similarity_).toarray() + self.fallback_


class Transitions:
    """How often each item followed the visitor's last item in training sequences; popularity breaks ties."""

    name = "transitions"

    def fit(self, log: TrainingLog) -> Transitions:
        size = len(log.universe)
        order = np.lexsort((np.arange(len(log.who)), log.who))
        who, item = log.who[order], log.item[order]
        same = who[1:] == who[:-1]
        self.counts_ = sp.csr_matrix((np.ones(int(same.sum())), (item[:-1][same], item[1:][same])), shape=(size, size))
        self.fallback_ = _tie_break(log.popularity)
        return self

    def scores(self, queries: Queries) -> np.ndarray:
        out = np.broadcast_to(self.fallback_, (len(queries), len(self.fallback_))).copy()
        last = np.array([_last(queries, i) for i in range(len(queries))], dtype=np.int64)
        has = last >= 0
        if has.any():
            out[has] += self.counts_[last[has]].toarray()
        return out


class ReshowRecent:
    """The visitor's own items, newest first, then the most popular."""

    name = "reshow_recent"

    def fit(self, log: TrainingLog) -> ReshowRecent:
        self.fallback_ = _tie_break(log.popularity)
        return self

    def scores(self, queries: Queries) -> np.ndarray:
        out = np.broadcast_to(self.fallback_, (len(queries), len(self.fallback_))).copy()
        for i in range(len(queries)):
            items = queries.recent(i)
            out[i, items] = 1.0 + np.arange(len(items), 0, -1)
        return out


class ReshowThenTransitions:
    """The visitor's own items newest first, then what followed their last item in training, then popularity."""

    name = "reshow_then_transitions"

    def fit(self, log: TrainingLog) -> ReshowThenTransitions:
        self.transitions_ = Transitions().fit(log)
        return self

    def scores(self, queries: Queries) -> np.ndarray:
        out = self.transitions_.scores(queries)
        top = out.max(axis=1) + 1.0
        for i in range(len(queries)):
            items = queries.recent(i)
            out[i, items] = top[i] + np.arange(len(items), 0, -1)
        return out


def _last(queries: Queries, i: int) -> int:
    """Query i's latest engagement in the universe, or -1."""
    items = queries.history[queries.start[i] : queries.end[i]]
    items = items[items >= 0]
    return int(items[-1]) if len(items) else -1


BASELINES = (MostPopular, MostPopularByStage, ItemKNN, Transitions, ReshowRecent, ReshowThenTransitions)


def fit_baselines(log: TrainingLog) -> list:
    """Every ranking baseline, fitted on the training log."""
    return [kind().fit(log) for kind in BASELINES]

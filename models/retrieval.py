"""Candidate generators (DESIGN.md section 12): co-visitation and transitions, item-kNN, popularity per
stage and trending, tag affinity and tag similarity; their signals are the ranker's features.

`Generators` counts online, one touch at a time in time order, so training reads at each row only what
came before it (the point-in-time replay folds it beside the contexts); `freeze` turns it into
`Retrieval`, top-K neighbour arrays per item stored as one `.npz` in the bundle, which serving reads.
Both answer the same questions (`row`, `similarity`, `first_seen`, `trend_share`), so one feature
function (`signal_block`) serves training and serving alike.
"""

from __future__ import annotations

import heapq
import math
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from models.pools import TagIndex

WINDOW = 5
"""How many earlier distinct items of a visitor count as co-visited with a new touch."""
KNN_WINDOW = 20
"""Item-kNN's visitor x item matrix holds each visitor's newest 20 distinct items at each touch: the
count per touch stays bounded where a household has bought hundreds of items (The Complete Journey)."""
TOP_K = 100
"""Neighbours kept per item and kind in the bundle (the ranker sees the rest as 0)."""
COVISIT_HALF_LIFE_S = 86_400.0
"""A co-visit a day apart counts half one in the same minute."""
TREND_HALF_LIFE_S = 7 * 86_400.0
TAG_MATCHES = 50
"""Tag-affinity proposals per visitor: the first this many pool items sharing a tag with their recent items."""
KINDS = ("transitions", "covisits", "knn")
FILE = "retrieval.npz"
_LOG_DAY = math.log1p(86_400.0)

SIGNAL_NAMES = [
    "trans_last_log",
    "trans_last_share",
    "covisit_recent_log",
    "knn_max",
    "knn_sum",
    "recent_position",
    "since_touch_log",
    "tag_affinity",
    "tag_similarity",
    "item_age_log",
    "trend_share_log",
]

REASONS = {
    "recent": "you looked at this recently",
    "transitions": "viewed next after {item}",
    "covisits": "viewed together with {item}",
    "knn": "liked by visitors who liked {item}",
    "tags": "matches tags you browse",
    "stage": "popular in your stage",
    "trending": "trending now",
}


def recent_items(ctx: dict, cap: int) -> list[tuple[str, float]]:
    """The visitor's distinct items, newest first, each with the time of its latest touch."""
    seen: dict[str, float] = {}
    for entry in ctx["recent"][:cap]:
        if entry["item_id"] and entry["item_id"] not in seen:
            seen[entry["item_id"]] = entry["ts"]
    return list(seen.items())


class _Signals:
    """The questions both forms answer; `row` gives an item's neighbours of one kind as {item: weight}."""

    def row(self, kind: str, item_id: str) -> dict[str, float]:
        raise NotImplementedError

    def similarity(self, a: str, b: str) -> float:
        raise NotImplementedError

    def top(self, kind: str, item_id: str, n: int) -> list[str]:
        row = self.row(kind, item_id)
        return heapq.nlargest(n, row, key=row.__getitem__) if row else []


class Generators(_Signals):
    """Online counts in time order. `add` is called after a touch's own training row was built."""

    def __init__(self, window: int = WINDOW):
        self.window = window
        self.counts: dict[str, dict[str, dict[str, float]]] = {"transitions": {}, "covisits": {}, "cooccur": {}}
        self.out_total: dict[str, float] = {}
        self.visitors: dict[str, int] = {}
        self.first: dict[str, float] = {}
        self.trend: dict[str, float] = {}
        self.trend_total = 0.0
        self.trend_ts = None
        self._top_cache: dict[tuple, tuple[int, list[str]]] = {}
        self._trending: tuple[int, list[str]] = (-1, [])

    def add(self, before: list[tuple[str, float]], item_id: str, ts: float) -> None:
        """Count one touch of `item_id` at `ts` by a visitor whose distinct items before it were `before`."""
        counts = self.counts
        self.first.setdefault(item_id, ts)
        self._decay_trend(ts)
        self.trend[item_id] = self.trend.get(item_id, 0.0) + 1.0
        self.trend_total += 1.0
        if before and before[0][0] != item_id:
            last = before[0][0]
            _bump(counts["transitions"], last, item_id, 1.0)
            self.out_total[last] = self.out_total.get(last, 0.0) + 1.0
        new_to_visitor = all(other != item_id for other, _ in before)
        if new_to_visitor:
            self.visitors[item_id] = self.visitors.get(item_id, 0) + 1
        for distance, (other, other_ts) in enumerate(before):
            if other == item_id:
                continue
            if distance < self.window:
                weight = 0.5 ** (max(ts - other_ts, 0.0) / COVISIT_HALF_LIFE_S) / (distance + 1)
                _bump(counts["covisits"], other, item_id, weight)
                _bump(counts["covisits"], item_id, other, weight)
            if new_to_visitor and distance < KNN_WINDOW:
                _bump(counts["cooccur"], other, item_id, 1.0)
                _bump(counts["cooccur"], item_id, other, 1.0)

    def _decay_trend(self, ts: float) -> None:
        # lazily: the shares are what the features read, so a common factor applied rarely is enough
        if self.trend_ts is None:
            self.trend_ts = ts
        elif ts - self.trend_ts > TREND_HALF_LIFE_S / 8:
            factor = 0.5 ** ((ts - self.trend_ts) / TREND_HALF_LIFE_S)
            self.trend = {i: v * factor for i, v in self.trend.items() if v * factor > 1e-3}
            self.trend_total = sum(self.trend.values())
            self.trend_ts = ts

    def row(self, kind, item_id):
        if kind == "knn":
            return {b: self.similarity(item_id, b) for b in self.counts["cooccur"].get(item_id, ())}
        return self.counts[kind].get(item_id, {})

    def top(self, kind, item_id, n):
        # a popular item's row is long: recount its top only when the row has grown by a quarter
        row = self.counts["cooccur" if kind == "knn" else kind].get(item_id)
        if not row:
            return []
        cached = self._top_cache.get((kind, item_id))
        if cached is None or len(row) > cached[0] * 1.25 + 2:
            cached = (len(row), super().top(kind, item_id, max(n, 20)))
            self._top_cache[(kind, item_id)] = cached
        return cached[1][:n]

    def similarity(self, a, b):
        """Cosine over visitor x item (each visitor's window of recent items): co-occurrences / sqrt(n_a n_b)."""
        together = self.counts["cooccur"].get(a, {}).get(b)  # freeze computes the same, vectorised
        if not together:
            return 0.0
        return together / math.sqrt(self.visitors.get(a, 1) * self.visitors.get(b, 1))

    def first_seen(self, item_id):
        return self.first.get(item_id)

    def trend_share(self, item_id):
        return (self.trend.get(item_id, 0.0) + 1e-3) / (self.trend_total + 1.0)

    def trending(self, n: int) -> list[str]:
        # recounted every few hundred touches: the top of a decayed count moves slowly
        if self._trending[0] != int(self.trend_total) // 500 or len(self._trending[1]) < n:
            self._trending = (int(self.trend_total) // 500, heapq.nlargest(n, self.trend, key=self.trend.__getitem__))
        return self._trending[1][:n]

    def freeze(self, top_k: int = TOP_K) -> Retrieval:
        """The compact serving form: per kind, each item's top-K neighbours as one sparse matrix."""
        items = sorted(set(self.first) | set(self.visitors))
        index = {item: i for i, item in enumerate(items)}
        n = len(items)
        cooccur = _sparse(self.counts["cooccur"], index, n)
        scale = sp.diags(1.0 / np.sqrt(np.maximum([self.visitors.get(i, 1) for i in items], 1)))
        matrices = {
            "transitions": _top_k(_sparse(self.counts["transitions"], index, n), top_k),
            "covisits": _top_k(_sparse(self.counts["covisits"], index, n), top_k),
            "knn": _top_k((scale @ cooccur @ scale).tocsr(), top_k),
        }
        arrays = {
            "out_total": np.asarray([self.out_total.get(i, 0.0) for i in items], dtype=np.float32),
            "first_seen": np.asarray([self.first.get(i, np.nan) for i in items], dtype=np.float64),
            "trend": np.asarray([self.trend.get(i, 0.0) for i in items], dtype=np.float64),
        }
        return Retrieval(items, matrices, arrays)


def _sparse(table: dict[str, dict[str, float]], index: dict[str, int], n: int) -> sp.csr_matrix:
    rows = np.fromiter((index[a] for a, row in table.items() for _ in row), dtype=np.int32)
    cols = np.fromiter((index[b] for row in table.values() for b in row), dtype=np.int32)
    vals = np.fromiter((v for row in table.values() for v in row.values()), dtype=np.float64)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def _top_k(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's k largest entries (ties: the lower column), as float32."""
    data, indices, indptr = [np.empty(0)], [np.empty(0, dtype=np.int32)], [0]
    for i in range(matrix.shape[0]):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        values, columns = matrix.data[start:end], matrix.indices[start:end]
        if len(values) > k:
            keep = np.lexsort((columns, -values))[:k]
            values, columns = values[keep], columns[keep]
        data.append(values)
        indices.append(columns)
        indptr.append(indptr[-1] + len(values))
    return sp.csr_matrix(
        (np.concatenate(data).astype(np.float32), np.concatenate(indices), np.asarray(indptr)), shape=matrix.shape
    )


class Retrieval(_Signals):
    """The generators as the bundle keeps them: item ids, top-K neighbour matrices, per-item arrays."""

    def __init__(self, items: list[str], matrices: dict[str, sp.csr_matrix], arrays: dict[str, np.ndarray]):
        self.items = items
        self.index = {item: i for i, item in enumerate(items)}
        self.matrices = matrices
        self.arrays = arrays
        self.out_total = {i: float(v) for i, v in zip(items, arrays["out_total"]) if v}
        trend = arrays["trend"]
        self._trend_total = float(trend.sum())
        self._trending = [items[i] for i in np.argsort(-trend, kind="stable")[:200] if trend[i] > 0]

    def row(self, kind, item_id):
        i = self.index.get(item_id)
        if i is None:
            return {}
        matrix = self.matrices[kind]
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        return {self.items[j]: float(v) for j, v in zip(matrix.indices[start:end], matrix.data[start:end])}

    def similarity(self, a, b):
        return self.row("knn", a).get(b, 0.0)

    def first_seen(self, item_id):
        i = self.index.get(item_id)
        value = self.arrays["first_seen"][i] if i is not None else math.nan
        return None if math.isnan(value) else float(value)

    def trend_share(self, item_id):
        i = self.index.get(item_id)
        value = float(self.arrays["trend"][i]) if i is not None else 0.0
        return (value + 1e-3) / (self._trend_total + 1.0)

    def trending(self, n: int) -> list[str]:
        return self._trending[:n]

    def save(self, directory: Path) -> None:
        flat = {"items": np.asarray(self.items, dtype=object).astype(str)}
        for kind, matrix in self.matrices.items():
            flat[f"{kind}_data"], flat[f"{kind}_indices"], flat[f"{kind}_indptr"] = (
                matrix.data,
                matrix.indices,
                matrix.indptr,
            )
        flat.update(self.arrays)
        np.savez_compressed(directory / FILE, **flat)

    @classmethod
    def load(cls, directory: Path) -> Retrieval:
        with np.load(directory / FILE, allow_pickle=False) as raw:
            items = raw["items"].tolist()
            n = len(items)
            matrices = {
                kind: sp.csr_matrix((raw[f"{kind}_data"], raw[f"{kind}_indices"], raw[f"{kind}_indptr"]), shape=(n, n))
                for kind in KINDS
            }
            arrays = {name: raw[name] for name in ("out_total", "first_seen", "trend")}
        return cls(items, matrices, arrays)

    @classmethod
    def empty(cls) -> Retrieval:
        """No generators (a bundle from before them): every signal reads as nothing known."""
        return Generators().freeze()


def _bump(table: dict, a: str, b: str, weight: float) -> None:
    row = table.get(a)
    if row is None:
        table[a] = {b: weight}
    else:
        row[b] = row.get(b, 0.0) + weight


def _top(row: dict[str, float], n: int) -> list[str]:
    return row if len(row) <= n else heapq.nlargest(n, row, key=row.__getitem__)


def tag_profile(recent: list[tuple[str, float]], catalog_items: dict) -> dict[str, float]:
    """The visitor's affinity to each tag: the share of their recent items carrying it, newer ones weighing more."""
    weights: dict[str, float] = {}
    total = 0.0
    for position, (item_id, _) in enumerate(recent):
        item = catalog_items.get(item_id)
        if item is None or not item.tags:
            continue
        weight = 1.0 / (position + 1)
        total += weight
        for tag in item.tags:
            weights[tag] = weights.get(tag, 0.0) + weight
    return {tag: w / total for tag, w in weights.items()} if total else {}


def candidates(
    signals: _Signals,
    recent: list[tuple[str, float]],
    popular: list[str],
    catalog_items: dict,
    tags: dict[str, float],
    n: int = 300,
    pool: dict | None = None,
    tag_index: TagIndex | None = None,
) -> dict[str, str]:
    """Up to `n` items the generators propose for a visitor, each with the reason of the first that did:
    the visitor's recent items, what follows the last one, what is co-visited and similar, tag matches, then
    `popular` (by stage) and trending for everyone (a visitor with no history gets those). Tag matches
    are searched in `pool` (default: the catalog), where new items with no history are reached; given
    `tag_index` (over the pool, in its order), they are looked up there instead, with the same answer,
    touching only the items that carry a liked tag."""
    out: dict[str, str] = {}

    def offer(items, reason):
        for item_id in items:
            if len(out) >= n:
                return
            out.setdefault(item_id, reason)

    offer([i for i, _ in recent], REASONS["recent"])  # bought again: The Complete Journey's best baseline
    for kind, width in (("transitions", 60), ("covisits", 40), ("knn", 20)):
        for other, _ in recent[: 1 if kind == "transitions" else 3]:
            label = catalog_items[other].title if other in catalog_items and catalog_items[other].title else other
            offer(signals.top(kind, other, width), REASONS[kind].format(item=label))
    if tags and tag_index is not None:
        offer(tag_index.matching(tags, TAG_MATCHES), REASONS["tags"])
    elif tags:
        liked = set(tags)
        pool = catalog_items if pool is None else pool
        offer([i for i, item in pool.items() if liked.intersection(item.tags)][:TAG_MATCHES], REASONS["tags"])
    offer(popular[:50], REASONS["stage"])
    offer(signals.trending(30), REASONS["trending"])
    return out


def signal_block(
    signals: _Signals,
    recent: list[tuple[str, float]],
    now: float,
    item_ids: list[str],
    catalog_items: dict,
    tags: dict[str, float],
) -> np.ndarray:
    """The generators' signals for each candidate (SIGNAL_NAMES), given the visitor's recent items."""
    last = recent[0][0] if recent else None
    trans = signals.row("transitions", last) if last else {}
    out_total = sum(trans.values()) if trans else 0.0
    if last is not None and isinstance(signals, Retrieval):
        out_total = signals.out_total.get(last, out_total)
    window = recent[:WINDOW]
    covisit_rows = [(signals.row("covisits", other), 1.0 / (d + 1)) for d, (other, _) in enumerate(window)]
    knn_rows = [signals.row("knn", other) for other, _ in window] if isinstance(signals, Retrieval) else None
    position = {item_id: (p, ts) for p, (item_id, ts) in enumerate(recent)}
    recent_tags = [set(catalog_items[i].tags) for i, _ in window if i in catalog_items and catalog_items[i].tags]
    block = np.empty((len(item_ids), len(SIGNAL_NAMES)), dtype=np.float64)
    for r, item_id in enumerate(item_ids):
        t = trans.get(item_id, 0.0)
        covisit = sum(row.get(item_id, 0.0) * w for row, w in covisit_rows)
        if knn_rows is not None:
            sims = [row.get(item_id, 0.0) for row in knn_rows]
        else:
            sims = [signals.similarity(other, item_id) for other, _ in window]
        seen = position.get(item_id)
        item = catalog_items.get(item_id)
        item_tags = set(item.tags) if item is not None else set()
        first = signals.first_seen(item_id)
        block[r] = (
            math.log1p(t),
            t / out_total if out_total else 0.0,
            math.log1p(covisit),
            max(sims, default=0.0),
            sum(sims),
            seen[0] if seen else math.nan,
            math.log1p(max(now - seen[1], 0.0)) / _LOG_DAY if seen else math.nan,
            sum(tags.get(tag, 0.0) for tag in item_tags),
            max((len(item_tags & other) / len(item_tags | other) for other in recent_tags), default=0.0)
            if item_tags
            else 0.0,
            math.log1p(max(now - first, 0.0)) / _LOG_DAY if first is not None else math.nan,
            math.log(signals.trend_share(item_id)),
        )
    return block

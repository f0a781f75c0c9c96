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

    # Column-wise forms for signal_block; a subclass may answer them faster than item by item.
    def similarities(self, a: str, items: list[str]) -> np.ndarray:
        return np.fromiter((self.similarity(a, b) for b in items), dtype=np.float64, count=len(items))

    def similarity_rows(self, sources: list[str], items: list[str]) -> np.ndarray:
        """similarities(a, items) for each a of `sources`, stacked."""
        return np.vstack([self.similarities(a, items) for a in sources])

    def first_seen_many(self, items: list[str]) -> np.ndarray:
        return np.fromiter(
            (math.nan if (f := self.first_seen(i)) is None else f for i in items), dtype=np.float64, count=len(items)
        )

    def trend_shares(self, items: list[str]) -> np.ndarray:
        return np.fromiter((self.trend_share(i) for i in items), dtype=np.float64, count=len(items))

    def out_total_of(self, item_id: str) -> float:
        return sum(self.row("transitions", item_id).values())


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
        # a popular item's row is long: recount its top only when the row has grown by half (it only
        # proposes training's hard negatives; serving reads the frozen top-K)
        row = self.counts["cooccur" if kind == "knn" else kind].get(item_id)
        if not row:
            return []
        cached = self._top_cache.get((kind, item_id))
        if cached is None or len(row) > cached[0] * 1.5 + 4:
            keys = list(row)
            values = np.fromiter(row.values(), dtype=np.float64, count=len(keys))
            if kind == "knn":  # cosine: item_id's own norm is common to the row and leaves the order alone
                norms = np.fromiter((self.visitors.get(b, 1) for b in keys), dtype=np.float64, count=len(keys))
                values /= np.sqrt(norms)
            cached = (len(row), [keys[i] for i in _largest(values, max(n, 20))])
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

    def similarities(self, a, items):
        row = self.counts["cooccur"].get(a)
        if not row:
            return np.zeros(len(items))
        together = np.fromiter((row.get(b, 0.0) for b in items), dtype=np.float64, count=len(items))
        visitors = np.fromiter((self.visitors.get(b, 1) for b in items), dtype=np.float64, count=len(items))
        return together / np.sqrt(self.visitors.get(a, 1) * visitors)

    def similarity_rows(self, sources, items):
        n = len(items)
        out = np.zeros((len(sources), n))
        rows = [self.counts["cooccur"].get(a) for a in sources]
        if not any(rows):
            return out
        norms = np.sqrt(np.fromiter((self.visitors.get(b, 1) for b in items), dtype=np.float64, count=n))
        for k, (a, row) in enumerate(zip(sources, rows)):
            if row:
                together = np.fromiter((row.get(b, 0.0) for b in items), dtype=np.float64, count=n)
                out[k] = together / (math.sqrt(self.visitors.get(a, 1)) * norms)
        return out

    def first_seen_many(self, items):
        first = self.first
        return np.fromiter((first.get(i, math.nan) for i in items), dtype=np.float64, count=len(items))

    def trend_shares(self, items):
        trend = self.trend
        counts = np.fromiter((trend.get(i, 0.0) for i in items), dtype=np.float64, count=len(items))
        return (counts + 1e-3) / (self.trend_total + 1.0)

    def out_total_of(self, item_id):
        return self.out_total.get(item_id, 0.0)

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
    sizes = np.fromiter((len(row) for row in table.values()), dtype=np.int64, count=len(table))
    rows = np.repeat(np.fromiter((index[a] for a in table), dtype=np.int32, count=len(table)), sizes)
    total = int(sizes.sum())
    cols = np.fromiter((index[b] for row in table.values() for b in row), dtype=np.int32, count=total)
    vals = np.fromiter((v for row in table.values() for v in row.values()), dtype=np.float64, count=total)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def _largest(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest values, largest first (ties: the earlier position)."""
    if len(values) > k:
        part = np.argpartition(-values, k - 1)[:k]
        threshold = values[part].min()
        part = np.flatnonzero(values >= threshold)  # every tie at the threshold, then the earliest of them
        return part[np.argsort(-values[part], kind="stable")][:k]
    return np.argsort(-values, kind="stable")


def _top_k(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's k largest entries (ties: the lower column), as float32; vectorised over all rows."""
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    matrix.sort_indices()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((matrix.indices, -matrix.data, rows))  # by row, then value descending, then column
    rank = np.arange(len(order)) - matrix.indptr[rows[order]]
    keep = np.sort(order[rank < k])  # back in row, column order
    kept_rows = rows[keep]
    indptr = np.r_[0, np.cumsum(np.bincount(kept_rows, minlength=matrix.shape[0]))]
    return sp.csr_matrix((matrix.data[keep].astype(np.float32), matrix.indices[keep], indptr), shape=matrix.shape)


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

    def similarities(self, a, items):
        row = self.row("knn", a)
        return np.fromiter((row.get(b, 0.0) for b in items), dtype=np.float64, count=len(items))

    def _positions(self, items: list[str]) -> tuple[np.ndarray, np.ndarray]:
        at = np.fromiter((self.index.get(i, -1) for i in items), dtype=np.int64, count=len(items))
        return at, at >= 0

    def first_seen_many(self, items):
        at, known = self._positions(items)
        return np.where(known, self.arrays["first_seen"][np.where(known, at, 0)] if len(self.items) else 0, math.nan)

    def trend_shares(self, items):
        at, known = self._positions(items)
        counts = np.where(known, self.arrays["trend"][np.where(known, at, 0)] if len(self.items) else 0, 0.0)
        return (counts + 1e-3) / (self._trend_total + 1.0)

    def out_total_of(self, item_id):
        return self.out_total.get(item_id, 0.0)

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
    the visitor's recent items, what follows the last one, what is co-visited and similar, tag matches
    (these personal proposals fill at most two thirds of `n`), then `popular` (by stage) and trending for
    everyone (a visitor with no history gets those), then more of `popular` up to `n`. Tag matches are
    searched in `pool` (default: the catalog), where new items with no history are reached; given
    `tag_index` (over the pool, in its order), they are looked up there instead, with the same answer,
    touching only the items that carry a liked tag."""
    out: dict[str, str] = {}
    personal = n - n // 3

    def offer(items, reason, limit=n):
        room = limit - len(out)
        for item_id in items:
            if room <= 0:
                return
            if item_id not in out:
                out[item_id] = reason
                room -= 1

    offer([i for i, _ in recent], REASONS["recent"], personal)  # bought again: The Complete Journey's best baseline
    for kind, width in (("transitions", 60), ("covisits", 40), ("knn", 20)):
        for other, _ in recent[: 1 if kind == "transitions" else 3]:
            if len(out) >= personal:
                break
            label = catalog_items[other].title if other in catalog_items and catalog_items[other].title else other
            offer(signals.top(kind, other, width), REASONS[kind].format(item=label), personal)
    if tags and len(out) < personal and tag_index is not None:
        offer(tag_index.matching(tags, TAG_MATCHES), REASONS["tags"], personal)
    elif tags and len(out) < personal:
        liked = set(tags)
        pool = catalog_items if pool is None else pool
        matches = [i for i, item in pool.items() if liked.intersection(item.tags)][:TAG_MATCHES]
        offer(matches, REASONS["tags"], personal)
    offer(popular[:50], REASONS["stage"])
    offer(signals.trending(30), REASONS["trending"])
    offer(popular[50:n], REASONS["stage"])
    return out


def signal_block(
    signals: _Signals,
    recent: list[tuple[str, float]],
    now: float,
    item_ids: list[str],
    catalog_items: dict,
    tags: dict[str, float],
    known: tuple | None = None,
) -> np.ndarray:
    """The generators' signals for each candidate (SIGNAL_NAMES), given the visitor's recent items;
    computed a column at a time (training builds about a million rows). `known`: what serving precomputed
    of the candidates (models.item_table): their tag sets (None where untagged), first touch and log trend
    share, the same numbers this function computes without it."""
    n = len(item_ids)
    block = np.zeros((n, len(SIGNAL_NAMES)), dtype=np.float64)
    if not n:
        return block

    def column(row: dict) -> np.ndarray:
        return np.fromiter((row.get(i, 0.0) for i in item_ids), dtype=np.float64, count=n) if row else np.zeros(n)

    last = recent[0][0] if recent else None
    if last is not None:
        trans = column(signals.row("transitions", last))
        out_total = signals.out_total_of(last)
        block[:, 0] = np.log1p(trans)
        block[:, 1] = trans / out_total if out_total else 0.0
    window = recent[:WINDOW]
    covisit = np.zeros(n)
    for distance, (other, _) in enumerate(window):
        covisit += column(signals.row("covisits", other)) / (distance + 1)
    block[:, 2] = np.log1p(covisit)
    if window:
        sims = signals.similarity_rows([other for other, _ in window], item_ids)
        block[:, 3], block[:, 4] = sims.max(axis=0), sims.sum(axis=0)
    position = {item_id: (p, ts) for p, (item_id, ts) in enumerate(recent)}
    seen = [position.get(i) for i in item_ids]
    block[:, 5] = [p[0] if p else math.nan for p in seen]
    since = np.asarray([max(now - p[1], 0.0) if p else math.nan for p in seen], dtype=np.float64)
    block[:, 6] = np.log1p(since) / _LOG_DAY
    if catalog_items and (known is None or tags):  # without a tag profile, both tag columns stay 0
        recent_tags = [set(catalog_items[i].tags) for i, _ in window if i in catalog_items and catalog_items[i].tags]
        tag_sets = known[0] if known is not None else (_tag_set(catalog_items.get(i)) for i in item_ids)
        for r, item_tags in enumerate(tag_sets):
            if item_tags is None:
                continue
            block[r, 7] = sum(tags.get(tag, 0.0) for tag in item_tags)
            block[r, 8] = max((len(item_tags & o) / len(item_tags | o) for o in recent_tags), default=0.0)
    first = signals.first_seen_many(item_ids) if known is None else known[1]
    block[:, 9] = np.log1p(np.maximum(now - first, 0.0)) / _LOG_DAY  # NaN where never seen
    block[:, 10] = np.log(signals.trend_shares(item_ids)) if known is None else known[2]
    return block


def _tag_set(item) -> set[str] | None:
    return set(item.tags) if item is not None and item.tags else None

"""The candidate generators between retrains (issue 11): live counts laid over the bundle's frozen ones.

`LiveCounts` counts the touches accepted since the bundle's data ends with `Generators.add`, the one
function training counts with, so a transition or a co-visit weighs the same live as in the next
bundle. Everything it holds is bounded: the items tracked (least recently touched dropped first), the
neighbours kept per item (the heaviest), the visitors whose previous items it remembers (an LRU).
`snapshot` gives a `LiveRetrieval`: the bundle's `Retrieval` plus those counts, immutable, so the
request path reads it without a lock while the next one is being counted.
"""

from __future__ import annotations

import heapq
import math
from collections import ChainMap, OrderedDict

import numpy as np

from models.retrieval import TREND_HALF_LIFE_S, Generators, Retrieval

LIVE_KINDS = ("transitions", "covisits")
"""What moves live. Item-kNN's cosine needs every visitor's window over the whole history: it stays
the bundle's until the next retrain."""
TRENDING_KEPT = 200
"""How many trending items a snapshot ranks (the bundle's Retrieval keeps as many)."""


class LiveCounts:
    """Transitions, co-visits, trend and first touch of the touches fed to `add`, within fixed bounds."""

    def __init__(self, max_items: int, max_neighbours: int, max_visitors: int):
        self.max_items = max_items
        self.max_neighbours = max_neighbours
        self.max_visitors = max_visitors
        self.generators = Generators()
        self.visitors: OrderedDict[str, list[tuple[str, float]]] = OrderedDict()
        """Each visitor's distinct previous items, newest first: as many as co-visits look back."""
        self.active: OrderedDict[str, None] = OrderedDict()
        """The items tracked, least recently touched first."""
        self.touches = 0
        self._dirty: set[str] = set()
        self._rows: dict[str, dict[str, dict[str, float]]] = {kind: {} for kind in LIVE_KINDS}

    def add(self, who: str, item_id: str, ts: float) -> None:
        """Count one touch of `item_id` at `ts` by visitor (or customer) `who`, as training would."""
        before = self.visitors.get(who, [])
        self.generators.add(before, item_id, ts)
        self.touches += 1
        for touched in [other for other, _ in reversed(before[: self.generators.window])] + [item_id]:
            self._dirty.add(touched)
            self.active[touched] = None
            self.active.move_to_end(touched)
        self.remember(who, item_id, ts)

    def remember(self, who: str, item_id: str, ts: float) -> None:
        """Note a touch as the visitor's previous item without counting it (one the bundle already counted)."""
        before = [(other, at) for other, at in self.visitors.pop(who, []) if other != item_id]
        position = next((p for p, (_, at) in enumerate(before) if at <= ts), len(before))
        before.insert(position, (item_id, ts))
        self.visitors[who] = before[: self.generators.window]
        while len(self.visitors) > self.max_visitors:
            self.visitors.popitem(last=False)

    def trim(self) -> None:
        """Back within the bounds: drop the least recently touched items, cut each row to its heaviest."""
        generators = self.generators
        # item-kNN is not served live (LIVE_KINDS): its counts would only grow
        generators.counts["cooccur"].clear()
        generators.visitors.clear()
        generators._top_cache.clear()
        while len(self.active) > self.max_items:
            item_id, _ = self.active.popitem(last=False)
            for kind in LIVE_KINDS:
                generators.counts[kind].pop(item_id, None)
            generators.out_total.pop(item_id, None)
            generators.first.pop(item_id, None)
            generators.trend.pop(item_id, None)
        for kind in LIVE_KINDS:
            table = generators.counts[kind]
            for item_id, row in table.items():
                if len(row) > self.max_neighbours:
                    table[item_id] = dict(heapq.nlargest(self.max_neighbours, row.items(), key=lambda kv: kv[1]))
                    self._dirty.add(item_id)

    def snapshot(self, base: Retrieval, base_ts: float) -> LiveRetrieval:
        """The bundle's generators (`base`, counted up to `base_ts`) with these counts, as an immutable copy."""
        self.trim()
        rows = {}
        for kind in LIVE_KINDS:
            previous = self._rows[kind]
            rows[kind] = {
                item_id: dict(row) if item_id in self._dirty or item_id not in previous else previous[item_id]
                for item_id, row in self.generators.counts[kind].items()
            }
        self._rows, self._dirty = rows, set()
        generators = self.generators
        return LiveRetrieval(
            base,
            base_ts,
            rows,
            dict(generators.out_total),
            dict(generators.first),
            dict(generators.trend),
            generators.trend_total,
            generators.trend_ts,
        )

    def sizes(self) -> dict[str, int]:
        """What the bounds cap, as counts (for tests and the log)."""
        counts = self.generators.counts
        return {
            "items": len(self.active),
            "rows": max(len(counts[kind]) for kind in LIVE_KINDS),
            "neighbours": max((len(row) for kind in LIVE_KINDS for row in counts[kind].values()), default=0),
            "trend": len(self.generators.trend),
            "visitors": len(self.visitors),
        }


class LiveRetrieval(Retrieval):
    """The bundle's `Retrieval` with live counts added: transitions and co-visits summed per pair,
    out-totals summed, trend decayed to the newest live touch and summed, first touch from the bundle
    else live. Item-kNN reads the bundle's. Built once per refresh, never changed after."""

    def __init__(
        self,
        base: Retrieval,
        base_ts: float,
        rows: dict[str, dict[str, dict[str, float]]],
        out_total: dict[str, float],
        first: dict[str, float],
        trend: dict[str, float],
        trend_total: float,
        trend_ts: float | None,
    ):
        self.base = base
        self.base_ts = base_ts
        self.items, self.index, self.matrices, self.arrays = base.items, base.index, base.matrices, base.arrays
        self.live_rows = rows
        self.out_total = ChainMap({i: base.out_total.get(i, 0.0) + v for i, v in out_total.items()}, base.out_total)
        self._first = first
        now = max(base_ts, trend_ts if trend_ts is not None else base_ts)
        self._base_factor = 0.5 ** ((now - base_ts) / TREND_HALF_LIFE_S)
        live_factor = 0.5 ** ((now - trend_ts) / TREND_HALF_LIFE_S) if trend_ts is not None else 0.0
        self._live_trend = {i: v * live_factor for i, v in trend.items()}
        self._trend_total = base._trend_total * self._base_factor + trend_total * live_factor
        contenders = set(base.trending(TRENDING_KEPT)) | set(self._live_trend)
        self._trending = heapq.nlargest(TRENDING_KEPT, sorted(contenders), key=self._trend_of)

    def _trend_of(self, item_id: str) -> float:
        i = self.index.get(item_id)
        frozen = float(self.arrays["trend"][i]) if i is not None else 0.0
        return frozen * self._base_factor + self._live_trend.get(item_id, 0.0)

    def row(self, kind, item_id):
        frozen = self.base.row(kind, item_id)
        live = self.live_rows.get(kind, {}).get(item_id)
        if not live:
            return frozen
        for other, weight in live.items():
            frozen[other] = frozen.get(other, 0.0) + weight
        return frozen

    def first_seen(self, item_id):
        frozen = self.base.first_seen(item_id)
        return frozen if frozen is not None else self._first.get(item_id)

    def trend_share(self, item_id):
        return (self._trend_of(item_id) + 1e-3) / (self._trend_total + 1.0)

    def first_seen_many(self, items):
        frozen = self.base.first_seen_many(items)
        live = np.fromiter((self._first.get(i, math.nan) for i in items), dtype=np.float64, count=len(items))
        return np.where(np.isnan(frozen), live, frozen)

    def trend_shares(self, items):
        at, known = self._positions(items)
        frozen = self.arrays["trend"][np.where(known, at, 0)] if len(self.items) else np.zeros(len(items))
        live = np.fromiter((self._live_trend.get(i, 0.0) for i in items), dtype=np.float64, count=len(items))
        return (np.where(known, frozen, 0.0) * self._base_factor + live + 1e-3) / (self._trend_total + 1.0)

    def save(self, directory):
        """The bundle keeps what it was trained with; live counts are rebuilt from the journal."""
        self.base.save(directory)

"""The item-side features that do not depend on the visitor, computed once per (bundle, catalog).

A decision's features (models.features.FeatureSpec.item_block) read, per candidate, its value, kind and
stages from the catalog and its counts from the bundle's item stats and generators. None of that changes
between decisions until the bundle or the catalog is replaced (a Catalog is never changed, only replaced),
so serving gathers those columns from arrays over the whole catalog instead of recomputing them per
candidate. Each column is the same arithmetic as the plain path, applied to every item at once: the
serving matrix is identical to the one training builds (tests/models/test_item_table.py checks it).
"""

from __future__ import annotations

import numpy as np

from models.catalog import ITEM_KINDS, Catalog

MAX_TABLES_PER_CATALOG = 2
"""The serving bundle and the shadow bundle; an older bundle's table is dropped."""
SIGNAL_COLUMNS_MAX_ITEMS = 20_000
"""The generators' per-item columns (first touch, trend) change with every live snapshot
(service.live_signals); up to this many catalog items they are recomputed over the catalog at the first
decision after a snapshot, above it for each decision's candidates only."""


class ItemTable:
    """Arrays over the catalog's items, in `ids` order, for one bundle's item stats and generators."""

    def __init__(self, bundle, catalog: Catalog):
        self.bundle = bundle
        items = self.catalog_items = catalog.items
        self.ids = list(items)
        self.index = {item_id: row for row, item_id in enumerate(self.ids)}
        stats = bundle.item_stats
        self.stats = stats
        n = len(self.ids)
        self.value = np.fromiter((items[i].value for i in self.ids), dtype=np.float64, count=n)
        self.kind = np.fromiter((ITEM_KINDS.index(items[i].kind) for i in self.ids), dtype=np.float64, count=n)
        self.tags = [items[i].tags for i in self.ids]
        self._stages = [items[i].stages for i in self.ids]
        self.share, _, self.response_rate = stats.columns(self.ids, None)
        self._signal_columns: tuple = (None, None, None)  # (signals, first_seen, log trend share)
        self.evidence = np.fromiter((stats.shown.get(i, 0) + stats.total(i) for i in self.ids), dtype=np.int64, count=n)
        """Logged impressions plus engagements per item (models.policy.with_uncertainty_bonus)."""
        self.described: list[frozenset[str] | None] = [None] * n  # models.policy.content_match, filled lazily
        self._known_stages = {None, *bundle.spec.journey.stages}
        self._by_stage: dict = {}
        self._by_channel: dict = {}

    def rows(self, item_ids: list[str]) -> np.ndarray | None:
        """Each item's row, or None when one of them is not in the catalog (the caller computes plainly)."""
        index = self.index
        try:
            return np.fromiter((index[i] for i in item_ids), dtype=np.intp, count=len(item_ids))
        except KeyError:
            return None

    def signal_columns(self, signals, rows: np.ndarray, item_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(first seen, log trend share) of the candidates, from `signals` (the bundle's, or a live snapshot)."""
        if len(self.ids) > SIGNAL_COLUMNS_MAX_ITEMS:
            return signals.first_seen_many(item_ids), np.log(signals.trend_shares(item_ids))
        cached = self._signal_columns
        if cached[0] is not signals:
            cached = (signals, signals.first_seen_many(self.ids), np.log(signals.trend_shares(self.ids)))
            self._signal_columns = cached
        return cached[1][rows], cached[2][rows]

    def stage_columns(self, stage: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(item_stage_share, item_stage_eligible) over the catalog at `stage`; the journey's stages cached."""
        cached = self._by_stage.get(stage)
        if cached is None:
            _, share, _ = self.stats.columns(self.ids, stage)
            eligible = np.fromiter(
                (1.0 if not stages or stage in stages else 0.0 for stages in self._stages),
                dtype=np.float64,
                count=len(self.ids),
            )
            cached = (share, eligible)
            if stage in self._known_stages:
                self._by_stage[stage] = cached
        return cached

    def channel_rates(self, channel: str | None) -> np.ndarray:
        """item_channel_response_rate over the catalog; channels with logged decisions (or none) cached."""
        cached = self._by_channel.get(channel)
        if cached is None:
            cached = self.stats.channel_rates(self.ids, channel)
            if not channel or channel in self.stats.by_channel or len(self._by_channel) < 16:
                self._by_channel[channel] = cached
        return cached


def item_table(bundle, catalog: Catalog) -> ItemTable:
    """The bundle's table over `catalog`, built at its first use and kept on the catalog (replaced, never
    changed, on an edit: a new catalog version starts with no tables, so none is stale)."""
    tables = catalog.__dict__.setdefault("_item_tables", [])  # frozen: a cache beside the fields (Catalog.pool)
    for table in tables:
        if table.bundle is bundle:
            return table
    table = ItemTable(bundle, catalog)
    tables.insert(0, table)
    del tables[MAX_TABLES_PER_CATALOG:]
    return table

"""What a decision may draw from, computed once per catalog version rather than per request.

A placement's pool (its ids, in a stable order) and an inverted tag index over it (tag -> positions),
so that tag-affinity retrieval touches only the items carrying the visitor's tags. A `Catalog` is
immutable and replaced whole when the catalog changes (`CatalogStore.reload`), so the pools are
cached on the catalog object itself (`Catalog.pool`): a new version starts with an empty cache.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping


class TagIndex:
    """Item ids carrying each tag, as ascending positions in `ids` (the catalog's or a pool's order)."""

    def __init__(self, ids: list[str], items: Mapping):
        self.ids = ids
        postings: dict[str, list[int]] = {}
        for position, item_id in enumerate(ids):
            for tag in dict.fromkeys(items[item_id].tags):
                postings.setdefault(tag, []).append(position)
        self.postings = postings

    @classmethod
    def of(cls, items: Mapping) -> TagIndex:
        """Over every item, in the mapping's order (what `candidates` scans when given no pool)."""
        return cls(list(items), items)

    def matching(self, tags: Iterable[str], n: int) -> list[str]:
        """The first `n` ids (in index order) carrying any of `tags`: what scanning the ids for a shared tag
        and keeping the first `n` gives, touching only the matching postings."""
        lists = [self.postings[tag] for tag in tags if tag in self.postings]
        out: list[str] = []
        last = -1
        for position in heapq.merge(*lists):
            if position != last:
                out.append(self.ids[position])
                last = position
                if len(out) >= n:
                    break
        return out


class Pool:
    """One placement's candidates: ids in the placement's order, membership, and their tag index."""

    def __init__(self, ids: list[str], items: Mapping):
        self.ids = ids
        self.members = frozenset(ids)
        self.tags = TagIndex(ids, items)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.members

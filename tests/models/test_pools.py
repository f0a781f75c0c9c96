"""Placement pools and the tag index: computed once per catalog version, the same answers as scanning."""

import numpy as np

from models.catalog import Catalog, Item, Placement
from models.pools import TagIndex
from models.retrieval import Generators, candidates


def _catalog(n: int = 400, seed: int = 2) -> Catalog:
    rng = np.random.default_rng(seed)
    items = {}
    for k in range(n):
        tags = tuple(f"t{t}" for t in rng.choice(30, size=int(rng.integers(0, 4)), replace=False))
        items[f"i{k:03d}"] = Item(id=f"i{k:03d}", kind="offer" if k % 3 else "content", tags=tags)
    placements = {
        "all": Placement(id="all"),
        "content": Placement(id="content", candidates={"kinds": ["content"]}),
        "named": Placement(id="named", candidates=("i399", "i007", "i123", "nope")),
    }
    return Catalog(items, placements)


def test_the_tag_index_answers_as_the_scan_does():
    catalog = _catalog()
    for placement in catalog.placements.values():
        pool = catalog.pool(placement)
        assert pool.ids == placement.candidate_ids(catalog)
        members = {i: catalog.items[i] for i in pool.ids}
        for liked in ({"t1"}, {"t2", "t17", "t29"}, {"absent"}, {f"t{t}" for t in range(30)}):
            scanned = [i for i, item in members.items() if liked & set(item.tags)]
            for n in (1, 5, 50, 1000):
                assert pool.tags.matching(liked, n) == scanned[:n]


def test_candidates_with_a_tag_index_propose_what_they_did_without():
    catalog = _catalog()
    generators = Generators()
    recent = [("i010", 2.0), ("i020", 1.0)]
    generators.add([], "i010", 1.0)
    generators.add([("i010", 1.0)], "i020", 2.0)
    tags = {"t3": 0.5, "t4": 0.3, "t5": 0.2}
    popular = ["i001", "i002"]
    for n in (10, 40, 300):
        assert candidates(generators, recent, popular, catalog.items, tags, n) == candidates(
            generators, recent, popular, catalog.items, tags, n, None, TagIndex.of(catalog.items)
        )
        pool = catalog.pool(catalog.placements["content"])
        members = {i: catalog.items[i] for i in pool.ids}
        assert candidates(generators, recent, popular, catalog.items, tags, n, members) == candidates(
            generators, recent, popular, catalog.items, tags, n, members, pool.tags
        )


def test_a_pool_is_computed_once_per_catalog_version():
    catalog = _catalog()
    placement = catalog.placements["content"]
    assert catalog.pool(placement) is catalog.pool(placement)
    assert "i000" in catalog.pool(placement) and "i001" not in catalog.pool(placement)
    edited = Catalog({**catalog.items, "i999": Item(id="i999", kind="content")}, catalog.placements)
    assert "i999" in edited.pool(placement) and "i999" not in catalog.pool(placement)
    other = Placement(id="content", candidates={"kinds": ["offer"]})  # not this catalog's: not served from cache
    assert "i001" in catalog.pool(other)

"""Live counts between retrains (issue 11) on tiny hand-built logs: the merge with the bundle's frozen
counts, the bounds, trending."""

import math

import pytest

from models.catalog import Item
from models.live_signals import LiveCounts, LiveRetrieval
from models.retrieval import Generators, Retrieval, signal_block

EARLY = [("v1", "a", 60.0), ("v1", "b", 120.0), ("v2", "a", 180.0), ("v2", "c", 240.0), ("v3", "b", 300.0)]
"""Counted into the bundle: a->b, a->c, co-visits a-b, a-c."""
LATE = [("v3", "c", 400.0), ("v1", "c", 460.0), ("v4", "a", 520.0), ("v4", "c", 580.0), ("v5", "d", 640.0)]
"""After the bundle's data end: b->c (v3 carries b over from the bundle's time), b->c (v1), a->c (v4)."""


def counted(log, generators=None) -> Generators:
    """A log folded as training folds it: each touch with the visitor's distinct earlier items, newest first."""
    generators = generators or Generators()
    before: dict[str, list[tuple[str, float]]] = {}
    for who, item, ts in log:
        earlier = before.get(who, [])
        generators.add(earlier, item, ts)
        before[who] = [(item, ts)] + [pair for pair in earlier if pair[0] != item]
    return generators


def live(log=LATE, seed=EARLY, items=100, neighbours=100, visitors=100) -> LiveCounts:
    counts = LiveCounts(items, neighbours, visitors)
    for who, item, ts in seed:
        counts.remember(who, item, ts)
    for who, item, ts in log:
        counts.add(who, item, ts)
    return counts


@pytest.fixture
def merged() -> LiveRetrieval:
    return live().snapshot(counted(EARLY).freeze(), base_ts=300.0)


def test_merged_transitions_and_covisits_equal_counting_the_whole_log_at_once(merged):
    whole = counted(EARLY + LATE)
    for kind in ("transitions", "covisits"):
        for item in "abcd":
            assert merged.row(kind, item) == pytest.approx(whole.row(kind, item)), (kind, item)
    assert merged.row("transitions", "a") == {"b": 1.0, "c": 2.0}
    assert merged.row("transitions", "b") == {"c": 2.0}
    assert merged.top("transitions", "a", 1) == ["c"]
    assert merged.out_total.get("a") == 3.0 and merged.out_total.get("b") == 2.0
    assert merged.out_total.get("d", "unknown") == "unknown"


def test_knn_and_first_seen_keep_the_bundle_s_and_a_new_item_gets_its_live_first_touch(merged):
    base = counted(EARLY).freeze()
    assert merged.row("knn", "a") == base.row("knn", "a")
    assert merged.similarity("a", "b") == base.similarity("a", "b")
    assert merged.first_seen("a") == 60.0
    assert merged.first_seen("d") == 640.0
    assert merged.first_seen("nothing") is None


def test_the_snapshot_does_not_move_when_counting_goes_on():
    counts = live()
    snapshot = counts.snapshot(counted(EARLY).freeze(), base_ts=300.0)
    before = snapshot.row("transitions", "a")
    counts.add("v9", "a", 700.0)
    counts.add("v9", "b", 710.0)
    assert snapshot.row("transitions", "a") == before
    assert counts.snapshot(counted(EARLY).freeze(), 300.0).row("transitions", "a")["b"] == before["b"] + 1


def test_signal_block_reads_the_merged_counts_as_it_reads_the_bundle_s(merged):
    catalog = {i: Item(id=i, kind="content") for i in "abcd"}
    block = signal_block(merged, [("a", 600.0)], 600.0, ["b", "c"], catalog, {})
    whole = counted(EARLY + LATE)
    expected = signal_block(whole.freeze(), [("a", 600.0)], 600.0, ["b", "c"], catalog, {})
    assert block[:, :3] == pytest.approx(expected[:, :3])  # transitions (count and share) and co-visits
    assert block[1, 1] == pytest.approx(2 / 3)


def test_a_burst_of_touches_rises_in_trending_above_the_bundle_s_best_seller():
    bundle = counted([(f"v{n}", "old", 1_000.0 + n) for n in range(50)]).freeze()
    assert bundle.trending(1) == ["old"]
    day = 86_400.0
    counts = live([(f"w{n}", "new", day + n) for n in range(40)], seed=[])
    merged = counts.snapshot(bundle, base_ts=1_050.0)
    assert merged.trending(2) == ["old", "new"]  # 50 a day ago, decayed by 0.5^(1/7), beat 40 now
    counts.add("w99", "new", day + 100)
    for n in range(20):
        counts.add(f"x{n}", "new", 3 * day + n)
    merged = counts.snapshot(bundle, base_ts=1_050.0)
    assert merged.trending(2) == ["new", "old"]
    assert merged.trend_share("new") > merged.trend_share("old") > merged.trend_share("never")
    assert math.isclose(
        merged.trend_share("old") + merged.trend_share("new"), 1.0, rel_tol=0.05
    )  # the shares are of one total, the bundle's decayed and the live summed


def test_the_bounds_cap_items_neighbours_and_visitors():
    counts = LiveCounts(max_items=5, max_neighbours=3, max_visitors=4)
    for n in range(200):
        counts.add(f"v{n % 3}", f"i{n * 7 % 13}", float(n))
    assert counts.sizes()["neighbours"] > 3 and counts.sizes()["rows"] > 5  # between refreshes they grow
    for n in range(200, 209):
        counts.add(f"v{n % 9}", f"i{n % 13}", float(n))
    counts.snapshot(Retrieval.empty(), 0.0)
    sizes = counts.sizes()
    assert sizes["items"] == 5 and sizes["rows"] <= 5 and sizes["trend"] <= 5
    assert sizes["neighbours"] == 3
    assert sizes["visitors"] == 4
    assert len(counts.generators.first) <= 5 and len(counts.generators.out_total) <= 5
    assert counts.generators.counts["cooccur"] == {}
    # the least recently touched go first: the last touches' items and visitors are kept
    assert list(counts.active)[-2:] == ["i12", "i0"]  # touched at 207 and 208
    assert list(counts.visitors) == ["v7", "v8", "v0", "v1"]  # the touches at 205 to 208


def test_a_forgotten_visitor_s_next_touch_counts_for_trending_only():
    counts = LiveCounts(max_items=10, max_neighbours=10, max_visitors=1)
    counts.add("v1", "a", 1.0)
    counts.add("v2", "x", 2.0)  # v1 is forgotten
    counts.add("v1", "b", 3.0)
    merged = counts.snapshot(Retrieval.empty(), 0.0)
    assert merged.row("transitions", "a") == {}
    assert merged.trending(3)[0] in {"a", "b", "x"} and len(merged.trending(3)) == 3


def test_the_column_forms_agree_with_the_item_by_item_answers():
    from models.retrieval import _Signals

    base = Generators()
    base.add([], "a", 0.0)
    base.add([("a", 0.0)], "b", 10.0)
    live = LiveCounts(max_items=100, max_neighbours=10, max_visitors=10)
    live.add("v", "a", 100_000.0)
    live.add("v", "fresh", 100_060.0)
    merged = live.snapshot(base.freeze(), 10.0)
    items = ["a", "b", "fresh", "never"]
    assert merged.first_seen_many(items) == pytest.approx(_Signals.first_seen_many(merged, items), nan_ok=True)
    assert merged.trend_shares(items) == pytest.approx(_Signals.trend_shares(merged, items))
    assert merged.first_seen("fresh") == 100_060.0

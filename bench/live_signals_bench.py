"""The live candidate generators at their default bounds: memory held, and the cost of a refresh.

    .venv/bin/python bench/live_signals_bench.py                  # 200,000 touches over 20,000 items
    .venv/bin/python bench/live_signals_bench.py --touches 50000

Touches are drawn from a Zipf-like popularity over --items items by --visitors visitors, each
visitor's touches in a row (sessions of 2 to 8), so every bound is reached. It prints the memory
the counts and one snapshot hold (tracemalloc), the time to count a batch and to take a snapshot
(the work of one upkeep step), and one merged row read (what a decision pays per row it reads).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from models.live_signals import LiveCounts  # noqa: E402
from models.retrieval import Retrieval  # noqa: E402


def touches(n: int, items: int, visitors: int, seed: int = 1) -> list[tuple[str, str, float]]:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.9
    chosen = rng.choice(items, size=n, p=popularity / popularity.sum())
    out, t, who, left = [], 0.0, 0, 0
    for item in chosen:
        if left == 0:
            who, left = int(rng.integers(visitors * 5)), int(rng.integers(2, 9))
        left -= 1
        t += 0.5
        out.append((f"v{who}", f"i{item}", t))
    return out


def run(log, settings: Settings, batch: int):
    """Count `log` in batches of `batch`, a snapshot after each, as the upkeep step does."""
    counts = LiveCounts(settings.live_signals_items, settings.live_signals_neighbours, settings.live_signals_visitors)
    base, add_s, snap_s, snapshot = Retrieval.empty(), [], [], None
    for start in range(0, len(log), batch):
        began = time.perf_counter()
        for who, item, ts in log[start : start + batch]:
            counts.add(who, item, ts)
        add_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        snapshot = counts.snapshot(base, 0.0)
        snap_s.append(time.perf_counter() - began)
    return counts, snapshot, add_s, snap_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--touches", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    settings = Settings()
    log = touches(args.touches, args.items, settings.live_signals_visitors)
    counts, snapshot, add_s, snap_s = run(log, settings, args.batch)  # timed without tracemalloc's overhead
    tracemalloc.start()
    kept = run(log, settings, args.batch)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    began = time.perf_counter()
    for _ in range(1000):
        snapshot.row("covisits", "i0")
    row_us = (time.perf_counter() - began) * 1000
    print(f"bounds: {counts.sizes()} (settings: items {settings.live_signals_items}, "
          f"neighbours {settings.live_signals_neighbours}, visitors {settings.live_signals_visitors})")  # fmt: skip
    print(f"memory held (counts + the last snapshot): {held / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB")
    print(f"per {args.batch:,} touches: count median {np.median(add_s) * 1000:.0f} ms, "
          f"snapshot median {np.median(snap_s) * 1000:.0f} ms, max {max(snap_s) * 1000:.0f} ms")  # fmt: skip
    print(f"one merged co-visit row of the most touched item: {row_us:.0f} us")


if __name__ == "__main__":
    main()

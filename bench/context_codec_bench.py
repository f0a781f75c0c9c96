"""CPU and bytes of a stored context: the JSON of format 1 beside format 2 (models.context_codec).

    python bench/context_codec_bench.py

Contexts of 1, 20 and 200 events (page_view and product_view in turn, channel web, catalog-like item ids,
server-made ids, an event about every hour; 200 events fill `recent` to its cap of 50). Prints the stored
bytes and the CPU of `to_json` and `from_json` per call: the least of 9 runs of 2,000 calls, in process time
(a shared machine's other processes then count less). Format 1 is `json.dumps` as `to_json` was, read back
by `from_json`, which still reads it.
"""

from __future__ import annotations

import json
import random
import sys
import time
import timeit
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.context import apply_event, from_json, new_context, to_json  # noqa: E402
from models.journey import JourneyMap  # noqa: E402


def context(events: int, journey: JourneyMap) -> dict:
    ctx = new_context("mem-1234")
    rng, ts = random.Random(1), 1_796_093_570.0
    for n in range(events):
        ts = round((ts + rng.expovariate(1 / 3600.0)) * 1e6) / 1e6  # whole microseconds, as the server's are
        event = {
            "event_id": uuid.uuid4().hex,
            "type": ("page_view", "product_view")[n % 2],
            "ts": ts,
            "channel": "web",
            "item_id": f"perf_offer_{n % 50:02d}",
        }
        apply_event(ctx, event, journey, 50)
    return ctx


def per_call_us(call) -> float:
    return min(timeit.repeat(call, number=2000, repeat=9, timer=time.process_time)) / 2000 * 1e6


def main() -> int:
    journey = JourneyMap.load(ROOT / "config" / "journey.yaml")
    for events in (1, 20, 200):
        print(f"{events} events: {measure(context(events, journey))}")
    return 0


def measure(ctx: dict) -> str:
    as_json, stored = json.dumps(ctx, separators=(",", ":")), to_json(ctx)
    assert from_json(stored, "x") == ctx == from_json(as_json, "x")
    write = (per_call_us(lambda: json.dumps(ctx, separators=(",", ":"))), per_call_us(lambda: to_json(ctx)))
    read = (per_call_us(lambda: from_json(as_json, "x")), per_call_us(lambda: from_json(stored, "x")))
    return (
        f"{len(ctx['recent'])} recent: bytes {len(as_json):,} -> {len(stored):,}; "
        f"to_json {write[0]:.1f} -> {write[1]:.1f} us; from_json {read[0]:.1f} -> {read[1]:.1f} us"
    )


if __name__ == "__main__":
    sys.exit(main())

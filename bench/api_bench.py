"""Drive POST /v1/events and POST /v1/decisions against a running Wayfinder; print latency and throughput.

    python bench/api_bench.py --url http://127.0.0.1:8000 --requests 2000 --concurrency 1
    python bench/api_bench.py --concurrency 8 --redis-url redis://127.0.0.1:6379/0
    python bench/api_bench.py --candidates 50      # creates 50 items and a placement through the API

Every call goes through the Python client (clients/python, `wayfinder_client`), as a user's would: one
kept-alive connection per client thread, no retries while measuring. Needs an admin key (--key or WF_ADMIN_KEY).

Bounded: each phase stops after --requests requests or --max-seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))
from wayfinder_client import Wayfinder, WayfinderError  # noqa: E402  (clients/python, as a user installs it)

EVENT_TYPES = ["page_view", "product_view", "configure_product", "book_test_drive", "click"]
ITEMS = ["hero_x3_family_suv", "hero_x5_m_sport", "hero_e2_electric", "action_book_test_drive", "accessory_pet_pack"]
PLACEMENTS = ["app_offers", "home_hero", "next_step_panel", "email_block"]

ADMIN_KEY = os.environ.get("WF_ADMIN_KEY", "")
"""The admin key: `source var/keys/demo-keys.env` (or export WF_ADMIN_KEY, or pass --key) before running; serve
with WAYFINDER_RATE_LIMITS=off so the bench measures the service, not its limits."""


def send_event(wf: Wayfinder, rng: random.Random, visitors: int) -> None:
    wf.send_event(
        f"bench-{rng.randrange(visitors)}",
        rng.choice(EVENT_TYPES),
        channel=rng.choice(["web", "app"]),
        item_id=rng.choice(ITEMS),
    )


def decide(wf: Wayfinder, rng: random.Random, visitors: int, placement: str | None) -> None:
    wf.decide(
        f"bench-{rng.randrange(visitors)}", placement or rng.choice(PLACEMENTS), channel=rng.choice(["web", "app"])
    )


def create_candidates(wf: Wayfinder, count: int) -> str:
    """PUT `count` offers and a placement choosing 3 of them (value objective, 10% exploration)."""
    ids = [f"bench_offer_{n:03d}" for n in range(count)]
    placement = f"bench_{count}"
    try:
        for n, item_id in enumerate(ids):
            wf.put_item(
                {"id": item_id, "kind": "offer", "title": f"Bench offer {n}", "tags": [f"t{n % 7}"], "value": 1 + n % 5}
            )
        wf.put_placement(
            {
                "id": placement,
                "slots": 3,
                "candidates": ids,
                "objective": "value",
                "exploration": {"epsilon": 0.1},
                "max_per_tag": 2,
            }
        )
    except WayfinderError as refused:
        raise SystemExit(f"setting up {count} candidates: {refused}") from None
    return placement


def run_phase(wf: Wayfinder, call, requests: int, concurrency: int, max_seconds: float) -> dict:
    """`call(rng)` from `concurrency` threads until `requests` calls or `max_seconds`; each thread keeps its own
    connection alive (the client's), as a back end calling Wayfinder would."""
    latencies: list[float] = []
    errors: dict[int, int] = {}
    lock = threading.Lock()
    budget = iter(range(requests))
    deadline = time.monotonic() + max_seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine, bad = [], {}
        while time.monotonic() < deadline:
            with lock:
                if next(budget, None) is None:
                    break
            start = time.perf_counter()
            try:
                call(rng)
            except WayfinderError as error:  # status 0: no answer
                bad[error.status] = bad.get(error.status, 0) + 1
            mine.append(time.perf_counter() - start)
        wf.close()
        with lock:
            latencies.extend(mine)
            for status, count in bad.items():
                errors[status] = errors.get(status, 0) + count

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "p50_ms": round(pct(0.50), 2),
        "p95_ms": round(pct(0.95), 2),
        "p99_ms": round(pct(0.99), 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "non_200": errors,
    }


def redis_commands(redis_url: str | None) -> int | None:
    if not redis_url:
        return None
    import redis

    return int(redis.Redis.from_url(redis_url).info("stats")["total_commands_processed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default=ADMIN_KEY, help="an admin key (default: $WF_ADMIN_KEY)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=0, help="decide over a placement with this many items")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--redis-url", help="the server's Redis, to count commands per decision")
    args = parser.parse_args()

    # no retries while measuring: a failed request is counted in non_200, not hidden behind a backoff
    wf = Wayfinder(args.url, args.key, timeout_s=10.0, retries=0)
    placement = create_candidates(wf, args.candidates) if args.candidates else None
    print(
        f"target {args.url}, {args.concurrency} client(s), up to {args.requests} requests a phase, "
        f"placement {placement or 'demo placements'}"
    )
    events = run_phase(
        wf, lambda r: send_event(wf, r, args.visitors), args.requests, args.concurrency, args.max_seconds
    )
    print("POST /v1/events    ", json.dumps(events))
    before = redis_commands(args.redis_url)
    decisions = run_phase(
        wf, lambda r: decide(wf, r, args.visitors, placement), args.requests, args.concurrency, args.max_seconds
    )
    after = redis_commands(args.redis_url)
    print("POST /v1/decisions ", json.dumps(decisions))
    if before is not None:
        # INFO itself counts as one command per call. Round-trips are pipelines: one read, one write.
        print(f"Redis commands per decision: {(after - before - 1) / decisions['requests']:.2f}")


if __name__ == "__main__":
    main()

"""Drive POST /v1/events and POST /v1/decisions against a running Wayfinder; print latency and throughput.

    python bench/api_bench.py --url http://127.0.0.1:8000 --requests 2000 --concurrency 1
    python bench/api_bench.py --concurrency 8 --redis-url redis://127.0.0.1:6379/0
    python bench/api_bench.py --candidates 50      # creates 50 items and a placement through the API

Bounded: each phase stops after --requests requests or --max-seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import threading
import time
import urllib.parse

EVENT_TYPES = ["page_view", "product_view", "configure_product", "book_test_drive", "click"]
ITEMS = ["hero_x3_family_suv", "hero_x5_m_sport", "hero_e2_electric", "action_book_test_drive", "accessory_pet_pack"]
PLACEMENTS = ["app_offers", "home_hero", "next_step_panel", "email_block"]

HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("WF_ADMIN_KEY", "")}
"""The admin key: `source var/keys/demo-keys.env` (or export WF_ADMIN_KEY) before running; serve with
WAYFINDER_RATE_LIMITS=off so the bench measures the service, not its limits."""


def event_body(rng: random.Random, visitors: int) -> dict:
    return {
        "visitor_id": f"bench-{rng.randrange(visitors)}",
        "type": rng.choice(EVENT_TYPES),
        "channel": rng.choice(["web", "app"]),
        "item_id": rng.choice(ITEMS),
    }


def decision_body(rng: random.Random, visitors: int, placement: str | None) -> dict:
    return {
        "visitor_id": f"bench-{rng.randrange(visitors)}",
        "placement": placement or rng.choice(PLACEMENTS),
        "context": {"channel": rng.choice(["web", "app"])},
    }


def create_candidates(url: str, count: int) -> str:
    """PUT `count` offers and a placement choosing 3 of them (value objective, 10% exploration)."""
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=10)
    ids = [f"bench_offer_{n:03d}" for n in range(count)]
    for n, item_id in enumerate(ids):
        item = {"id": item_id, "kind": "offer", "title": f"Bench offer {n}", "tags": [f"t{n % 7}"], "value": 1 + n % 5}
        _put(conn, f"/v1/catalog/items/{item_id}", item)
    placement = f"bench_{count}"
    _put(
        conn,
        f"/v1/placements/{placement}",
        {
            "id": placement,
            "slots": 3,
            "candidates": ids,
            "objective": "value",
            "exploration": {"epsilon": 0.1},
            "max_per_tag": 2,
        },
    )
    conn.close()
    return placement


def _put(conn, path: str, body: dict) -> None:
    conn.request("PUT", path, json.dumps(body), HEADERS)
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise SystemExit(f"PUT {path}: {response.status} {payload[:200]!r}")


def run_phase(url: str, path: str, make_body, requests: int, concurrency: int, max_seconds: float) -> dict:
    parsed = urllib.parse.urlparse(url)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    lock = threading.Lock()
    budget = iter(range(requests))
    deadline = time.monotonic() + max_seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=10)
        mine, bad = [], {}
        while time.monotonic() < deadline:
            with lock:
                if next(budget, None) is None:
                    break
            payload = json.dumps(make_body(rng))
            start = time.perf_counter()
            conn.request("POST", path, payload, HEADERS)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                bad[response.status] = bad.get(response.status, 0) + 1
        conn.close()
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
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=0, help="decide over a placement with this many items")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--redis-url", help="the server's Redis, to count commands per decision")
    args = parser.parse_args()

    placement = create_candidates(args.url, args.candidates) if args.candidates else None
    print(
        f"target {args.url}, {args.concurrency} client(s), up to {args.requests} requests a phase, "
        f"placement {placement or 'demo placements'}"
    )
    events = run_phase(
        args.url,
        "/v1/events",
        lambda r: event_body(r, args.visitors),
        args.requests,
        args.concurrency,
        args.max_seconds,
    )
    print("POST /v1/events    ", json.dumps(events))
    before = redis_commands(args.redis_url)
    decisions = run_phase(
        args.url,
        "/v1/decisions",
        lambda r: decision_body(r, args.visitors, placement),
        args.requests,
        args.concurrency,
        args.max_seconds,
    )
    after = redis_commands(args.redis_url)
    print("POST /v1/decisions ", json.dumps(decisions))
    if before is not None:
        # INFO itself counts as one command per call. Round-trips are pipelines: one read, one write.
        print(f"Redis commands per decision: {(after - before - 1) / decisions['requests']:.2f}")


if __name__ == "__main__":
    main()

"""Process CPU per request of decisions or event batches, in process (the Flask test client), optionally profiled.

    .venv/bin/python bench/inprocess_bench.py decisions 2000             # 50 candidates, the demo model
    .venv/bin/python bench/inprocess_bench.py events 300                 # batches of 100 events, 100 visitors each
    .venv/bin/python bench/inprocess_bench.py decisions 2000 --profile   # + cProfile, by cumulative and own time

What ../shared/bench/perf_run.sh drives over HTTP, without HTTP and gunicorn: the app's own code, its Redis
round trips (a real Redis, db --db, flushed) and its fsyncs. Prints wall and process CPU per request; process CPU
counts every thread of the process (LightGBM's OpenMP threads included), so it is the figure to compare on a
busy machine. Trains the demo model into a scratch registry first (about 30 s) unless --registry names one.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.perf_table import perf_items, perf_placement  # noqa: E402
from config.settings import Settings  # noqa: E402
from service import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "perf-admin-0123456789abcdef0123456789abcdef"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["decisions", "events"])
    parser.add_argument("requests", type=int)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--db", type=int, default=6)
    parser.add_argument("--registry", type=Path, help="a registry with a CURRENT model (default: train the demo's)")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed requests")
    parser.add_argument("--top", type=int, default=40, help="profile lines printed per ordering")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="wf-inprocess-"))
    registry = args.registry or demo_registry(scratch)
    redis.Redis.from_url(f"{args.redis}/{args.db}").flushdb()
    settings = Settings.from_env(
        environ={},
        redis_url=f"{args.redis}/{args.db}",
        data_dir=scratch / "var",
        registry=registry,
        admin_key=KEY,
        rate_limits="off",
        log_level="WARNING",
    )
    client = create_app(settings).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {KEY}"
    seed_placement(client)
    send = decide if args.what == "decisions" else post_batch
    for number in range(50):  # warm: scripts loaded, catalog and item tables built
        send(client, number)
    profiler = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    for number in range(args.requests):
        send(client, number)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{args.what}: {args.requests} requests in {wall:.2f} s; "
        f"per request {1000 * wall / args.requests:.3f} ms wall, "
        f"{1000 * cpu / args.requests:.3f} ms process CPU{' (profiled)' if profiler else ''}"
    )
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


def demo_registry(scratch: Path) -> Path:
    events, registry = scratch / "demo.jsonl", scratch / "registry"
    for command in (
        ["simulate", "--out", str(events)],
        ["train", "--events", str(events), "--registry", str(registry)],
    ):
        subprocess.run([sys.executable, "-m", "training", "--quiet", *command], cwd=ROOT, check=True)
    return registry


def seed_placement(client) -> None:
    items = perf_items()
    for item in items:
        assert client.put(f"/v1/catalog/items/{item['id']}", json=item).status_code < 300
    assert client.put("/v1/placements/perf_50", json=perf_placement(items)).status_code < 300


def decide(client, number: int) -> None:
    body = {"visitor_id": f"w-{random.randint(1, 5000)}", "placement": "perf_50", "context": {"channel": "web"}}
    answer = client.post("/v1/decisions", json=body)
    assert answer.status_code == 200, answer.get_data()


def post_batch(client, number: int) -> None:
    events = [
        {
            "visitor_id": f"e-{random.randint(1, 20000)}",
            "type": "product_view",
            "channel": "web",
            "item_id": "perf_offer_07",
            "event_id": f"{number}-{k}-{random.randint(1, 10**9)}",
        }
        for k in range(100)
    ]
    answer = client.post("/v1/events", data=json.dumps({"events": events}), content_type="application/json")
    assert answer.status_code == 200, answer.get_data()


if __name__ == "__main__":
    main()

"""CPU per POST /v1/events of 100 events (100 visitors), in process through Flask's test client, real Redis.

    python bench/event_batch_bench.py --url redis://127.0.0.1:6379/12            # 300 batches after 50 warm-up
    python bench/event_batch_bench.py --url redis://127.0.0.1:6379/12 --batches 1000

It times the checkout it is run from (the current directory). The database given is FLUSHED first: give it a
scratch one. The process's CPU per batch is what bounds events/s on a busy machine (the wall time also holds
Redis's share and the fsync); Redis's own CPU is not in it. docs/performance.md ("Events") shows a run.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path.cwd()))  # the checkout being timed

from config.settings import Settings  # noqa: E402
from service import create_app  # noqa: E402

KEY = "bench-admin-0123456789abcdef0123456789abcdef"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a scratch Redis database: it is flushed")
    parser.add_argument("--batches", type=int, default=300)
    args = parser.parse_args()
    redis.Redis.from_url(args.url).flushdb()
    folder = Path(tempfile.mkdtemp(prefix="event-batch-bench-"))
    try:
        settings = Settings.from_env(
            environ={}, redis_url=args.url, data_dir=folder / "var", admin_key=KEY, rate_limits="off"
        )
        client = create_app(settings).test_client()
        sent = [0]

        def batch() -> None:
            sent[0] += 1
            events = [
                {
                    "visitor_id": f"e-{random.randint(1, 20_000)}",
                    "type": "product_view",
                    "channel": "web",
                    "item_id": "hero_x5_m_sport",
                    "event_id": f"{sent[0]}-{j}-{random.randint(1, 10**9)}",
                }
                for j in range(100)
            ]
            reply = client.post(
                "/v1/events",
                data=json.dumps({"events": events}),
                content_type="application/json",
                headers={"Authorization": f"Bearer {KEY}"},
            )
            assert reply.status_code == 200 and reply.json["accepted"] == 100, reply.data

        for _ in range(50):
            batch()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.batches):
            batch()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        per_batch = 1000 * cpu / args.batches
        print(
            f"{args.batches} batches of 100: {per_batch:.2f} ms CPU per batch ({100_000 / per_batch:,.0f} events/s "
            f"per core, this process only), {1000 * wall / args.batches:.2f} ms wall per batch"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

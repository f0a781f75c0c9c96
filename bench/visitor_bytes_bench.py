"""Redis bytes per visitor under ../shared/bench/perf_run.sh's load, without wrk or gunicorn.

    python bench/visitor_bytes_bench.py                    # its own redis-server on a free port
    python bench/visitor_bytes_bench.py --redis redis://127.0.0.1:6379/13 --keep   # a db you own (flushed)

The load is perf_run.sh's: 50 catalog items `perf_offer_XX`, then 2,000 visitors `mem-N`, 20 events each
(page_view and product_view in turn, channel web, item perf_offer_XX, no event_id: the server makes them),
posted to POST /v1/events in batches of 50 visitors x 20 events through the app (Flask's test client).
Prints `used_memory` after minus before, divided by the visitors (what perf_run.sh prints), then one
visitor's keys with MEMORY USAGE and OBJECT ENCODING, and the size of its stored context.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.state_bench import redis_server  # noqa: E402
from config.settings import Settings  # noqa: E402
from models import keys  # noqa: E402
from models.context import from_json  # noqa: E402

KEY = "wf_admin_bytes-bench-key"
EVENTS_PER_VISITOR = 20
VISITORS_PER_BATCH = 50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=2_000)
    parser.add_argument("--redis", default="", help="a Redis URL whose db is flushed first (default: own server)")
    parser.add_argument("--keep", action="store_true", help="leave the keys in place for a look with redis-cli")
    args = parser.parse_args()
    if args.redis:
        run(args.redis, args.visitors, args.keep)
    else:
        with redis_server() as url:
            run(url, args.visitors, args.keep)
    return 0


def run(url: str, visitors: int, keep: bool) -> None:
    from service import create_app

    client = redis.Redis.from_url(url)
    client.flushdb()
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.from_env(
            environ={}, redis_url=url, data_dir=Path(scratch), admin_key=KEY, rate_limits="off"
        )
        app = create_app(settings).test_client()
        app.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {KEY}"
        for n in range(50):
            item = {"id": f"perf_offer_{n:02d}", "kind": "offer", "title": f"Offer {n}", "tags": [f"t{n % 7}"]}
            assert app.put(f"/v1/catalog/items/perf_offer_{n:02d}", json={**item, "value": 1 + n % 5}).status_code < 300
        before = used_memory(client)
        for start in range(0, visitors, VISITORS_PER_BATCH):
            events = [
                {"visitor_id": f"mem-{v}", "type": kind, "channel": "web", "item_id": f"perf_offer_{k % 50:02d}"}
                for v in range(start, min(start + VISITORS_PER_BATCH, visitors))
                for k, kind in enumerate(["page_view", "product_view"] * (EVENTS_PER_VISITOR // 2))
            ]
            answer = app.post("/v1/events", json={"events": events})
            assert answer.status_code == 200, answer.get_json()
        after = used_memory(client)
        print(
            f"redis bytes per visitor ({EVENTS_PER_VISITOR} events, {visitors} visitors): "
            f"{(after - before) // visitors:,}"
        )
        describe(client, settings.tenant, "mem-0")
        if not keep:
            client.flushdb()


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def describe(client: redis.Redis, tenant: str, visitor: str) -> None:
    total = 0
    for key in sorted(client.scan_iter(match=f"wf:{tenant}:{{{keys.visitor_tag(visitor)}}}:*", count=1000)):
        size = client.memory_usage(key, samples=0) or 0
        total += size
        fields = {k.decode(): len(v) for k, v in client.hgetall(key).items()}
        print(f"  {key.decode():<42} {size:>6,} bytes  {client.object('encoding', key).decode():<9} fields {fields}")
    print(f"  one visitor's keys: {total:,} bytes (MEMORY USAGE)")
    data = client.hget(keys.context_key(tenant, visitor), "data")
    context = from_json(data, visitor)
    print(f"  stored context: {len(data):,} bytes for {context['n_events']} events, {len(context['recent'])} recent")


if __name__ == "__main__":
    sys.exit(main())

"""What one rate-limit check costs: microseconds per call and Redis round-trips, against a Redis URL.

    python bench/rate_limit_bench.py redis://127.0.0.1:6379/3
    python bench/rate_limit_bench.py redis://127.0.0.1:6379/3 --calls 20000

One thread, one connection, calls back to back (the latency a request pays, not a throughput
figure). Four cases: a PING (the floor: one round-trip), a server key's check (its bucket only),
a public key's check (key and visitor buckets, one pipeline), and a refused public check (the
visitor's bucket is empty: the key's tokens go back, a second round-trip). Visitors are spread
over --visitors ids. It writes only under a throw-away tenant, `bench-<random>`, and deletes
its keys at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from config.settings import Settings  # noqa: E402
from models.errors import RateLimited  # noqa: E402
from service.rate_limits import RateLimiter  # noqa: E402
from service.redis_client import client_options  # noqa: E402


class TripCounter:
    """Counts pipeline executes and lone commands (each one round-trip)."""

    def __init__(self):
        self.trips = 0
        pipeline_execute, command = redis.client.Pipeline.execute, redis.Redis.execute_command

        def counted_execute(pipe, *args, **kwargs):
            self.trips += 1
            return pipeline_execute(pipe, *args, **kwargs)

        def counted_command(client, *args, **kwargs):
            self.trips += 1
            return command(client, *args, **kwargs)

        redis.client.Pipeline.execute = counted_execute
        redis.Redis.execute_command = counted_command


def measure(name: str, calls: int, call, counter: TripCounter) -> None:
    for i in range(min(200, calls)):  # warm: connection, script loaded
        call(i)
    trips_before, started = counter.trips, time.perf_counter()
    for i in range(calls):
        call(i)
    seconds = time.perf_counter() - started
    trips = (counter.trips - trips_before) / calls
    print(f"{name:<40} {seconds / calls * 1e6:8.1f} µs per call  {trips:.2f} round-trips per call")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="Redis URL, e.g. redis://127.0.0.1:6379/3 (a scratch database)")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--visitors", type=int, default=1_000)
    args = parser.parse_args()

    client = redis.Redis.from_url(args.url, **client_options(redis.Connection))
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    roomy = "1000000/1000000"
    settings = Settings.from_env(
        environ={}, tenant=tenant, rate_limit_public=roomy, rate_limit_server=roomy, rate_limit_visitor=roomy
    )
    limiter = RateLimiter.from_settings(client, settings)
    stingy = RateLimiter.from_settings(
        client, Settings.from_env(environ={}, tenant=tenant, rate_limit_public=roomy, rate_limit_visitor="0.001/1")
    )
    stingy.check("public-key", "public", "greedy")  # the greedy visitor's one token

    def refused(_: int) -> None:
        try:
            stingy.check("public-key", "public", "greedy")
        except RateLimited:
            return
        raise AssertionError("the greedy visitor was allowed")

    counter = TripCounter()
    print(f"{args.calls:,} calls each against {args.url}, redis-py {redis.__version__}")
    try:
        measure("PING (one round-trip, the floor)", args.calls, lambda i: client.ping(), counter)
        measure("server key: key bucket", args.calls, lambda i: limiter.check("server-key", "server", None), counter)
        measure(
            "public key: key + visitor buckets",
            args.calls,
            lambda i: limiter.check("public-key", "public", f"v{i % args.visitors}"),
            counter,
        )
        measure("public key, visitor refused (429)", args.calls, refused, counter)
    finally:
        for key in client.scan_iter(match=f"wf:{tenant}:*", count=1000):
            client.delete(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())

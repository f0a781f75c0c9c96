"""Outage figures on real processes (a redis-server of our own, gunicorn with 2 workers); prints, asserts nothing.

    .venv/bin/python bench/spool_bench.py                  # spool 20,000 events, time the drain
    .venv/bin/python bench/spool_bench.py --events 5000 --embedded-crash --hung-redis

1. Spool drain: Redis is killed, --events events are posted (batches of 1,000: all spooled),
   Redis comes back; prints how long the background drain takes and the latency of decisions
   and events sent meanwhile, beside the same requests before the outage.
2. With --embedded-crash: gunicorn --preload on the embedded Redis; the server is SIGKILLed and
   the script prints decision latency until the master's watchdog has it back, and the time to restart.
3. With --hung-redis: Redis is SIGSTOPped (connections accepted, never answered) for 5 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.processes import Gunicorn, RedisServer, wait_for  # noqa: E402  (real-process helpers)


def summary(latencies: list[float]) -> str:
    if not latencies:
        return "no requests"
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{len(ordered)} requests, median {statistics.median(ordered) * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


class Prober:
    """One thread alternating a decision and an event; records each request's latency."""

    def __init__(self, server: Gunicorn):
        self.server = server
        self.latencies: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            if n % 2:
                call = ("POST", "/v1/decisions", {"visitor_id": f"probe-{n % 50}", "placement": "home_hero"})
            else:
                call = ("POST", "/v1/events", {"visitor_id": f"probe-{n % 50}", "type": "page_view"})
            started = time.perf_counter()
            status, _ = self.server.request(*call)
            self.latencies.append(time.perf_counter() - started)
            self.errors += status >= 400
            time.sleep(0.01)


def spool_drain(work: Path, events: int) -> None:
    redis_server = RedisServer(work / "redis").start()
    data_dir = work / "var"
    environment = {
        "WAYFINDER_REDIS_URL": redis_server.url,
        "WAYFINDER_DATA_DIR": str(data_dir),
        "WAYFINDER_REGISTRY": str(work / "registry"),
        "WAYFINDER_TENANT": "bench" + uuid.uuid4().hex[:6],
    }
    server = Gunicorn(environment).start()
    try:
        with Prober(server) as before:
            time.sleep(2)
        print(f"before the outage: {summary(before.latencies)}")
        redis_server.kill()
        started = time.perf_counter()
        for start in range(0, events, 1000):
            batch = [
                {"visitor_id": f"bench-{i % 2000}", "type": "page_view", "event_id": f"bench-{i}"}
                for i in range(start, min(events, start + 1000))
            ]
            status, body = server.request("POST", "/v1/events", {"events": batch}, timeout=60)
            assert status == 200 and body["spooled"] == len(batch), body
        print(f"spooled {events} events in {time.perf_counter() - started:.2f} s (Redis down, batches of 1,000)")
        redis_server.start()
        back = time.perf_counter()
        with Prober(server) as during:
            wait_for(lambda: not any((data_dir / "spool").glob("*.jsonl")), 600, "the spool drains")
            drained = time.perf_counter() - back
        print(f"drained {events} spooled events in {drained:.2f} s ({events / drained:,.0f} events/s)")
        print(f"requests while draining: {summary(during.latencies)}, errors {during.errors}")
    finally:
        server.stop()
        redis_server.kill()


def hung_redis(work: Path) -> None:
    redis_server = RedisServer(work / "redis").start()
    environment = {
        "WAYFINDER_REDIS_URL": redis_server.url,
        "WAYFINDER_DATA_DIR": str(work / "var"),
        "WAYFINDER_REGISTRY": str(work / "registry"),
    }
    server = Gunicorn(environment).start()
    try:
        redis_server.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
        with Prober(server) as during:
            time.sleep(5)
        print(f"Redis hung (SIGSTOP): {summary(during.latencies)}, errors {during.errors}")
        redis_server.process.send_signal(signal.SIGCONT)
    finally:
        server.stop()
        redis_server.kill()


def embedded_crash(work: Path) -> None:
    data_dir = work / "var"
    server = Gunicorn(
        {"WAYFINDER_REDIS_URL": "", "WAYFINDER_DATA_DIR": str(data_dir), "WAYFINDER_REGISTRY": str(work / "reg")},
        preload=True,
    ).start()
    pidfile = data_dir / "redis" / "redis.pid"
    try:
        first = int(pidfile.read_text())
        with Prober(server) as before:
            time.sleep(2)
        print(f"embedded Redis up: {summary(before.latencies)}")
        with Prober(server) as during:
            os.kill(first, signal.SIGKILL)
            killed = time.perf_counter()
            wait_for(lambda: int(pidfile.read_text()) != first and server.get("/readyz")[1]["checks"]["store"], 60)
            restart = time.perf_counter() - killed
        print(f"embedded Redis SIGKILLed: back (readyz store true) after {restart:.2f} s")
        print(f"requests from the kill until it was back: {summary(during.latencies)}, errors {during.errors}")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--embedded-crash", action="store_true", help="also time an embedded-Redis crash")
    parser.add_argument("--hung-redis", action="store_true", help="also time requests while Redis hangs")
    parser.add_argument("--skip-drain", action="store_true", help="skip the spool drain figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spool-bench-") as work:
        if not args.skip_drain:
            spool_drain(Path(work) / "drain", args.events)
        if args.hung_redis:
            hung_redis(Path(work) / "hung")
        if args.embedded_crash:
            embedded_crash(Path(work) / "crash")


if __name__ == "__main__":
    main()

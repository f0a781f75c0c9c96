"""How long rebuilding Redis from the journal takes: events per second and seconds per million events.

    python bench/rebuild_bench.py                       # 1,000,000 events of 100,000 visitors
    python bench/rebuild_bench.py --events 200000 --visitors 20000 --decisions 20000
    python bench/rebuild_bench.py --events 0 --decisions 0 --profile-writes 1000000   # profiles alone

Writes a synthetic journal (canonical events over the last 30 days, as the service's DailyLog writes
them, plus decisions that showed items and profile writes) into a scratch data dir, starts its own redis-server (no
persistence) on a free port, runs journal.rebuild.rebuild (what `python -m training rebuild` and the
service's background recovery run) and prints the time of each part and the totals.
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from journal.profile_log import ProfileLog  # noqa: E402
from journal.rebuild import rebuild  # noqa: E402
from journal.writer import DailyLog  # noqa: E402
from models.catalog import Catalog  # noqa: E402
from models.journey import JourneyMap  # noqa: E402

DAY = 86_400.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--profile-writes", type=int, default=0, help="profile PUTs, of --visitors visitors")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    journey = JourneyMap.load(ROOT / "config" / "journey.yaml")
    catalog = Catalog.load(ROOT / "config")
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "var"
        started = time.perf_counter()
        write_journal(data_dir, args, journey, sorted(catalog.items))
        print(
            f"wrote {args.events:,} events, {args.decisions:,} decisions and {args.profile_writes:,} profile writes "
            f"in {time.perf_counter() - started:.1f} s"
        )
        port = free_port()
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        try:
            client = wait_for(f"redis://127.0.0.1:{port}/0")
            settings = Settings.from_env(environ={}, redis_url=f"redis://127.0.0.1:{port}/0", data_dir=data_dir)
            report = rebuild(client, settings, journey, set(catalog.items))
            memory = client.info("memory")["used_memory"]
        finally:
            server.terminate()
            server.wait()
    rate = report.events / report.seconds if report.events else 0.0
    print(
        f"rebuilt {report.profiles:,} contexts from {report.events:,} events, {report.dedup_ids:,} dedup ids, "
        f"{report.decisions_counted:,} decisions into {report.counter_keys:,} counter keys, "
        f"{report.popular_items} popular items, {report.profiles_restored:,} visitor profiles restored "
        f"(of {report.profiles_logged:,} logged)"
    )
    print(f"redis used_memory after: {memory / 2**20:.1f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak RSS of this process (writing the journal, then rebuilding): {peak:.0f} MiB")
    if rate:
        print(f"rebuild: {report.seconds:.1f} s, {rate:,.0f} events/s, {1_000_000 / rate:.1f} s per million events")
    else:
        print(f"rebuild: {report.seconds:.1f} s, {args.profile_writes / report.seconds:,.0f} profile writes/s")
    return 0


def write_journal(data_dir: Path, args, journey: JourneyMap, items: list[str]) -> None:
    rng = np.random.default_rng(args.seed)
    now = time.time()
    types = sorted(journey.known_types)
    ts = np.sort(now - rng.uniform(0, 30 * DAY, args.events))
    visitors = rng.integers(0, args.visitors, args.events)
    kinds = rng.integers(0, len(types), args.events)
    channels = rng.integers(0, len(journey.channels), args.events)
    item_of = rng.integers(0, len(items), args.events)
    has_item = rng.random(args.events) < 0.6
    log = DailyLog(data_dir / "events", fsync=False)
    for start in range(0, args.events, 50_000):
        log.append(
            [
                {
                    "event_id": f"e{n:09d}",
                    "visitor_id": f"visitor-{visitors[n]:07d}",
                    "user_id": None,
                    "type": types[kinds[n]],
                    "timestamp": "",
                    "ts": float(ts[n]),
                    "channel": journey.channels[channels[n]],
                    "item_id": items[item_of[n]] if has_item[n] else None,
                    "value": None,
                    "decision_id": None,
                    "properties": {},
                }
                for n in range(start, min(start + 50_000, args.events))
            ]
        )
    decisions = DailyLog(data_dir / "decisions", fsync=False)
    moments = np.sort(now - rng.uniform(0, 10 * DAY, args.decisions))
    decisions.append(
        [
            {
                "decision_id": f"d{n:09d}",
                "visitor_id": f"visitor-{rng.integers(0, args.visitors):07d}",
                "user_id": None,
                "placement": "app_offers",
                "ts": float(moments[n]),
                "policy": "model",
                "channel": "app",
                "context": {"stage": "awareness"},
                "items": [{"item_id": items[(n + k) % len(items)], "position": k, "propensity": 0.5} for k in range(3)],
            }
            for n in range(args.decisions)
        ]
    )
    write_profiles(data_dir, args, rng, now)


def write_profiles(data_dir: Path, args, rng, now: float) -> None:
    """Profile PUTs as the service logs them: merged profiles of a few hundred bytes, over 30 days."""
    log = ProfileLog(data_dir / "profiles", fsync=False)
    moments = np.sort(now - rng.uniform(0, 30 * DAY, args.profile_writes))
    for n in range(args.profile_writes):
        profile = {
            "interests": [f"interest-{k}" for k in rng.integers(0, 50, 3)],
            "segment": f"segment-{n % 7}",
            "attributes": {"age": int(rng.integers(18, 90)), "score": round(float(rng.random()), 4)},
            "consent": {"personalization": bool(n % 5), "email": bool(n % 3)},
        }
        log.append(f"visitor-{rng.integers(0, args.visitors):07d}", profile, float(moments[n]))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url)
    for _ in range(500):
        try:
            if client.ping():
                return client
        except redis.ConnectionError:
            time.sleep(0.01)
    raise RuntimeError("redis-server did not start")


if __name__ == "__main__":
    sys.exit(main())

"""Redis bytes one visitor costs: 10,000 events through POST /v1/events, then MEMORY USAGE of each key.

    python bench/state_bench.py                  # both workloads, 10,000 events each
    python bench/state_bench.py --events 20000

Starts its own redis-server (no persistence) on a free port and an app on a scratch data dir whose
journey map says `unknowns: other` (so free-form types and channels are accepted and counted).
Two workloads, each for one visitor, all events accepted now (the dedup window holds all of them):

- typical: the map's event types and channels in turn, catalog item ids, timestamps over 100 days;
- hostile: 2,000 distinct made-up types and channels and 10,000 distinct made-up item ids.

Then 200 decisions for the typical visitor (two placements, two channels) fill its impression
counters. Prints, per workload, MEMORY USAGE of each of the visitor's keys (found by their hash tag, so it
measures whatever keys the code writes) and their sum, and the bytes of the tenant's popularity keys.
tests/service/test_bytes_per_visitor.py runs the typical workload with these functions and fails above
16 KB (issue 10's goal), on both the embedded Redis and the server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from models.catalog import Catalog  # noqa: E402
from models.journey import JourneyMap  # noqa: E402

BATCH = 1000
NOW = time.time()

BENCH_KEY = "wf_admin_bench-key"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=200, help="then this many decisions (typical workload)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, redis_server() as url:
        config = lenient_config(Path(scratch) / "config")
        journey = JourneyMap.load(config / "journey.yaml")
        items = sorted(Catalog.load(config).items)
        clients = {}
        for name, events in (
            ("typical", typical(args.events, journey, items)),
            ("hostile", hostile(args.events)),
        ):
            settings = Settings.from_env(
                environ={},
                redis_url=url,
                data_dir=Path(scratch) / name,
                config_dir=config,
                tenant=f"bench{name}",
                admin_key=BENCH_KEY,
                rate_limits="off",
            )
            clients[name] = ingest(settings, events)
            report(name, redis.Redis.from_url(url), f"bench{name}", "bench-visitor", f"{len(events)} events")
        decide(clients["typical"], args.decisions)
        what = f"{args.events} events, then {args.decisions} decisions"
        report("typical", redis.Redis.from_url(url), "benchtypical", "bench-visitor", what)
    return 0


def ingest(settings: Settings, events: list[dict]):
    from service import create_app

    client = create_app(settings).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {BENCH_KEY}"
    for start in range(0, len(events), BATCH):
        answer = client.post("/v1/events", json={"events": events[start : start + BATCH]})
        assert answer.status_code == 200, answer.get_json()
    return client


def decide(client, count: int) -> None:
    """Decisions for the visitor on two placements and two channels: the impression counters fill up."""
    for n in range(count):
        body = {
            "visitor_id": "bench-visitor",
            "placement": ("app_offers", "home_hero")[n % 2],
            "context": {"channel": ("app", "web")[n % 2]},
        }
        answer = client.post("/v1/decisions", json=body)
        assert answer.status_code == 200, answer.get_json()


def visitor_bytes(client: redis.Redis, tenant: str, visitor: str) -> dict[str, int]:
    """MEMORY USAGE of each of the visitor's keys (found by their hash tag: whatever keys the code writes)."""
    tag = hashlib.blake2b(visitor.encode(), digest_size=10).hexdigest()  # models.keys.visitor_tag
    keys = sorted(client.scan_iter(match=f"wf:{tenant}:{{{tag}}}:*", count=1000))
    return {key.decode(): client.memory_usage(key, samples=0) or 0 for key in keys}


def report(name: str, client: redis.Redis, tenant: str, visitor: str, what: str) -> None:
    sizes = visitor_bytes(client, tenant, visitor)
    total = sum(sizes.values())
    print(f"{name}: one visitor, {what}")
    for key, size in sizes.items():
        print(f"  {key:<50} {size:>10,} bytes  ttl {client.ttl(key)} s")
    print(f"  visitor total: {total:,} bytes ({total / 1024:.1f} KB)")
    popularity = sum(client.memory_usage(k, samples=0) or 0 for k in client.scan_iter(match=f"wf:{tenant}:popularity*"))
    print(f"  popularity keys (whole tenant): {popularity:,} bytes ({popularity / 1024:.1f} KB)")


def typical(count: int, journey: JourneyMap, items: list[str]) -> list[dict]:
    types = sorted(journey.known_types)
    return [
        event(
            n,
            types[n % len(types)],
            journey.channels[n % len(journey.channels)],
            items[n % len(items)],
            NOW - 100 * 86_400 + n * 100 * 86_400 / count,
        )
        for n in range(count)
    ]


def hostile(count: int) -> list[dict]:
    return [
        event(n, f"made_up_{n % 2000}", f"chan_{n % 2000}", f"junk-{n}", NOW - 3600 + n * 0.1) for n in range(count)
    ]


def event(n: int, kind: str, channel: str, item: str, ts: float) -> dict:
    stamp = dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
    return {
        "event_id": uuid.UUID(int=n + 1).hex,
        "visitor_id": "bench-visitor",
        "type": kind,
        "channel": channel,
        "item_id": item,
        "timestamp": stamp,
    }


def lenient_config(target: Path) -> Path:
    shutil.copytree(ROOT / "config", target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = target / "journey.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["unknowns"] = "other"
    path.write_text(yaml.safe_dump(raw))
    return target


class redis_server:  # noqa: N801 (used as a context manager, like open)
    """A throwaway redis-server on a free port, without persistence."""

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(200):
            try:
                if redis.Redis.from_url(url).ping():
                    return url
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait()


if __name__ == "__main__":
    sys.exit(main())

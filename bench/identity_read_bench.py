"""The decision's read (ContextStore.read) for an anonymous device, a person, and a device linked to a person.

    python bench/identity_read_bench.py                       # against redis://127.0.0.1:6379/0
    python bench/identity_read_bench.py --reads 5000 --url redis://host:6379/0

Each profile holds 20 touchpoints; each read is timed over `--reads` calls, twice (the second pass is
printed). It times the checkout it is run from (the current directory): run from a checkout without
identity stitching (no service/identity_store.py), it times the first two only, the "before" of
docs/identity.md. The tenant's keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path.cwd()))  # the checkout being timed

from models.events import parse_event  # noqa: E402
from models.journey import JourneyMap  # noqa: E402
from service.store import ContextStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--reads", type=int, default=5000)
    args = parser.parse_args()
    client = redis.Redis.from_url(args.url)
    tenant = "bench" + uuid.uuid4().hex[:8]
    store = ContextStore(client, JourneyMap.load(Path("config/journey.yaml")), tenant, 86_400, 50)
    store.record([parse_event({"visitor_id": "anon", "type": "page_view"}) for _ in range(20)])
    store.record([parse_event({"visitor_id": "web", "user_id": "u", "type": "page_view"}) for _ in range(20)])
    cases = {"an anonymous device": "anon", "a person by user id": "u"}
    try:
        from service import identity_store

        identity_store.link(store, "phone", "u")
        cases["a linked device"] = "phone"
    except ImportError:
        pass
    try:
        for label, some_id in cases.items():
            for _ in range(2):
                started = time.perf_counter()
                for _ in range(args.reads):
                    store.read(some_id)
                per_read = (time.perf_counter() - started) / args.reads
            print(f"{label:22s} {per_read * 1e6:7.1f} µs per read ({args.reads} reads)")
    finally:
        for key in client.scan_iter(match=f"wf:{tenant}:*", count=1000):
            client.delete(key)


if __name__ == "__main__":
    main()

"""The size guard of issue 10: one visitor with 10,000 events costs at most 16 KB in Redis.

The workload and the measure are bench/state_bench.py's (typical: the map's types and channels in turn,
catalog items, 100 days of timestamps; MEMORY USAGE of every key of the visitor's hash tag), so the test
and the bench cannot drift apart. A size, not a time: it holds on any machine.
"""

import dataclasses

import pytest

from bench.state_bench import BENCH_KEY, event, ingest, lenient_config, typical, visitor_bytes
from models.catalog import Catalog
from models.journey import JourneyMap

EVENTS = 10_000
LIMIT_BYTES = 16 * 1024


@pytest.fixture
def lenient_settings(settings, tmp_path):
    return dataclasses.replace(settings, config_dir=lenient_config(tmp_path / "config"), admin_key=BENCH_KEY)


def test_one_visitor_with_10000_events_stays_within_16_kb(lenient_settings, redis_backend):
    config = lenient_settings.config_dir
    events = typical(EVENTS, JourneyMap.load(config / "journey.yaml"), sorted(Catalog.load(config).items))
    assert len({e["event_id"] for e in events}) == EVENTS and {e["visitor_id"] for e in events} == {"bench-visitor"}
    ingest(lenient_settings, events)
    sizes = visitor_bytes(redis_backend[2], lenient_settings.tenant, "bench-visitor")
    assert any(key.endswith(":ctx") for key in sizes) and any(key.endswith(":dedup") for key in sizes), sizes
    print(f"\n{redis_backend[0]}: {sizes}, total {sum(sizes.values()):,} bytes")
    assert sum(sizes.values()) <= LIMIT_BYTES, sizes


def test_the_guard_measures_every_key_of_the_visitor(lenient_settings, redis_backend):
    """The measure is not blind: one event makes the context and dedup keys it sums, and no other visitor's."""
    ingest(lenient_settings, [event(0, "page_view", "web", "x", 1_767_225_600.0)])
    client, tenant = redis_backend[2], lenient_settings.tenant
    assert {key.rsplit(":", 1)[1] for key in visitor_bytes(client, tenant, "bench-visitor")} >= {"ctx", "dedup"}
    assert visitor_bytes(client, tenant, "another-visitor") == {}

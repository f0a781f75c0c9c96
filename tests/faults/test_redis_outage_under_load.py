"""Kill Redis (our own redis-server) under an event load on real gunicorn: no accepted event is lost,
neither when Redis comes back with its append-only file nor when it comes back empty (rebuilt from the journal)."""

import time
import uuid

import pytest
import redis

from models import keys
from tests.faults.processes import EventLoad, Gunicorn, RedisServer, journal_event_ids, wait_for

pytestmark = pytest.mark.faults


def test_killing_redis_under_load_loses_no_accepted_event(tmp_path):
    redis_server = RedisServer(tmp_path / "redis", durable=True).start()
    data_dir = tmp_path / "var"
    server = Gunicorn(
        {
            "WAYFINDER_REDIS_URL": redis_server.url,
            "WAYFINDER_DATA_DIR": str(data_dir),
            "WAYFINDER_REGISTRY": str(tmp_path / "registry"),
            "WAYFINDER_TENANT": "fault" + uuid.uuid4().hex[:8],
            "WAYFINDER_SPOOL_DRAIN_INTERVAL_S": "0.2",
        }
    )
    try:
        server.start()
        load = EventLoad(server, events_per_thread=200).start()
        wait_for(lambda: load.sent >= 100, what="the load is under way")
        redis_server.kill()
        down_at = time.monotonic()
        wait_for(lambda: (data_dir / "spool" / "pending.jsonl").exists(), what="events are being spooled")
        status, ready = server.get("/readyz")
        assert (status, ready["status"], ready["checks"]["store"]) == (200, "degraded", False)
        time.sleep(1.0)
        accepted_while_down = load.sent
        redis_server.start()  # same port and append-only file: what was written before the kill is back
        print(f"\nRedis down {time.monotonic() - down_at:.2f} s, {accepted_while_down} events accepted by then")
        load.join()
        wait_for(lambda: not any((data_dir / "spool").glob("*.jsonl")), what="the spool drains")

        expected = load.expected_counts()
        assert sum(expected.values()) == sum(len(p) for p in load.plan)  # every event got its 2xx
        assert set(load.accepted) <= journal_event_ids(data_dir)
        counts = {v: server.get(f"/v1/visitors/{v}")[1]["counts"]["type"].get("page_view") for v in expected}
        assert counts == expected
        print(f"statuses seen: {sorted(set(load.statuses))}, requests repeated: {load.failures}")
        assert set(load.statuses) == {200}, "an outage answers 200 (spooled), never an error"
    finally:
        server.stop()
        redis_server.kill()


def test_killing_a_redis_without_persistence_under_load_rebuilds_every_count(tmp_path):
    """Redis comes back EMPTY mid-load: the service notices the journal sentinel gone and rebuilds from the
    journal; every visitor's counts then equal what was accepted, and every accepted id is a duplicate."""
    redis_server = RedisServer(tmp_path / "redis", durable=False).start()
    data_dir, tenant = tmp_path / "var", "fault" + uuid.uuid4().hex[:8]
    server = Gunicorn(
        {
            "WAYFINDER_REDIS_URL": redis_server.url,
            "WAYFINDER_DATA_DIR": str(data_dir),
            "WAYFINDER_REGISTRY": str(tmp_path / "registry"),
            "WAYFINDER_TENANT": tenant,
            "WAYFINDER_SPOOL_DRAIN_INTERVAL_S": "0.2",
        }
    )
    client = redis.Redis(port=redis_server.port)
    try:
        server.start()
        load = EventLoad(server, events_per_thread=150).start()
        wait_for(lambda: load.sent >= 150, what="the load is under way")
        redis_server.kill()
        wait_for(lambda: (data_dir / "spool" / "pending.jsonl").exists(), what="events are being spooled")
        time.sleep(0.5)
        redis_server.start()  # same port, no persistence: empty
        assert client.dbsize() == 0 or not client.exists(keys.journal_sentinel_key(tenant))
        load.join()
        expected = load.expected_counts()
        assert sum(expected.values()) == sum(len(p) for p in load.plan)  # every event got its 2xx
        assert set(load.accepted) <= journal_event_ids(data_dir)

        def rebuilt() -> bool:
            server.get(f"/v1/visitors/{next(iter(expected))}")  # a read notices the sentinel gone (a retry too)
            done = client.exists(keys.journal_sentinel_key(tenant)) and not client.exists(keys.rebuild_lock_key(tenant))
            return bool(done) and not any((data_dir / "spool").glob("*.jsonl"))

        wait_for(rebuilt, 60, "the rebuild from the journal ends and the spool drains")
        counts = {v: server.get(f"/v1/visitors/{v}")[1]["counts"]["type"].get("page_view") for v in expected}
        assert counts == expected
        by_visitor: dict[str, list[dict]] = {}
        for event_id, visitor in load.accepted.items():
            by_visitor.setdefault(visitor, []).append(
                {"visitor_id": visitor, "type": "page_view", "event_id": event_id}
            )
        for visitor, events in by_visitor.items():
            status, body = server.request("POST", "/v1/events", {"events": events})
            assert (status, body.get("accepted"), body.get("duplicates")) == (200, 0, len(events)), visitor
        assert {v: server.get(f"/v1/visitors/{v}")[1]["counts"]["type"].get("page_view") for v in expected} == expected
        print(f"\n{sum(expected.values())} events accepted, statuses seen: {sorted(set(load.statuses))}")
    finally:
        client.close()
        server.stop()
        redis_server.kill()

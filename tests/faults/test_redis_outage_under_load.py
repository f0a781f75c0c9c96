"""Kill Redis (our own redis-server) under an event load on real gunicorn: no accepted event is lost."""

import time
import uuid

import pytest

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

"""SIGKILL a gunicorn worker under an event load: every event answered 2xx is in the journal and the contexts."""

import os
import signal
import uuid

import pytest

from tests.faults.processes import EventLoad, Gunicorn, RedisServer, journal_event_ids, wait_for

pytestmark = pytest.mark.faults


def test_killing_a_worker_under_load_loses_no_accepted_event(tmp_path):
    redis_server = RedisServer(tmp_path / "redis").start()
    data_dir = tmp_path / "var"
    server = Gunicorn(
        {
            "WAYFINDER_REDIS_URL": redis_server.url,
            "WAYFINDER_DATA_DIR": str(data_dir),
            "WAYFINDER_REGISTRY": str(tmp_path / "registry"),
            "WAYFINDER_TENANT": "fault" + uuid.uuid4().hex[:8],
        }
    )
    try:
        server.start()
        load = EventLoad(server, events_per_thread=200).start()
        wait_for(lambda: load.sent >= 150, what="the load is under way")
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        load.join()
        wait_for(lambda: len(server.worker_pids()) == 2 and victim not in server.worker_pids(), what="respawned")

        expected = load.expected_counts()
        assert sum(expected.values()) == sum(len(p) for p in load.plan)
        assert set(load.accepted) <= journal_event_ids(data_dir)
        counts = {v: server.get(f"/v1/visitors/{v}")[1]["counts"]["type"].get("page_view") for v in expected}
        assert counts == expected
        print(f"\nworker {victim} killed; requests that failed and were sent again: {load.failures}")
    finally:
        server.stop()
        redis_server.kill()

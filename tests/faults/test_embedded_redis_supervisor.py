"""The embedded Redis dies under gunicorn --preload: the master restarts it; requests fall back fast meanwhile."""

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests.faults.processes import Gunicorn, wait_for

pytestmark = pytest.mark.faults


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_the_master_restarts_a_killed_embedded_redis(tmp_path):
    data_dir = tmp_path / "var"
    pidfile = data_dir / "redis" / "redis.pid"
    server = Gunicorn(
        {"WAYFINDER_REDIS_URL": "", "WAYFINDER_DATA_DIR": str(data_dir), "WAYFINDER_REGISTRY": str(tmp_path / "reg")},
        preload=True,
    )
    try:
        server.start()
        first = wait_for(lambda: int(pidfile.read_text()), what="the embedded Redis wrote its pidfile")
        assert parent_of(first) == server.process.pid, "the gunicorn master supervises the embedded Redis"
        assert server.request("POST", "/v1/events", {"visitor_id": "v1", "type": "page_view"})[1]["accepted"] == 1

        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()
        latencies, policies = [], set()
        while time.monotonic() - killed_at < 0.8:
            started = time.perf_counter()
            status, body = server.request("POST", "/v1/decisions", {"visitor_id": "v1", "placement": "home_hero"})
            latencies.append(time.perf_counter() - started)
            assert status == 200, body
            policies.add(body["policy"])
        answer = server.request("POST", "/v1/events", {"visitor_id": "v1", "type": "page_view", "event_id": "during"})
        assert answer[0] == 200

        def restarted():
            pid = int(pidfile.read_text())
            return pid != first and server.get("/readyz")[1]["checks"]["store"] and pid

        second = wait_for(restarted, what="the embedded Redis is back")
        print(
            f"\ndecisions while the embedded Redis was down: {len(latencies)}, policies {sorted(policies)}, "
            f"latency median {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms; back (readyz store true) after "
            f"{time.monotonic() - killed_at:.2f} s"
        )
        assert parent_of(second) == server.process.pid
        assert server.request("POST", "/v1/events", {"visitor_id": "v1", "type": "page_view"})[1]["accepted"] == 1
        assert server.request("POST", "/v1/decisions", {"visitor_id": "v1", "placement": "home_hero"})[0] == 200
    finally:
        server.stop()
    assert wait_for(lambda: not Path(f"/proc/{second}").exists(), what="the master stops its Redis on exit")


def test_without_preload_one_worker_supervises_and_another_takes_over_when_it_dies(tmp_path):
    data_dir = tmp_path / "var"
    pidfile = data_dir / "redis" / "redis.pid"
    server = Gunicorn(
        {"WAYFINDER_REDIS_URL": "", "WAYFINDER_DATA_DIR": str(data_dir), "WAYFINDER_REGISTRY": str(tmp_path / "reg")}
    )
    try:
        server.start()
        first = wait_for(lambda: int(pidfile.read_text()), what="the embedded Redis wrote its pidfile")
        supervisor = parent_of(first)
        assert supervisor in server.worker_pids(), "the first worker to start supervises the embedded Redis"
        os.kill(supervisor, signal.SIGKILL)  # the server lives on in its own session
        assert server.request("POST", "/v1/events", {"visitor_id": "v1", "type": "page_view"})[1]["accepted"] == 1
        os.kill(first, signal.SIGKILL)

        def restarted_by_a_live_worker():
            pid = int(pidfile.read_text())
            return (
                pid != first and parent_of(pid) in server.worker_pids() and server.get("/readyz")[1]["checks"]["store"]
            )

        wait_for(restarted_by_a_live_worker, what="another worker took over and restarted the embedded Redis")
        assert server.request("POST", "/v1/events", {"visitor_id": "v1", "type": "page_view"})[1]["accepted"] == 1
    finally:
        server.stop()
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text()), signal.SIGTERM)


def test_the_embedded_redis_runs_with_a_relative_data_dir(tmp_path, monkeypatch):
    """`make run`'s default, data_dir `var`: redis-server changes into its --dir before opening its log
    file, so a relative path once made it exit at once and every request fell back."""
    import dataclasses

    from config.settings import Settings
    from service import create_app

    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        environ={}, data_dir=Path("var"), registry=Path("var/registry"), admin_key="wf_admin_rel"
    )
    app = create_app(dataclasses.replace(settings, spool_drain_interval_s=60))
    services = app.extensions["wayfinder"]
    try:
        answer = app.test_client().post("/v1/events", json={"visitor_id": "v1", "type": "page_view"})
        assert answer.status_code == 200 and answer.get_json()["spooled"] == 0, answer.get_json()
        assert (tmp_path / "var" / "redis" / "redis.log").exists()
    finally:
        services.background.stop()
        services.embedded_redis.stop()

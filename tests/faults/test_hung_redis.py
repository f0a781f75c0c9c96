"""A hung Redis (SIGSTOP: connections accepted, never answered): one request waits out the timeout,
the next ones fall back at once (breaker open), and all is normal once it answers again."""

import signal

import pytest

from config.settings import Settings
from service import create_app
from tests.faults.processes import RedisServer, wait_for

pytestmark = pytest.mark.faults


def test_a_hung_redis_trips_the_breaker_and_decisions_fall_back_at_once(tmp_path):
    redis_server = RedisServer(tmp_path / "redis").start()
    settings = Settings.from_env(
        environ={}, redis_url=redis_server.url, data_dir=tmp_path / "var", registry=tmp_path / "registry"
    )
    client = create_app(settings).test_client()
    decide = {"visitor_id": "v1", "placement": "home_hero", "explain": True}
    try:
        assert "store_error" not in client.post("/v1/decisions", json=decide).get_json()["explain"]
        redis_server.process.send_signal(signal.SIGSTOP)
        first = client.post("/v1/decisions", json=decide).get_json()
        assert first["policy"] == "fallback"  # it waited out one timeout; its retry met the open breaker
        second = client.post("/v1/decisions", json=decide).get_json()
        assert second["policy"] == "fallback" and "breaker open" in second["explain"]["store_error"]
        event = client.post("/v1/events", json={"visitor_id": "v1", "type": "page_view"})
        assert event.status_code == 200 and event.get_json()["spooled"] == 1

        redis_server.process.send_signal(signal.SIGCONT)
        wait_for(lambda: "store_error" not in client.post("/v1/decisions", json=decide).get_json()["explain"])
        wait_for(lambda: client.get("/v1/visitors/v1").get_json()["counts"]["type"].get("page_view") == 1)
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
        redis_server.kill()

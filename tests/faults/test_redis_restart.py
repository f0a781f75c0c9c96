"""Redis restarts empty (no persistence): the journal brings every visitor's state back, profiles included.

Each test starts its own redis-server on a free port (never the shared test database), kills it
with SIGKILL and starts it again, empty, on the same port.
"""

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from config.settings import Settings
from models import keys

ROOT = Path(__file__).resolve().parents[2]
TENANT = "fault"
pytestmark = pytest.mark.faults  # like the other fault files: it needs redis-server, and fails without it


class RedisProcess:
    """A redis-server without persistence that the test can kill and start again, empty."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(500):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.01)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def restart_empty(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def server():
    process = RedisProcess()
    process.start()
    yield process
    process.kill()


@pytest.fixture
def settings(tmp_path, server) -> Settings:
    return Settings.from_env(
        environ={},
        redis_url=server.url,
        data_dir=tmp_path / "var",
        registry=tmp_path / "registry",
        tenant=TENANT,
        reload_interval_s=0.0,
    )


@pytest.fixture
def app(settings):
    from service import create_app

    return create_app(settings)


def stamp(hours_ago: float) -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    return moment.isoformat().replace("+00:00", "Z")


def history() -> list[dict]:
    events = []
    for n in range(20):
        visitor = f"v{n}"
        events += [
            {"event_id": f"{visitor}-1", "visitor_id": visitor, "type": "page_view", "channel": "web",
             "timestamp": stamp(30 - n)},
            {"event_id": f"{visitor}-2", "visitor_id": visitor, "type": "configure_product", "channel": "app",
             "item_id": "hero_x5_m_sport", "timestamp": stamp(20 - n / 2)},
        ]  # fmt: skip
        if n % 3 == 0:
            events.append(
                {"event_id": f"{visitor}-3", "visitor_id": visitor, "type": "book_test_drive", "channel": "web",
                 "item_id": "action_book_test_drive", "value": 1.5, "timestamp": stamp(5)}
            )  # fmt: skip
    return events


def ingest_and_decide(client) -> list[dict]:
    events = history()
    answer = client.post("/v1/events", json={"events": events})
    assert answer.status_code == 200 and answer.get_json()["accepted"] == len(events)
    for n in range(0, 20, 4):
        body = {"visitor_id": f"v{n}", "placement": "app_offers", "context": {"channel": "app"}}
        assert client.post("/v1/decisions", json=body).status_code == 200
    for visitor, profile in PROFILES.items():
        assert client.put(f"/v1/visitors/{visitor}/profile", json=profile).status_code == 200
    return events


PROFILES = {
    "v3": {"interests": ["suv"], "consent": {"personalization": True}},
    "v5": {"segment": "fleet", "consent": {"personalization": False}},
    "v21": {"attributes": {"age": 41}},  # a profile and no events
}


def state(server: RedisProcess) -> dict:
    client = redis.Redis.from_url(server.url)
    return {
        visitor: (
            client.hget(keys.context_key(TENANT, visitor), "data"),
            client.hgetall(keys.caps_key(TENANT, visitor)),
            client.hget(keys.context_key(TENANT, visitor), "profile"),
        )
        for visitor in (f"v{n}" for n in range(22))
    }


def reconnect(client) -> None:
    """The app's pooled connection died with the server: its next command fails once and reconnects."""
    for _ in range(3):
        client.get("/readyz")


def test_the_rebuild_command_restores_contexts_dedup_and_caps(app, server, settings):
    client = app.test_client()
    events = ingest_and_decide(client)
    before = state(server)
    assert sum(1 for data, _, _ in before.values() if data) == 20
    assert sum(1 for _, caps, _ in before.values() if caps) == 5
    assert sum(1 for _, _, profile in before.values() if profile) == 3

    server.restart_empty()
    assert not redis.Redis.from_url(server.url).dbsize()
    environment = {
        **os.environ,
        "WAYFINDER_DATA_DIR": str(settings.data_dir),
        "WAYFINDER_REDIS_URL": server.url,
        "WAYFINDER_TENANT": TENANT,
    }
    done = subprocess.run(
        [sys.executable, "-m", "training", "rebuild", "--json"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["contexts_written"] == 20 and report["decisions_counted"] == 5
    assert report["profiles_restored"] == 3

    assert state(server) == before
    reconnect(client)
    again = client.post("/v1/events", json={"events": events}).get_json()
    assert again["duplicates"] == len(events) and again["accepted"] == 0


def test_the_running_app_notices_and_decisions_reflect_history_again(app, server):
    client = app.test_client()
    ingest_and_decide(client)
    recovery = app.extensions["wayfinder"].recovery
    assert recovery.wait(timeout=60) and recovery.last_report is None  # an empty journal at start: no rebuild
    view = client.get("/v1/visitors/v3").get_json()
    assert view["stage"] == "intent" and view["profile"] == PROFILES["v3"]
    opted_out = client.get("/v1/visitors/v5").get_json()

    server.restart_empty()
    reconnect(client)
    first = client.post("/v1/decisions", json={"visitor_id": "v3", "placement": "app_offers"}).get_json()
    assert first["stage"] is None  # answering meanwhile, from a cold-start context

    assert recovery.wait(timeout=60), "the rebuild did not end"
    assert recovery.last_error is None and recovery.last_report.contexts_written == 20
    assert recovery.last_report.profiles_restored == 3
    after = client.post("/v1/decisions", json={"visitor_id": "v3", "placement": "app_offers"}).get_json()
    assert after["stage"] == "intent"
    assert client.get("/v1/visitors/v3").get_json() == view
    assert client.get("/v1/visitors/v5").get_json() == opted_out
    assert redis.Redis.from_url(server.url).exists(keys.journal_sentinel_key(TENANT))

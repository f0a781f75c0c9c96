"""The candidate generators move between retrains (issue 11), through the API: a real model trained on a
hand-built log, events posted to /v1/events, the upkeep step run, then decisions, with no retrain."""

import dataclasses
import datetime as dt
import json

import numpy as np
import pytest

from config.settings import Settings
from journal.writer import DailyLog
from models.events import parse_event
from service import create_app
from tests.redis_trips import count_round_trips
from training.train import train

A, B, C, D, E = "review_x5_press", "guide_ev_charging", "story_family_safety", "hero_x3_family_suv", "hero_e2_electric"
"""In the bundle: A then C, and D alone (the most popular). B and E it never saw."""
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
NOW = dt.datetime.now(dt.UTC)


def _view(visitor, item, at: dt.datetime) -> dict:
    stamp = at.isoformat().replace("+00:00", "Z")
    return {"event_id": f"{visitor}-{item}-{stamp}", "visitor_id": visitor, "type": "product_view", "timestamp": stamp,
            "channel": "web", "item_id": item}  # fmt: skip


def _log(path):
    events = []
    for n, kind in enumerate(np.random.default_rng(7).choice(["ac", "d"], size=200, p=[0.35, 0.65])):
        at = dt.datetime.fromtimestamp(START + n * 3_600, dt.UTC)
        if kind == "ac":
            events += [_view(f"ac{n}", A, at), _view(f"ac{n}", C, at + dt.timedelta(minutes=1))]
        else:
            events.append(_view(f"d{n}", D, at))
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory, journey, catalog):
    """A real model trained once for the module (serving only reads it)."""
    folder = tmp_path_factory.mktemp("live")
    train(_log(folder / "events.jsonl"), folder / "registry", journey, catalog, progress=lambda _: None)
    return folder / "registry"


@pytest.fixture
def settings(settings):
    """The test settings with the live generators on, at their defaults, and no upkeep thread: the tests
    run the upkeep step themselves, when they want it."""
    return dataclasses.replace(settings, live_signals_items=Settings().live_signals_items, spool_drain_interval_s=0)


@pytest.fixture
def live_app(settings, registry):
    app = create_app(dataclasses.replace(settings, registry=registry))
    client = app.test_client()
    body = client.get("/v1/placements/email_block").get_json()
    changed = {**body, "candidates": [B, C, D, E], "filters": [], "exploration": {}, "holdout_share": 0, "slots": 4}
    assert client.put("/v1/placements/email_block", json=changed).status_code == 200
    return app


def post(client, events):
    answer = client.post("/v1/events", json={"events": events})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["accepted"] == len(events)


def reasons(client, visitor) -> dict[str, list[str]]:
    answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": "email_block"})
    assert answer.status_code == 200, answer.get_json()
    decision = answer.get_json()
    assert decision["policy"] == "model"
    return {item["item_id"]: item["reasons"] for item in decision["items"]}


def test_a_new_item_viewed_after_a_is_proposed_after_a_before_any_retrain(live_app):
    client, services = live_app.test_client(), live_app.extensions["wayfinder"]
    after_a = "viewed next after What the press says about the X5"
    post(client, [_view("first", A, NOW - dt.timedelta(minutes=5))])
    services.background.run_once()
    assert not any(after_a in why for why in reasons(client, "first")[B])
    assert B not in services.models.bundle.retrieval.row("transitions", A)

    later = NOW - dt.timedelta(minutes=30)
    post(client, [_view(f"w{n}", item, later + dt.timedelta(seconds=n * 10 + (item == B))) for n in range(100)
                  for item in (A, B)])  # fmt: skip
    services.background.run_once()

    signals = services.models.bundle.retrieval
    assert signals.row("transitions", A)[B] == 100.0
    assert signals.top("transitions", A, 1) == [B]  # 100 live against the bundle's 70 or so A -> C
    post(client, [_view("second", A, NOW - dt.timedelta(minutes=1))])
    shown = reasons(client, "second")
    assert any(after_a in why for why in shown[B]), shown[B]
    assert services.models.version == services.models.registry.current()  # the same model: no retrain


def test_a_burst_of_touches_on_one_item_makes_it_trending(live_app):
    client, services = live_app.test_client(), live_app.extensions["wayfinder"]
    services.background.run_once()
    assert E not in services.models.bundle.retrieval.trending(30)
    assert "trending now" not in reasons(client, "newcomer").get(E, [])

    post(client, [_view(f"t{n}", E, NOW - dt.timedelta(minutes=20, seconds=-n)) for n in range(50)])
    services.background.run_once()

    assert services.models.bundle.retrieval.trending(1) == [E]
    assert "trending now" in reasons(client, "newcomer")[E]


def test_the_live_counts_stay_within_the_settings_bounds(settings, registry):
    bounded = dataclasses.replace(
        settings,
        registry=registry,
        live_signals_items=3,
        live_signals_neighbours=2,
        live_signals_visitors=5,
    )
    app = create_app(bounded)
    items = [A, B, C, D, E, "offer_ev_grant", "accessory_pet_pack"]
    post(app.test_client(), [_view(f"v{n % 7}", items[n * 3 % 7], NOW - dt.timedelta(seconds=300 - n))
                             for n in range(120)])  # fmt: skip
    live = app.extensions["wayfinder"].live_signals
    app.extensions["wayfinder"].background.run_once()
    sizes = live.counts.sizes()
    assert sizes["items"] == 3 and sizes["rows"] <= 3 and sizes["neighbours"] <= 2 and sizes["visitors"] == 5
    assert live.counts.touches == 120


def test_live_counting_can_be_turned_off(settings):
    app = create_app(dataclasses.replace(settings, live_signals_items=0))
    services = app.extensions["wayfinder"]
    assert services.live_signals is None
    assert "live signals" not in [name for name, _ in services.background.tasks]


def test_a_worker_forked_while_the_master_counted_can_count(settings):
    import os

    live = create_app(settings).extensions["wayfinder"].live_signals
    with live._lock:
        pid = os.fork()
        if pid == 0:  # the worker: the lock the master's thread held is free again
            os._exit(0 if live._lock.acquire(timeout=2) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_new_model_counts_afresh_from_its_own_data_end(settings, registry, tmp_path):
    import shutil

    from models.registry import Registry

    own = Registry(shutil.copytree(registry, tmp_path / "registry"))
    app = create_app(dataclasses.replace(settings, registry=own.root))
    client, services = app.test_client(), app.extensions["wayfinder"]
    pairs = [(f"w{n}", NOW - dt.timedelta(minutes=30, seconds=-n * 10)) for n in range(30)]
    pairs += [(f"x{n}", NOW - dt.timedelta(minutes=5, seconds=-n * 10)) for n in range(10)]
    post(client, [_view(who, item, at + dt.timedelta(seconds=item == B)) for who, at in pairs for item in (A, B)])
    services.background.run_once()
    assert services.models.bundle.retrieval.row("transitions", A)[B] == 40.0

    # the next model's data ends between the two groups: only the later ten are news to it
    version = "20991231T000000Z-abc123"
    manifest = json.loads((own.path(own.current()) / "manifest.json").read_text())
    manifest["version"] = version
    manifest["data"]["time_range"][1] = (NOW - dt.timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    own.write(version, lambda d: (shutil.copytree(own.path(own.current()), d), (d / "manifest.json").write_text(
        json.dumps(manifest))))  # fmt: skip
    own.promote(version)
    assert services.models.get().version == version
    services.background.run_once()
    assert services.models.bundle.retrieval.row("transitions", A)[B] == 10.0


def test_the_upkeep_step_costs_no_redis_call_and_a_decision_still_one_read_and_one_write(live_app, monkeypatch):
    client, services = live_app.test_client(), live_app.extensions["wayfinder"]
    post(client, [_view(f"w{n}", item, NOW - dt.timedelta(seconds=600 - n * 2 - (item == B))) for n in range(50)
                  for item in (A, B)])  # fmt: skip
    post(client, [_view("reader", A, NOW)])
    reasons(client, "reader")  # warm: catalog cached, scripts loaded
    trips = count_round_trips(monkeypatch)
    services.live_signals.refresh()
    assert trips == []
    assert services.models.bundle.retrieval.row("transitions", A)[B] == 50.0
    shown = reasons(client, "reader")
    assert any("viewed next after" in why for why in shown[B])
    assert len(trips) == 2, trips


def test_a_torn_journal_line_is_skipped_and_said(live_app, caplog):
    client, services = live_app.test_client(), live_app.extensions["wayfinder"]
    post(client, [_view("torn", A, NOW - dt.timedelta(seconds=20))])
    restarted = DailyLog(services.settings.data_dir / "events", host=services.settings.journal_host)
    with open(restarted.path_for((NOW - dt.timedelta(seconds=20)).timestamp()), "ab") as handle:
        handle.write(b'{"event_id": "cut", "visitor_id": "torn", "item_id": "')  # a crash mid-write
    services.background.run_once()
    # the restarted worker's writer starts a fresh line after the torn one
    restarted.append([parse_event(_view("torn", B, NOW - dt.timedelta(seconds=10)))])
    services.background.run_once()
    assert services.models.bundle.retrieval.row("transitions", A)[B] == 1.0
    assert services.live_signals.tail.bad_lines == 1
    assert "live signals skipped 1 bad event line" in caplog.text

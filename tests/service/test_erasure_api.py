"""DELETE /v1/visitors/<id> erases a person at once from Redis and, after compaction, from every byte of the
data dir; GET /v1/visitors/<id>/export returns what is stored about them; erased ids are refused."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from journal.decision_log import read_decision_log, read_shown_items
from journal.erasures import Erasures
from journal.event_log import day_files, read_daily_log
from journal.profile_log import LatestProfiles
from models.context import from_json
from reports.analytics import analyze_log
from service import create_app
from service.erasure import DAY_S, CompactionSchedule

ROOT = Path(__file__).resolve().parents[2]
VISITOR, USER, DEVICE = "visitor-7f3a9c", "user-e41d07", "device-5bb2e8"
"""One person: a visitor id, the user id it logged in as, and a second device of that user."""
OTHER = "someone-else-01"


@pytest.fixture
def own_app(settings, redis_backend):
    """The app; on the embedded backend with its own Redis under the data dir, so that its file is greppable."""
    if redis_backend[0] == "embedded":
        settings = dataclasses.replace(settings, redis_url="")
    app = create_app(settings)
    yield app
    services = app.extensions["wayfinder"]
    services.background.stop()
    if services.embedded_redis is not None:
        services.embedded_redis.stop()


def send_traffic(client):
    events = [
        {"visitor_id": VISITOR, "type": "page_view", "channel": "web"},
        {"visitor_id": VISITOR, "type": "product_view", "item_id": "x5", "channel": "web"},
        {"visitor_id": VISITOR, "user_id": USER, "type": "add_to_cart", "item_id": "x5", "channel": "web"},
        {"visitor_id": DEVICE, "user_id": USER, "type": "page_view", "channel": "app"},
        {"visitor_id": OTHER, "type": "product_view", "item_id": "x5", "channel": "web"},
    ]
    assert client.post("/v1/events", json={"events": events}).get_json()["accepted"] == 5
    for body in ({"visitor_id": VISITOR}, {"visitor_id": DEVICE, "user_id": USER}, {"visitor_id": OTHER}):
        assert client.post("/v1/decisions", json={**body, "placement": "home_hero"}).status_code == 200
    for some_id in (VISITOR, USER, OTHER):
        assert client.put(f"/v1/visitors/{some_id}/profile", json={"interests": ["cars"]}).status_code == 200


def redis_bytes(client, tenant: str) -> dict[bytes, bytes]:
    """Every key of the tenant with its value as read by type, plus its DUMP; a stored context (compressed,
    models.context_codec) also as the JSON it decodes to."""
    found = {}
    for key in client.scan_iter(match=f"wf:{tenant}:*", count=1000):
        kind = client.type(key)
        if kind == b"hash":
            fields = client.hgetall(key)
            value = b"|".join(k + b"=" + v for k, v in fields.items())
            if b"data" in fields:
                value += b"|" + json.dumps(from_json(fields[b"data"], "")).encode()
        elif kind == b"zset":
            value = b"|".join(member for member, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"set":
            value = b"|".join(client.smembers(key))
        elif kind == b"list":
            value = b"|".join(client.lrange(key, 0, -1))
        else:
            value = client.get(key) or b""
        found[key] = value + b"|" + (client.dump(key) or b"")
    return found


def ids_in(data: bytes, ids=(VISITOR, USER, DEVICE)) -> list[str]:
    return [i for i in ids if i.encode() in data]


def test_an_erased_person_is_nowhere_in_redis_nor_after_compaction_in_the_data_dir(own_app, settings):
    client, services = own_app.test_client(), own_app.extensions["wayfinder"]
    redis_client, data_dir = services.store.client, settings.data_dir
    send_traffic(client)
    assert ids_in(b"".join(k + v for k, v in redis_bytes(redis_client, settings.tenant).items()))
    if services.embedded_redis is not None:
        redis_client.save()  # as its periodic saves do: the file on disk holds the person now
        assert ids_in(settings.embedded_redis_file.read_bytes())

    answer = client.delete(f"/v1/visitors/{USER}")

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["erased_ids"] == 3 and body["redis_keys_deleted"] >= 4
    assert body["logs_compacted_by"] > body["erased_at"]
    left = redis_bytes(redis_client, settings.tenant)
    assert [key for key, value in left.items() if ids_in(key + value)] == []
    assert any(b"someone-else" in value for value in left.values())  # the rest is still there
    # training, evaluation, lift and analytics read through these: they skip the person from now on
    events = read_daily_log(data_dir / "events")
    assert set(events["visitor_id"]) == {OTHER} and events.attrs["erased_lines"] == 4
    assert set(read_decision_log(data_dir / "decisions").decisions["visitor_id"]) == {OTHER}
    assert set(read_shown_items(day_files(data_dir / "decisions"))["visitor_id"]) == {OTHER}
    assert LatestProfiles().read(data_dir / "profiles").visitors() == [OTHER]
    assert analyze_log(data_dir / "events", services.journey)["summary"]["visitors"] == 1
    assert ids_in(b"".join(p.read_bytes() for p in (data_dir / "events").iterdir()))  # until compaction

    run = subprocess.run(  # at once, today's files included, while the service runs
        [sys.executable, "-m", "training", "compact", "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert client.post("/v1/events", json={"visitor_id": OTHER, "type": "page_view"}).status_code == 200

    files = [path for path in data_dir.rglob("*") if path.is_file()]
    if services.embedded_redis is not None:
        assert settings.embedded_redis_file in files  # its file on disk is read too
    assert [(str(path), ids_in(path.read_bytes())) for path in files if ids_in(path.read_bytes())] == []
    assert Erasures(data_dir).pending() == []


def test_an_erased_id_is_refused_where_it_is_named(client):
    assert client.post("/v1/events", json={"visitor_id": VISITOR, "user_id": USER, "type": "page_view"}).status_code
    assert client.delete(f"/v1/visitors/{VISITOR}").status_code == 200

    batch = {"events": [{"visitor_id": "fresh-1", "user_id": USER, "type": "page_view"}, {"visitor_id": "fresh-2"}]}
    batch["events"][1]["type"] = "page_view"
    answer = client.post("/v1/events", json=batch).get_json()
    assert answer["accepted"] == 1
    assert answer["rejected"][0]["index"] == 0
    assert answer["rejected"][0]["errors"]["user_id"][0].startswith("this id was erased on ")
    decision = client.post("/v1/decisions", json={"visitor_id": VISITOR, "placement": "home_hero"})
    assert decision.status_code == 409 and "visitor_id" in decision.get_json()["errors"]
    profile = client.put(f"/v1/visitors/{USER}/profile", json={"interests": ["cars"]})
    assert profile.status_code == 409 and "visitor_id" in profile.get_json()["errors"]
    assert client.get(f"/v1/visitors/{USER}").get_json()["known"] is False


def test_erasing_again_or_an_unknown_id_is_fine(client):
    client.post("/v1/events", json={"visitor_id": VISITOR, "type": "page_view"})
    first = client.delete(f"/v1/visitors/{VISITOR}").get_json()
    again = client.delete(f"/v1/visitors/{VISITOR}").get_json()
    assert (first["erased_ids"], first["redis_keys_deleted"]) == (1, 2)  # context and dedup
    assert (again["erased_ids"], again["redis_keys_deleted"]) == (1, 0)
    assert client.delete("/v1/visitors/never-seen").status_code == 200


def test_the_export_holds_the_redis_state_and_every_journal_line_of_the_person(client, settings):
    send_traffic(client)
    export = client.get(f"/v1/visitors/{DEVICE}/export").get_json()
    assert export["linked_ids"] == sorted([VISITOR, USER, DEVICE])
    assert export["erased_at"] is None and export["truncated"] is False
    assert len(export["events"]) == 4 and {e["visitor_id"] for e in export["events"]} == {VISITOR, DEVICE}
    assert len(export["decisions"]) == 2 and len(export["profiles"]) == 2
    state = {v["visitor_id"]: v for v in export["visitors"]}
    assert state[USER]["events"] == 4 and state[USER]["profile"]  # VISITOR's anonymous events joined USER's
    assert state[VISITOR]["person"] == USER and state[USER]["devices"] == sorted([VISITOR, DEVICE])
    assert OTHER not in str(export)

    small = create_app(dataclasses.replace(settings, erasure_export_max_lines=3)).test_client()
    bounded = small.get(f"/v1/visitors/{USER}/export").get_json()
    assert bounded["truncated"] is True and bounded["max_lines"] == 3
    assert len(bounded["events"]) + len(bounded["decisions"]) + len(bounded["profiles"]) == 3


def test_the_upkeep_compacts_a_day_before_the_limit_and_looks_only_every_few_minutes(tmp_path):
    from journal.writer import DailyLog

    now = [1_767_225_600.0]
    DailyLog(tmp_path / "events", fsync=False).append([{"visitor_id": VISITOR, "type": "page_view", "ts": now[0]}])
    erasures = Erasures(tmp_path)
    schedule = CompactionSchedule(tmp_path, erasures, days=30, clock=lambda: now[0])
    erasures.record([VISITOR], by="admin", at=now[0])
    events = next((tmp_path / "events").iterdir())

    now[0] += 29 * DAY_S - 60  # a minute short of 29 days: not yet
    schedule()
    assert VISITOR.encode() in events.read_bytes()
    now[0] += 120  # 29 days, a day to spare, but the last look was two minutes ago
    schedule()
    assert VISITOR.encode() in events.read_bytes()
    now[0] += 300
    schedule()
    assert VISITOR.encode() not in events.read_bytes() and erasures.pending() == []


def test_a_secret_given_in_settings_is_the_one_the_services_own_readers_use(settings):
    app = create_app(dataclasses.replace(settings, erasure_secret="from-settings-not-env"))
    client = app.test_client()
    client.post("/v1/events", json={"events": [{"visitor_id": VISITOR, "type": "page_view"}]})
    client.post("/v1/events", json={"events": [{"visitor_id": OTHER, "type": "page_view"}]})
    assert client.delete(f"/v1/visitors/{VISITOR}").status_code == 200
    assert not (settings.data_dir / "erasures" / "secret").exists()  # the configured secret, no other
    assert set(read_daily_log(settings.data_dir / "events")["visitor_id"]) == {OTHER}
    app.extensions["wayfinder"].background.stop()


def test_the_sweep_deletes_a_context_an_erasure_left_behind(app, settings):
    """An erasure whose Redis step failed (or an event written just after it): the sweep that follows each
    background compaction finds the context by the ids it holds and deletes its keys."""
    client, services = app.test_client(), app.extensions["wayfinder"]
    events = [{"visitor_id": VISITOR, "user_id": USER, "type": "page_view"}, {"visitor_id": OTHER, "type": "page_view"}]
    assert client.post("/v1/events", json={"events": events}).get_json()["accepted"] == 2
    services.eraser.erasures.record([VISITOR, USER], by="test", at=0.0)  # recorded, Redis not touched
    redis_client = services.store.client
    assert ids_in(b"".join(k + v for k, v in redis_bytes(redis_client, settings.tenant).items()))

    schedule = CompactionSchedule(
        settings.data_dir, services.eraser.erasures, days=30, sweep=services.eraser.sweep_redis
    )
    schedule()  # the erasure is from 1970: long past due

    left = redis_bytes(redis_client, settings.tenant)
    assert [key for key, value in left.items() if ids_in(key + value)] == []
    assert any(OTHER.encode() in value for value in left.values())
    assert services.eraser.sweep_redis() == 0


def test_the_visitors_rate_bucket_goes_with_the_erasure(settings, redis_backend):
    from flask.testing import FlaskClient

    from models.keys import visitor_rate_key

    app = create_app(dataclasses.replace(settings, rate_limits="on", public_key="wf_public_erasure-test"))
    browser = FlaskClient(app, app.response_class)
    sent = browser.post(
        "/v1/events",
        json={"visitor_id": VISITOR, "type": "page_view"},
        headers={"Authorization": "Bearer wf_public_erasure-test"},
    )
    bucket = visitor_rate_key(settings.tenant, VISITOR)
    assert sent.status_code == 200 and redis_backend[2].exists(bucket)
    assert app.test_client().delete(f"/v1/visitors/{VISITOR}").status_code == 200
    assert not redis_backend[2].exists(bucket)

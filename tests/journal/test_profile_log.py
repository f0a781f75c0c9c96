"""The profile log: each accepted profile PUT is on disk before Redis changes; its reader and its fold."""

import json
import time

import pytest

from journal.profile_log import LatestProfiles, ProfileLog, ProfileRecord, encode
from journal.writer import DailyLog
from models import keys

DAY = 86_400


def logged(settings) -> list[dict]:
    return [json.loads(line) for f in sorted((settings.data_dir / "profiles").glob("*.jsonl")) for line in f.open()]


def test_a_profile_put_is_logged_as_stored(client, settings, redis_backend, tenant):
    assert client.put("/v1/visitors/v1/profile", json={"consent": {"personalization": False}}).status_code == 200
    answer = client.put("/v1/visitors/v1/profile", json={"interests": ["pets"], "attributes": {"age": 41}})
    assert answer.status_code == 200

    records = logged(settings)
    assert [r["profile"] for r in records] == [
        {"consent": {"personalization": False}},
        {"interests": ["pets"], "attributes": {"age": 41}, "consent": {"personalization": False}},
    ]
    assert all(r["rv"] == 1 and r["visitor_id"] == "v1" and abs(r["ts"] - time.time()) < 3600 for r in records)
    assert records[-1]["profile"] == answer.get_json()
    stored = redis_backend[2].hget(keys.context_key(tenant, "v1"), "profile")
    assert stored == encode(records[-1]["profile"]).encode()


def test_when_the_disk_refuses_the_log_the_put_is_a_503_and_redis_is_unchanged(client, settings):
    assert client.put("/v1/visitors/v1/profile", json={"interests": ["pets"]}).status_code == 200
    before = client.get("/v1/visitors/v1").get_json()
    profiles = settings.data_dir / "profiles"
    for path in profiles.glob("*.jsonl"):
        path.unlink()
    now = time.time()
    for ts in (now, now + DAY):  # a directory where today's (and, at midnight, tomorrow's) file goes: EISDIR
        DailyLog(profiles, host=settings.journal_host).path_for(ts).mkdir(exist_ok=True)

    answer = client.put("/v1/visitors/v1/profile", json={"interests": ["cars"], "consent": {"email": False}})

    assert answer.status_code == 503
    body = answer.get_json()
    assert body["code"] == 503 and "profile log" in body["message"] and "free disk space" in body["message"]
    assert client.get("/v1/visitors/v1").get_json() == before


@pytest.mark.parametrize(
    "body, status",
    [({}, 422), ({"interests": "pets"}, 422), ({"attributes": {"a": "x" * 70_000}}, 413)],
)
def test_a_refused_profile_put_logs_nothing(client, settings, body, status):
    assert client.put("/v1/visitors/v1/profile", json=body).status_code == status
    assert logged(settings) == []


def test_the_reader_skips_torn_and_unknown_lines_and_keeps_the_time_range(tmp_path):
    log = ProfileLog(tmp_path, fsync=False)
    day = 20_000 * DAY
    log.append("a", {"interests": ["x"]}, day + 10)
    log.append("b", {"segment": "s"}, day + 20)
    log.append("a", {"interests": ["y"]}, day + DAY + 5)
    with open(log.log.path_for(day), "a") as handle:
        handle.write('{"rv":2,"visitor_id":"c","ts":1,"profile":{}}\n{"rv":1,"visitor_id":"c","profile":{}}\n')
        handle.write('{"rv":1,"visitor_id":"c","ts":3,"profile":{"consent":[]}}\n')
        handle.write('{"rv":1,"visitor_id":"a","ts":')  # a write cut short by a crash

    profiles = LatestProfiles().read(tmp_path)
    assert profiles.bad_lines == 4 and profiles.visitors() == ["a", "b"]
    assert profiles.profile("a") == {"interests": ["y"]} and profiles.profile("b") == {"segment": "s"}
    assert LatestProfiles().read(tmp_path, day + 15, day + DAY).visitors() == ["b"]


def test_the_latest_write_wins_as_stored_and_consent_keys_are_never_dropped():
    stored = {"interests": ["b"], "consent": {"personalization": False, "email": True}}
    records = [
        ProfileRecord("v", 30.0, stored),
        ProfileRecord("v", 10.0, {"interests": ["a"], "consent": {"personalization": True}}),  # arrived late
        ProfileRecord("w", 5.0, {"segment": "fleet", "consent": {"email": False, "sms": True}}),
        ProfileRecord("w", 6.0, {"segment": "retail", "consent": {"sms": False}}),  # Redis had lost w's consent
    ]
    profiles = LatestProfiles()
    for record in records:
        profiles.add(record)
    assert profiles.encoded("v") == encode(stored)  # the live merge already holds every earlier key: as it is
    assert profiles.profile("w") == {"segment": "retail", "consent": {"email": False, "sms": False}}

    for record in reversed(records):  # in any order, and twice: the same
        profiles.add(record)
    assert profiles.encoded("v") == encode(stored)
    assert profiles.profile("w") == {"segment": "retail", "consent": {"email": False, "sms": False}}

"""Rate limits on real Redis (both backends): the burst, the refill, one bucket shared by processes, fail open."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time

import pytest
import redis

from config.settings import Settings
from models.errors import ConfigError, RateLimited
from service.rate_limits import EXPENSIVE_COST, RateLimiter
from tests.faults.processes import ROOT, RedisServer
from tests.redis_trips import count_round_trips

ROOMY = "1000/1000"


def limiter_for(client, tenant: str, **limits: str) -> RateLimiter:
    fields = {"rate_limit_public": ROOMY, "rate_limit_server": ROOMY, "rate_limit_visitor": ROOMY, **limits}
    return RateLimiter.from_settings(client, Settings.from_env(environ={}, tenant=tenant, **fields))


def allowed(limiter: RateLimiter, times: int, key="k1", scope="public", visitor=None, cost=1.0) -> int:
    count = 0
    for _ in range(times):
        try:
            limiter.check(key, scope, visitor, cost)
            count += 1
        except RateLimited:
            pass
    return count


def test_the_burst_passes_then_a_429_says_when_to_retry(redis_backend, tenant):
    limiter = limiter_for(redis_backend[2], tenant, rate_limit_public="2/5")
    assert allowed(limiter, 5) == 5
    with pytest.raises(RateLimited) as refused:
        limiter.check("k1", "public", None)
    assert refused.value.status_code == 429 and refused.value.code == "rate_limited"
    assert 0 < refused.value.retry_after_s <= 0.5  # one token at 2 per second
    assert "public key" in refused.value.message


def test_expensive_reads_take_more_tokens(redis_backend, tenant):
    limiter = limiter_for(redis_backend[2], tenant, rate_limit_admin="0.01/100")
    assert allowed(limiter, 10, scope="admin", cost=EXPENSIVE_COST) == 100 // EXPENSIVE_COST
    with pytest.raises(RateLimited) as refused:
        limiter.check("k1", "admin", None, cost=EXPENSIVE_COST)
    assert refused.value.retry_after_s > 100  # 20 tokens at 0.01 per second, less what refilled


def test_the_bucket_refills_at_the_configured_rate(redis_backend, tenant):
    limiter = limiter_for(redis_backend[2], tenant, rate_limit_public="10/20")
    assert allowed(limiter, 25) == 20
    started = time.monotonic()
    time.sleep(0.6)
    refilled = allowed(limiter, 30)
    elapsed = time.monotonic() - started + 0.05  # + the drain's own tail, refilling before `started`
    assert 5 <= refilled <= 10 * elapsed + 1  # 6 in 0.6 s; 5: the clocks of Redis and of this test may differ a little


def test_one_check_is_one_round_trip(redis_backend, tenant, monkeypatch):
    limiter = limiter_for(redis_backend[2], tenant)
    limiter.check("k1", "public", "v1")  # the script is loaded by now
    trips = count_round_trips(monkeypatch)
    limiter.check("k1", "public", "v1")
    assert trips == [["EVALSHA", "EVALSHA"]]


def test_key_and_visitor_buckets_are_independent(redis_backend, tenant):
    limiter = limiter_for(redis_backend[2], tenant, rate_limit_public="0.01/3", rate_limit_visitor="0.01/2")
    assert allowed(limiter, 5, key="k1", visitor="v-a") == 2  # the visitor's bucket ends it
    assert allowed(limiter, 5, key="k1", visitor="v-b") == 1  # the key's bucket ends it: 3 in all
    assert allowed(limiter, 5, key="k2", visitor="v-c") == 2  # another key: its own bucket
    assert allowed(limiter, 5, key="k3", scope="server", visitor="v-a") == 5  # server keys: no visitor limit


def test_a_refused_request_takes_no_tokens(redis_backend, tenant):
    limiter = limiter_for(redis_backend[2], tenant, rate_limit_public="0.01/5", rate_limit_visitor="0.01/2")
    assert allowed(limiter, 12, visitor="v-greedy") == 2  # ten refused by the visitor's bucket
    assert allowed(limiter, 5, visitor="v-b") + allowed(limiter, 5, visitor="v-c") == 3  # the key kept its 3


def test_one_bucket_is_shared_by_two_processes(redis_backend, tenant):
    kind, url, client = redis_backend
    url = url or f"unix://{client.socket_file}"
    rate, burst = 20, 30
    code = textwrap.dedent(
        f"""
        import sys, time, redis
        from config.settings import Settings
        from models.errors import RateLimited
        from service.rate_limits import RateLimiter
        settings = Settings.from_env(environ={{}}, tenant={tenant!r}, rate_limit_public="{rate}/{burst}")
        limiter = RateLimiter.from_settings(redis.Redis.from_url({url!r}), settings)
        print("ready", flush=True)
        sys.stdin.readline()
        end, allowed, calls = time.monotonic() + 1.0, 0, 0
        while time.monotonic() < end:
            calls += 1
            try:
                limiter.check("shared", "public", None)
                allowed += 1
            except RateLimited:
                pass
        print(allowed, calls, flush=True)
        """
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    started = time.monotonic()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = [tuple(map(int, worker.communicate(timeout=60)[0].split())) for worker in workers]
    elapsed = time.monotonic() - started
    total = sum(granted for granted, _ in results)
    assert all(calls > 0 for _, calls in results)
    assert burst <= total <= burst + rate * elapsed  # each process alone could have had as much


def test_off_never_refuses(redis_backend, tenant):
    settings = Settings.from_env(environ={"WAYFINDER_RATE_LIMITS": "off"}, tenant=tenant, rate_limit_public="1/1")
    limiter = RateLimiter.from_settings(redis_backend[2], settings)
    assert allowed(limiter, 50, visitor="v1") == 50


@pytest.mark.parametrize(
    "field, raw, words",
    [
        ("rate_limit_public", "1000", "WAYFINDER_RATE_LIMIT_PUBLIC='1000': expected <requests per second>/<burst>"),
        ("rate_limit_server", "fast/2000", "WAYFINDER_RATE_LIMIT_SERVER='fast/2000'"),
        ("rate_limit_admin", "0/100", "both positive numbers"),
        ("rate_limit_visitor", "10/-4", "both positive numbers"),
        ("rate_limit_visitor", "nan/4", "both positive numbers"),
        ("rate_limit_public", "10/0.5", "a burst under 1 refuses every request"),
        ("rate_limits", "maybe", "WAYFINDER_RATE_LIMITS='maybe': expected on or off"),
    ],
)
def test_a_bad_limit_stops_the_start_with_the_setting_named(field, raw, words):
    settings = Settings.from_env(environ={"WAYFINDER_" + field.upper(): raw})
    with pytest.raises(ConfigError) as refused:
        RateLimiter.from_settings(redis.Redis(), settings)
    assert words in refused.value.message


def test_redis_down_allows_and_logs_once(tmp_path, caplog):
    server = RedisServer(tmp_path / "redis").start()
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        limiter = limiter_for(client, "down", rate_limit_public="0.01/3")
        assert allowed(limiter, 2) == 2
        client.script_flush()  # a restarted server has no scripts: NOSCRIPT, loaded again
        assert allowed(limiter, 3) == 1
        server.kill()
        with caplog.at_level(logging.WARNING, logger="service.rate_limits"):
            assert allowed(limiter, 5) == 5
        assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
        assert "Redis unreachable (requests allowed)" in caplog.records[0].message
    finally:
        server.kill()

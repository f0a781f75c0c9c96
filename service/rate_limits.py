"""Rate limits: a token bucket per API key and per visitor in Redis, shared by every worker and host.

Each bucket is one small hash (`t` tokens, `ts` last refill) changed by one Lua script that refills
it by the time elapsed on the Redis server's clock (`TIME`), so the workers' clocks never matter.
One `check` is one round-trip: a non-transactional pipeline of one EVALSHA per bucket, each script
touching one key (Redis Cluster safe; the visitor's bucket lives in the visitor's hash slot). A
refused request costs nothing: when only one of the two buckets refuses, the other gets its tokens
back (a second round-trip, on refusals only). When Redis is unreachable, `check` allows the request
(fail open) and logs at most once a minute: events must still reach the spool during an outage
(docs/operations.md). docs/rate-limits.md has the settings and the measured cost.

Wiring (the auth hook, after it knows the key): build once per app,
`limiter = RateLimiter.from_settings(client, settings)` (it validates the settings' limits, so a bad
one stops the start), then per request
`limiter.check(key.id, key.scope, visitor_id, cost)` (the visitor's bucket applies to public keys only), with
`cost=EXPENSIVE_COST` for analytics and lift. It raises `RateLimited`; render `Retry-After` as
`max(1, math.ceil(error.retry_after_s))`. A test across gunicorn workers: start `Gunicorn` (tests/
faults/processes.py) with 2 workers and `WAYFINDER_RATE_LIMIT_PUBLIC=5/10`, send 40 requests with
one public key at once, and assert that the 2xx count is at most 10 + 5 × the seconds elapsed and
that the rest are 429 with a Retry-After.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import redis

from config.settings import Settings
from models import keys
from models.errors import ConfigError, RateLimited
from service import metrics

log = logging.getLogger(__name__)

EXPENSIVE_COST = 20.0
"""Tokens one expensive read takes (analytics, lift: each reads day files of the logs for seconds)."""
SCOPES = ("public", "server", "admin")
TTL_FILLS = 3
"""A bucket's key expires after this many fill times (burst / rate) untouched: by then it is full anyway,
and an absent bucket reads as full."""
OUTAGE_LOG_EVERY_S = 60.0

# KEYS[1]: the bucket; ARGV: rate (tokens/s), burst, cost (negative: give tokens back), TTL in ms.
# Returns {1, tokens left} or {0, seconds until `cost` tokens}, as strings (Lua numbers would be truncated).
TAKE = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens, since = tonumber(state[1]), tonumber(state[2])
if tokens == nil or since == nil then
  tokens, since = burst, now
end
if now > since then
  tokens = math.min(burst, tokens + (now - since) * rate)
else
  now = since
end
if tokens < cost then
  return {0, tostring((cost - tokens) / rate)}
end
tokens = math.min(burst, tokens - cost)
-- %.6f: microseconds kept (tostring's 14 digits would round the time to 0.1 ms and grant tokens early)
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, tostring(tokens)}
"""


@dataclasses.dataclass(frozen=True)
class Limit:
    """A bucket's refill rate (tokens per second) and size (burst)."""

    rate: float
    burst: float

    @classmethod
    def parse(cls, text: str, name: str) -> Limit:
        """`<rate>/<burst>`, e.g. `1000/2000`; a clear ConfigError naming the setting otherwise."""
        hint = f"WAYFINDER_{name.upper()}={text!r}: expected <requests per second>/<burst>, e.g. 10/40"
        rate, slash, burst = text.partition("/")
        try:
            limit = cls(float(rate), float(burst))
        except ValueError:
            raise ConfigError(hint) from None
        if not slash or not all(math.isfinite(v) and v > 0 for v in (limit.rate, limit.burst)):
            raise ConfigError(f"{hint} (both positive numbers)")
        if limit.burst < 1:
            raise ConfigError(f"{hint} (a burst under 1 refuses every request)")
        return limit

    @property
    def ttl_ms(self) -> int:
        return max(1000, math.ceil(TTL_FILLS * self.burst / self.rate * 1000))


class RateLimiter:
    """Token buckets per (tenant, key id) by the key's scope and per (tenant, visitor) for public keys."""

    def __init__(
        self, client: redis.Redis, tenant: str, limits: dict[str, Limit], visitor: Limit, enabled: bool = True
    ):
        self.client = client
        self.tenant = tenant
        self.limits = limits
        self.visitor = visitor
        self.enabled = enabled
        self._script = client.register_script(TAKE)
        self._outage_logged_at = -math.inf

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> RateLimiter:
        """The limiter the settings describe; a ConfigError (at start-up) for a limit that does not parse."""
        if settings.rate_limits not in ("on", "off"):
            raise ConfigError(f"WAYFINDER_RATE_LIMITS={settings.rate_limits!r}: expected on or off")
        limits = {
            scope: Limit.parse(getattr(settings, f"rate_limit_{scope}"), f"rate_limit_{scope}") for scope in SCOPES
        }
        visitor = Limit.parse(settings.rate_limit_visitor, "rate_limit_visitor")
        return cls(client, settings.tenant, limits, visitor, enabled=settings.rate_limits == "on")

    def check(self, key_id: str, scope: str, visitor_id: str | None, cost: float = 1.0) -> None:
        """Take `cost` tokens from the key's bucket (and, for a public key, the visitor's), or raise RateLimited
        and take none. Server and admin keys speak for many visitors: their `visitor_id` is not limited.
        Allows everything when Redis is unreachable."""
        pending = self.pending(key_id, scope, visitor_id, cost)
        if pending is None:
            return
        try:
            replies = self._take(pending.buckets, cost)
        except redis.RedisError as error:
            self._log_outage(error)
            return
        pending.settle(replies)

    def pending(self, key_id: str, scope: str, visitor_id: str | None, cost: float = 1.0) -> PendingCheck | None:
        """The check for this request, to be sent in a pipeline of the caller's (a decision sends it with its one
        read: PendingCheck.queue, then PendingCheck.settle with the replies); None when limits are off."""
        if not self.enabled:
            return None
        if scope not in self.limits:
            raise ConfigError(f"no rate limit for the key scope {scope!r}; scopes are {', '.join(SCOPES)}")
        buckets = [(keys.key_rate_key(self.tenant, key_id), self.limits[scope], f"{scope} key")]
        if visitor_id is not None and scope == "public":
            buckets.append((keys.visitor_rate_key(self.tenant, visitor_id), self.visitor, "visitor"))
        return PendingCheck(self, buckets, cost)

    def _take(self, buckets: list[tuple[str, Limit, str]], cost: float) -> list:
        """One EVALSHA per bucket in one round-trip. A server that lost the script (restart, SCRIPT FLUSH)
        answers NOSCRIPT: load it and send again. (redis-py's own pipeline path asks SCRIPT EXISTS first, a
        second round-trip on every call.)"""
        for attempt in range(2):
            pipe = self.client.pipeline(transaction=False)
            self._queue(pipe, buckets, cost)
            replies = metrics.execute(pipe, "rate_limit", raise_on_error=False)
            if not _script_missing(replies):
                break
            if attempt == 0:
                self.reload_script()
        return replies

    def _queue(self, pipe, buckets: list[tuple[str, Limit, str]], cost: float) -> None:
        for key, limit, _ in buckets:
            spent = min(cost, limit.burst)  # more than a full bucket could never pass
            pipe.evalsha(self._script.sha, 1, key, limit.rate, limit.burst, spent, limit.ttl_ms)

    def reload_script(self) -> None:
        self._script.sha = self.client.script_load(TAKE)

    def _give_back(self, buckets: list[tuple[str, Limit, str]], cost: float) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, limit, _ in buckets:
            pipe.evalsha(self._script.sha, 1, key, limit.rate, limit.burst, -min(cost, limit.burst), limit.ttl_ms)
        # a refund lost to a restart only costs the bucket a little
        metrics.execute(pipe, "rate_limit_refund", raise_on_error=False)

    def _log_outage(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._outage_logged_at >= OUTAGE_LOG_EVERY_S:
            self._outage_logged_at = now
            log.warning("rate limits not enforced, Redis unreachable (requests allowed): %s", error)


@dataclasses.dataclass
class PendingCheck:
    """One request's rate-limit check, sent in someone else's pipeline (RateLimiter.pending)."""

    limiter: RateLimiter
    buckets: list[tuple[str, Limit, str]]
    cost: float

    def queue(self, pipe) -> int:
        """Add the check's scripts to `pipe`; how many replies they take (the last that many of the pipeline)."""
        self.limiter._queue(pipe, self.buckets, self.cost)
        return len(self.buckets)

    def settle(self, replies: list) -> None:
        """RateLimited when a bucket refused (the others get their tokens back); nothing when all took. A reply that
        is an error (the server lost the script, or failed) makes it a check of its own; Redis down allows."""
        limiter = self.limiter
        try:
            if any(isinstance(reply, Exception) for reply in replies):
                replies = limiter._take(self.buckets, self.cost)
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            taken = [(int(ok), value) for ok, value in replies]
            refused = [(float(wait), what) for (ok, wait), (_, _, what) in zip(taken, self.buckets) if not ok]
            if refused and len(refused) < len(self.buckets):
                limiter._give_back([b for (ok, _), b in zip(taken, self.buckets) if ok], self.cost)
        except redis.RedisError as error:
            limiter._log_outage(error)
            return
        if refused:
            wait, what = max(refused)
            raise RateLimited(f"too many requests for this {what}: retry in {wait:.2f} s", retry_after_s=wait)


def _script_missing(replies: list) -> bool:
    return any(isinstance(reply, redis.exceptions.NoScriptError) for reply in replies)

"""The visitor context store on Redis: one round-trip to read, compare-and-set to write."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Iterable

import redis

from models.context import apply_event, new_context, profile_key
from models.errors import StoreUnavailable
from models.journey import JourneyMap
from service import keys

# Write a reduced context only if nobody wrote it since we read it; record the event ids with it.
COMPARE_AND_SET = """
local version = redis.call('HGET', KEYS[1], 'ver') or '0'
if version ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'ver', tostring(tonumber(version) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[3])
if #ARGV > 3 then
  redis.call('SADD', KEYS[2], unpack(ARGV, 4))
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
"""
MAX_ATTEMPTS = 20


@dataclasses.dataclass
class VisitorState:
    """What one read returns about a visitor."""

    context: dict
    profile: dict
    impressions: dict[str, int]
    popularity: dict[str, float]
    catalog_version: int | None = None


REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


class ContextStore:
    """Per-visitor context (reduced touchpoints), profile and seen event ids, under one hash tag."""

    def __init__(self, client: redis.Redis, journey: JourneyMap, tenant: str, ttl_s: int, recent_cap: int):
        self.client = client
        self.journey = journey
        self.tenant = tenant
        self.ttl_s = int(ttl_s)
        self.recent_cap = recent_cap
        self._cas = client.register_script(COMPARE_AND_SET)

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except REDIS_DOWN:
            return False

    def read(self, visitor_id: str, item_ids: Iterable[str] = (), version_key: str | None = None) -> VisitorState:
        """Context, profile, impression counts (and item popularity, catalog version) in one round-trip.

        Unknown visitors get a new context: cold start is normal, not an error.
        """
        item_ids = list(item_ids)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(keys.context_key(self.tenant, visitor_id), "data", "profile")
            pipe.hgetall(keys.caps_key(self.tenant, visitor_id))
            if version_key:
                pipe.get(version_key)
            if item_ids:
                pipe.zmscore(keys.popularity_key(self.tenant), item_ids)
            replies = iter(pipe.execute())
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"context store unreachable: {exc}") from exc
        data, profile = next(replies)
        counts = {k.decode(): int(v) for k, v in next(replies).items()}
        version = next(replies) if version_key else None
        popularity = dict(zip(item_ids, [s or 0.0 for s in next(replies)])) if item_ids else {}
        return VisitorState(
            context=json.loads(data) if data else new_context(visitor_id),
            profile=json.loads(profile) if profile else {},
            impressions=counts,
            popularity=popularity,
            catalog_version=int(version) if version is not None else None,
        )

    def record_impressions(self, visitor_id: str, increments: dict[str, int], stale: list[str]) -> None:
        """Count what a decision showed (the decision's one write), dropping expired day buckets."""
        key = keys.caps_key(self.tenant, visitor_id)
        try:
            pipe = self.client.pipeline(transaction=False)
            for field, amount in increments.items():
                pipe.hincrby(key, field, amount)
            if stale:
                pipe.hdel(key, *stale)
            pipe.expire(key, self.ttl_s)
            pipe.execute()
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"context store unreachable: {exc}") from exc

    def put_profile(self, visitor_id: str, profile: dict) -> None:
        key = keys.context_key(self.tenant, visitor_id)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(key, "profile", json.dumps(profile, separators=(",", ":")))
            pipe.expire(key, self.ttl_s)
            pipe.execute()
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"context store unreachable: {exc}") from exc

    def record(self, events: list[dict], before_commit: Callable[[list[dict]], None] | None = None) -> list[dict]:
        """Fold canonical events into their visitors' contexts; returns the events that were new.

        Duplicates (an event_id seen before, or twice in this batch) are dropped. `before_commit`
        receives the new events before any context changes (the durable log is written there).
        Concurrent writers to one visitor are resolved by compare-and-set and a re-read.
        """
        pending = _group_by_visitor(events)
        accepted: list[dict] = []
        logged: set[str] = set()
        try:
            for attempt in range(MAX_ATTEMPTS):
                if not pending:
                    return accepted
                if attempt:
                    time.sleep(random.uniform(0, 0.002 * attempt))  # jitter: let the other writer finish
                plans = self._plan(pending)
                fresh = [e for _, _, new_events in plans.values() for e in new_events if e["event_id"] not in logged]
                if before_commit and fresh:
                    before_commit(fresh)
                logged.update(e["event_id"] for e in fresh)
                pending = self._commit(plans, pending, accepted)
        except REDIS_DOWN as exc:
            raise StoreUnavailable(
                f"context store unreachable: {exc}", errors={"accepted_before_failure": len(accepted)}
            ) from exc
        raise StoreUnavailable(f"could not write {len(pending)} visitors' contexts after {MAX_ATTEMPTS} attempts")

    def _plan(self, pending: dict[str, list[dict]]) -> dict[str, tuple[str, dict, list[dict]]]:
        pipe = self.client.pipeline(transaction=False)
        for visitor_id, visitor_events in pending.items():
            pipe.hmget(keys.context_key(self.tenant, visitor_id), "data", "ver")
            pipe.smismember(keys.seen_key(self.tenant, visitor_id), [e["event_id"] for e in visitor_events])
        replies = iter(pipe.execute())
        plans = {}
        for visitor_id, visitor_events in pending.items():
            (data, version), seen = next(replies), next(replies)
            context = json.loads(data) if data else new_context(visitor_id)
            new_events = [e for e, was_seen in zip(visitor_events, seen) if not was_seen]
            for event in sorted(new_events, key=lambda e: e["ts"]):
                apply_event(context, event, self.journey, self.recent_cap)
            plans[visitor_id] = ((version or b"0").decode(), context, new_events)
        return plans

    def _commit(self, plans, pending, accepted) -> dict[str, list[dict]]:
        pipe = self.client.pipeline(transaction=False)
        order = []
        for visitor_id, (version, context, new_events) in plans.items():
            if not new_events:
                continue
            order.append(visitor_id)
            self._cas(
                keys=[keys.context_key(self.tenant, visitor_id), keys.seen_key(self.tenant, visitor_id)],
                args=[
                    version,
                    json.dumps(context, separators=(",", ":")),
                    self.ttl_s,
                    *[e["event_id"] for e in new_events],
                ],
                client=pipe,
            )
        replies = pipe.execute() if order else []
        retry = {}
        popular = {}
        for visitor_id, written in zip(order, replies):
            new_events = plans[visitor_id][2]
            if written:
                accepted.extend(new_events)
                for event in new_events:
                    if event.get("item_id"):
                        popular[event["item_id"]] = popular.get(event["item_id"], 0) + 1
            else:
                retry[visitor_id] = pending[visitor_id]
        if popular:
            pipe = self.client.pipeline(transaction=False)
            for item_id, count in popular.items():
                pipe.zincrby(keys.popularity_key(self.tenant), count, item_id)
            pipe.execute()
        return retry


def _group_by_visitor(events: list[dict]) -> dict[str, list[dict]]:
    """Events per profile (user_id if known, else visitor_id); an event_id repeated in the batch counts once."""
    grouped: dict[str, list[dict]] = {}
    ids: set[str] = set()
    for event in events:
        if event["event_id"] in ids:
            continue
        ids.add(event["event_id"])
        grouped.setdefault(profile_key(event), []).append(event)
    return grouped

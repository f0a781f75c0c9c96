"""The visitor context store on Redis: one round-trip to read, compare-and-set to write."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable

import redis

from models.context import apply_event, new_context
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

    def read(self, visitor_id: str, item_ids: Iterable[str] = ()) -> tuple[dict, dict, list]:
        """(context, profile, popularity of item_ids) in one round-trip. Unknown visitors get a new context."""
        item_ids = list(item_ids)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(keys.context_key(self.tenant, visitor_id), "data", "profile")
            if item_ids:
                pipe.zmscore(keys.popularity_key(self.tenant), item_ids)
            replies = pipe.execute()
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"context store unreachable: {exc}") from exc
        data, profile = replies[0]
        context = json.loads(data) if data else new_context(visitor_id)
        popularity = [score or 0.0 for score in replies[1]] if item_ids else []
        return context, (json.loads(profile) if profile else {}), popularity

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
    """Events per visitor, keeping the first of any event_id repeated within the batch."""
    grouped: dict[str, list[dict]] = {}
    ids: set[str] = set()
    for event in events:
        if event["event_id"] in ids:
            continue
        ids.add(event["event_id"])
        grouped.setdefault(event["visitor_id"], []).append(event)
    return grouped

"""The visitor context store on Redis: one round-trip to read, compare-and-set to write."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Collection, Iterable

import redis

from journal.erasures import Erasures, erased_fields, erasure_check
from journal.profile_log import ProfileLog, encode
from models import dedup, keys, popularity
from models.context import apply_event, from_json, profile_key, to_json
from models.errors import Erased, StoreUnavailable
from models.journey import JourneyMap
from service import identity_store, metrics
from service.rate_limits import PendingCheck

# Write a reduced context only if nobody wrote it since we read it; remember the new events' id digests
# in today's bucket (the newest ARGV[7] bytes of it) and drop the buckets that left the dedup window.
COMPARE_AND_SET = """
local version = redis.call('HGET', KEYS[1], 'ver') or '0'
if version ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'ver', tostring(tonumber(version) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[3])
local packed = (redis.call('HGET', KEYS[2], ARGV[4]) or '') .. ARGV[8]
local most = tonumber(ARGV[7])
if #packed > most then packed = string.sub(packed, -most) end
redis.call('HSET', KEYS[2], ARGV[4], packed)
for _, day in ipairs(redis.call('HKEYS', KEYS[2])) do
  if tonumber(day) < tonumber(ARGV[5]) then redis.call('HDEL', KEYS[2], day) end
end
redis.call('EXPIRE', KEYS[2], ARGV[6])
return 1
"""
# The decision's one read, resolving a linked device to its person in the same round trip: the context and
# profile, counters and devices of the person the link names (KEYS[1], service/identity_store.py), else the
# id's own (KEYS[2..4]). The link holds the person's key names (a Lua script cannot make their digests).
RESOLVED_READ = """
local person, ctx, caps, devices = '', KEYS[2], KEYS[3], KEYS[4]
local link = redis.call('HMGET', KEYS[1], 'person', 'ctx', 'caps', 'devices')
if link[1] and link[1] ~= '' then person, ctx, caps, devices = link[1], link[2], link[3], link[4] end
local got = redis.call('HMGET', ctx, 'data', 'profile')
return {person, got[1], got[2], redis.call('HGETALL', caps), redis.call('SMEMBERS', devices)}
"""
# An event batch's read per profile: its context and version, its remembered event-id digests, and the person
# its own device's link names (KEYS[3], given when the profile's id is also a device the batch names; its link
# shares the id's hash tag). One script call instead of three commands: a third of the client's parsing.
EVENTS_READ = """
local got = redis.call('HMGET', KEYS[1], 'data', 'ver')
local person = false
if KEYS[3] then person = redis.call('HGET', KEYS[3], 'person') end
return {got[1], got[2], redis.call('HGETALL', KEYS[2]), person}
"""
MAX_ATTEMPTS = 20
DAY_S = 86_400


@dataclasses.dataclass
class VisitorState:
    """What one read returns about a visitor."""

    context: dict
    profile: dict
    impressions: dict[str, int]
    popularity: dict[str, float]
    catalog_version: int | None = None
    person: str | None = None
    """The person (user id) a linked device's read resolved to: the context, profile and counters are theirs."""
    devices: list[str] = dataclasses.field(default_factory=list)
    """The devices (visitor ids) ever linked to the person read (docs/identity.md)."""


REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


class ContextStore:
    """Per-visitor context (reduced touchpoints), profile, recent event ids and impression counters under one
    hash tag; the decayed popularity of catalog items. Every key has a TTL; docs/state.md lists the bounds."""

    def __init__(
        self,
        client: redis.Redis,
        journey: JourneyMap,
        tenant: str,
        ttl_s: int,
        recent_cap: int,
        dedup_window_s: float = 7 * DAY_S,
        popularity_half_life_s: float = 7 * DAY_S,
        catalog_ids: Callable[[], Collection[str]] = frozenset,
        clock: Callable[[], float] = time.time,
        profile_log: ProfileLog | None = None,
    ):
        self.client = client
        self.journey = journey
        self.tenant = tenant
        self.ttl_s = int(ttl_s)
        self.recent_cap = recent_cap
        self.dedup_window_s = float(dedup_window_s)
        self.popularity_half_life_s = float(popularity_half_life_s)
        self.catalog_ids = catalog_ids
        """The items popularity counts (the current catalog's ids): any other item id is not counted."""
        self.clock = clock
        self.profile_log = profile_log
        """Where put_profile logs each profile before Redis changes (the journal's profile log)."""
        self.erasures: Erasures | None = None
        """Erased ids (journal.erasures): their events are not folded, their profiles refused (service.wiring)."""
        self.on_state_lost: Callable[[], None] | None = None
        """Called when a read finds the journal sentinel gone (Redis lost data): service.recovery sets it."""
        self._cas = client.register_script(COMPARE_AND_SET)
        self._resolved_read = client.register_script(RESOLVED_READ)
        self._events_read = client.register_script(EVENTS_READ)

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except REDIS_DOWN:
            return False

    def read(
        self,
        visitor_id: str,
        item_ids: Iterable[str] = (),
        version_key: str | None = None,
        top_popular: int = 0,
        rate_check: PendingCheck | None = None,
    ) -> VisitorState:
        """Context, profile, impression counts (and item popularity, catalog version) in one round-trip: a
        device linked to a person reads the person's (RESOLVED_READ; `person` says so).

        Popularity is read for `item_ids`, or, with `top_popular`, for the most popular that many items of
        each of the two epochs read (for a pool too large to name; an item outside both reads as absent).
        Unknown visitors get a new context: cold start is normal, not an error. A `rate_check` (the request's
        rate limit) is sent in the same pipeline and settled first: RateLimited before anything is returned.
        """
        item_ids = list(item_ids)
        epoch = popularity.epoch_of(self.clock(), self.popularity_half_life_s)
        try:
            replies = self._read_trip(visitor_id, item_ids, version_key, top_popular, epoch, rate_check)
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"context store unreachable: {exc}") from exc
        if rate_check is not None:
            replies, limited = replies[: -len(rate_check.buckets)], replies[-len(rate_check.buckets) :]
            rate_check.settle(limited)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        replies = iter(replies)
        person, data, profile, flat_counts, devices = next(replies)
        counts = {k.decode(): int(v) for k, v in zip(flat_counts[::2], flat_counts[1::2])}
        version = next(replies) if version_key else None
        scores = {}
        if item_ids:
            current, previous = next(replies), next(replies)
            scores = {i: popularity.combine(c, p) for i, c, p in zip(item_ids, current, previous)}
        elif top_popular:
            current, previous = dict(next(replies)), dict(next(replies))
            scores = {i.decode(): popularity.combine(current.get(i), previous.get(i)) for i in {*current, *previous}}
        if self.on_state_lost is not None and not next(replies):
            self.on_state_lost()
        person = person.decode() or None
        return VisitorState(
            context=from_json(data, person or visitor_id),
            profile=json.loads(profile) if profile else {},
            impressions=counts,
            popularity=scores,
            catalog_version=int(version) if version is not None else None,
            person=person,
            devices=sorted(d.decode() for d in devices),
        )

    def _read_trip(
        self, visitor_id: str, item_ids: list[str], version_key, top_popular: int, epoch: int, rate_check
    ) -> list:
        """The read's one pipeline, errors as replies (a rate check's own are settled by it). The script goes by
        EVALSHA alone (redis-py's Script in a pipeline would ask SCRIPT EXISTS first, a second round trip); after a
        Redis restart forgot it, it is loaded once again."""
        checked: list = []  # the rate check's replies, once it was sent: a retry does not take the tokens twice
        for attempt in range(2):
            pipe = self.client.pipeline(transaction=False)
            names = [keys.link_key(self.tenant, visitor_id), keys.context_key(self.tenant, visitor_id)]
            names += [keys.caps_key(self.tenant, visitor_id), keys.devices_key(self.tenant, visitor_id)]
            pipe.evalsha(self._resolved_read.sha, len(names), *names)
            if version_key:
                pipe.get(version_key)
            if item_ids:
                pipe.zmscore(keys.popularity_key(self.tenant, epoch), item_ids)
                pipe.zmscore(keys.popularity_key(self.tenant, epoch - 1), item_ids)
            elif top_popular:
                pipe.zrevrange(keys.popularity_key(self.tenant, epoch), 0, top_popular - 1, withscores=True)
                pipe.zrevrange(keys.popularity_key(self.tenant, epoch - 1), 0, top_popular - 1, withscores=True)
            if self.on_state_lost is not None:
                pipe.exists(keys.journal_sentinel_key(self.tenant))
            sent = rate_check.queue(pipe) if rate_check is not None and not checked else 0
            replies = metrics.execute(pipe, "context_read", raise_on_error=False)
            if sent:
                replies, checked = replies[:-sent], replies[-sent:]
            if attempt or not isinstance(replies[0], redis.exceptions.NoScriptError):
                return replies + checked
            self._resolved_read.sha = self.client.script_load(RESOLVED_READ)
        raise AssertionError("unreachable")

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
            metrics.execute(pipe, "impressions_write")
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"context store unreachable: {exc}") from exc

    def put_profile(self, visitor_id: str, profile: dict) -> None:
        """Store the visitor's profile, logged durably first: if the log refuses it (DiskUnavailable), Redis
        is left as it was; if Redis then fails (StoreUnavailable), the rebuild restores it from the log."""
        erased = erased_fields(self.erasures, {"visitor_id": visitor_id})
        if erased:
            raise Erased("this visitor id was erased: its profile cannot be stored again", erased)
        if self.profile_log is not None:
            self.profile_log.append(visitor_id, profile, self.clock())
        key = keys.context_key(self.tenant, visitor_id)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(key, "profile", encode(profile))
            pipe.expire(key, self.ttl_s)
            metrics.execute(pipe, "profile_write")
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"context store unreachable: {exc}") from exc

    def record(self, events: list[dict], before_commit: Callable[[list[dict]], None] | None = None) -> list[dict]:
        """Fold canonical events into their visitors' contexts; returns the events that were new.

        An event naming only a device linked to a person is the person's; one naming both ids links them
        first (service.identity_store). The devices' links are read with the first read; only a batch that
        links a device or names a linked one is read once more, grouped by person.
        Duplicates (an event_id seen before, or twice in this batch) are dropped. `before_commit`
        receives the new events before any context changes (the durable log is written there).
        Concurrent writers to one visitor are resolved by compare-and-set and a re-read.
        """
        erased = erasure_check(self.erasures)  # refused at the door (service.ingest): this catches the spool's
        # events, and a request that was checked just before the erasure
        kept = [e for e in events if not erased({"visitor_id": e["visitor_id"], "user_id": e.get("user_id")})]
        accepted: list[dict] = []
        logged: set[str] = set()
        pending = _group_by_visitor(kept, {})
        devices = list({e["visitor_id"]: None for e in kept})  # their links are read with the first plan only
        regrouped_now = False
        try:
            for attempt in range(MAX_ATTEMPTS):
                if not pending:
                    return accepted + _applied_from_our_log(events, logged, accepted)
                if attempt and not regrouped_now:
                    time.sleep(random.uniform(0, 0.002 * attempt))  # jitter: let the other writer finish
                plans, found = self._plan(pending, devices)
                regrouped_now = False
                if devices:
                    devices = []
                    owners, linked = identity_store.link_carried(self, kept, found)
                    regrouped = _group_by_visitor(kept, owners)
                    if linked or list(regrouped) != list(pending):
                        pending, regrouped_now = regrouped, True  # plan again, by person (no jitter)
                        continue
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

    def forget(self, visitor_ids: Iterable[str]) -> int:
        """Delete every key of these visitors (models.keys.visitor_keys), in one round-trip; how many existed."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for visitor_id in visitor_ids:
                pipe.delete(*keys.visitor_keys(self.tenant, visitor_id))
            return sum(metrics.execute(pipe, "erase"))
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"context store unreachable: {exc}; the erasure is recorded, retry it") from exc

    def save_to_disk(self, attempts: int = 50) -> None:
        """SAVE: the server's file on disk no longer holds what was deleted (waits out a background save)."""
        for _ in range(attempts):
            try:
                self.client.save()
                return
            except redis.ResponseError as exc:
                if "in progress" not in str(exc):
                    raise StoreUnavailable(f"the embedded Redis could not save: {exc}; retry the erasure") from exc
                time.sleep(0.1)
            except REDIS_DOWN as exc:
                raise StoreUnavailable(f"context store unreachable: {exc}; the erasure is recorded, retry it") from exc
        raise StoreUnavailable("the embedded Redis stayed busy saving: retry the erasure")

    def _plan(self, pending: dict[str, list[dict]], devices: list[str]) -> tuple[dict, dict[str, str]]:
        """Each profile's context with its new events folded, and the persons `devices` are linked to now."""
        device_set = set(devices)
        tenant, sha = self.tenant, self._events_read.sha
        other_devices = [d for d in devices if d not in pending]

        def build(pipe) -> None:
            for visitor_id in pending:
                names = keys.event_keys(tenant, visitor_id)
                if visitor_id not in device_set:
                    names = names[:2]
                pipe.evalsha(sha, len(names), *names)
            for device in other_devices:
                pipe.hget(keys.link_key(tenant, device), "person")
            if self.on_state_lost is not None:
                pipe.exists(keys.journal_sentinel_key(tenant))

        replies = iter(self._execute_scripts(build, "events_read"))
        now = self.clock()
        plans, found = {}, {}
        for visitor_id, visitor_events in pending.items():
            data, version, flat_buckets, person = next(replies)
            if person:
                found[visitor_id] = person.decode()
            buckets = dict(zip(flat_buckets[::2], flat_buckets[1::2]))
            seen = dedup.remembered(buckets, now, self.dedup_window_s)
            context = from_json(data, visitor_id)
            new_events = [e for e in visitor_events if dedup.digest(e["event_id"]) not in seen]
            for event in sorted(new_events, key=lambda e: e["ts"]):
                apply_event(context, event, self.journey, self.recent_cap)
            plans[visitor_id] = ((version or b"0").decode(), context, new_events)
        for device in other_devices:
            if person := next(replies):
                found[device] = person.decode()
        if self.on_state_lost is not None and not next(replies):
            self.on_state_lost()
        return plans, {device: found[device] for device in devices if device in found}

    def _commit(self, plans, pending, accepted) -> dict[str, list[dict]]:
        now = self.clock()
        order = [visitor_id for visitor_id, (_, _, new_events) in plans.items() if new_events]
        day, first_day = dedup.day_of(now), dedup.first_kept_day(now, self.dedup_window_s)
        dedup_ttl_s, most = dedup.ttl_s(self.dedup_window_s), dedup.MAX_IDS_PER_DAY * dedup.DIGEST_BYTES
        tenant, sha = self.tenant, self._cas.sha

        def build(pipe) -> None:
            for visitor_id in order:
                version, context, new_events = plans[visitor_id]
                context_key, dedup_key, _ = keys.event_keys(tenant, visitor_id)
                digests = dedup.pack(e["event_id"] for e in new_events)
                args = (version, to_json(context), self.ttl_s, day, first_day, dedup_ttl_s, most, digests)
                pipe.evalsha(sha, 2, context_key, dedup_key, *args)

        replies = self._execute_scripts(build, "events_write") if order else []
        retry = {}
        written_events = []
        for visitor_id, written in zip(order, replies):
            if written:
                accepted.extend(plans[visitor_id][2])
                written_events.extend(plans[visitor_id][2])
            else:
                retry[visitor_id] = pending[visitor_id]
        self._count_popularity(written_events, now)
        return retry

    def _execute_scripts(self, build: Callable, operation: str) -> list:
        """One pipeline that `build` fills, its scripts called by EVALSHA alone (redis-py's Script in a pipeline
        asks SCRIPT EXISTS first: a round trip more). After a Redis restart forgot them, the scripts are loaded
        and the pipeline sent once more: a compare-and-set that did run then fails its version and is re-read."""
        for attempt in range(2):
            pipe = self.client.pipeline(transaction=False)
            build(pipe)
            try:
                return metrics.execute(pipe, operation)
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                for script in (self._events_read, self._cas):
                    script.sha = self.client.script_load(script.script)
        raise AssertionError("unreachable")

    def _count_popularity(self, events: list[dict], now: float) -> None:
        """Add each catalog item's touchpoint weights, decayed from the event's time (never later than now)."""
        weights = popularity.weights(events, self.catalog_ids(), now, self.popularity_half_life_s)
        if not weights:
            return
        pipe = self.client.pipeline(transaction=False)
        for (epoch, item_id), weight in weights.items():
            pipe.zincrby(keys.popularity_key(self.tenant, epoch), weight, item_id)
        for epoch in {epoch for epoch, _ in weights}:
            pipe.expire(keys.popularity_key(self.tenant, epoch), popularity.ttl_s(self.popularity_half_life_s))
        metrics.execute(pipe, "popularity_write")


def _applied_from_our_log(events: list[dict], logged: set[str], accepted: list[dict]) -> list[dict]:
    """Events this call journaled that a retry then found already seen: a rebuild replaying the journal
    applied them from our own log line between our read and our write. They were accepted here, once."""
    done = {e["event_id"] for e in accepted}
    late = {e["event_id"]: e for e in events if e["event_id"] in logged and e["event_id"] not in done}
    return list(late.values())


def _group_by_visitor(events: list[dict], owners: dict[str, str]) -> dict[str, list[dict]]:
    """Events per person key (user_id if known, else the device's person in `owners`, else visitor_id: the
    rule of journal/identity.py); an event_id repeated in the batch counts once."""
    grouped: dict[str, list[dict]] = {}
    ids: set[str] = set()
    for event in events:
        if event["event_id"] in ids:
            continue
        ids.add(event["event_id"])
        key = event.get("user_id") or owners.get(event["visitor_id"]) or profile_key(event)
        grouped.setdefault(key, []).append(event)
    return grouped

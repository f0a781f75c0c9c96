"""Device -> person links in Redis: who a visitor id's touchpoints and decisions belong to now.

A device's `link` key (models.keys.link_key) names its person and the person's keys, so the decision's one
read resolves it in the same round trip (service.store.RESOLVED_READ). Linking a device for the first time
merges its anonymous state into the person's, once (models.context.merge_contexts; its dedup digests and
impression counters too) and empties the device's; a later link to another person (a shared device) only
moves the device; an unlink makes it anonymous again. The rule is journal/identity.py's, which the rebuild
replays; docs/identity.md tells it in users' terms.
"""

from __future__ import annotations

from journal.identity import MAX_DEVICES
from models import dedup, keys
from models.context import from_json, merge_contexts, to_json
from models.errors import StoreUnavailable
from service import metrics

MAX_ATTEMPTS = 20

# Link KEYS[1] (the device's link) to ARGV[1]. The first link merges: if neither context was written since it
# was read (ARGV[2], ARGV[3]: versions), the person's context becomes ARGV[4] (the merge, '' if the device had
# none) and the device's goes; the device's dedup digests and impression counters join the person's.
# 2: linked to that person already; 0: a context changed meanwhile (read again); 1: done.
LINK = """
local link = redis.call('HMGET', KEYS[1], 'person', 'first')
if link[1] == ARGV[1] then return 2 end
local first = link[2]
if not first then
  if (redis.call('HGET', KEYS[2], 'ver') or '0') ~= ARGV[2] then return 0 end
  if (redis.call('HGET', KEYS[5], 'ver') or '0') ~= ARGV[3] then return 0 end
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[5], 'data', ARGV[4], 'ver', tostring(tonumber(ARGV[3]) + 1))
    redis.call('EXPIRE', KEYS[5], ARGV[5])
    redis.call('HDEL', KEYS[2], 'data')
    redis.call('HSET', KEYS[2], 'ver', tostring(tonumber(ARGV[2]) + 1))
  end
  local most = tonumber(ARGV[6])
  local buckets = redis.call('HGETALL', KEYS[3])
  for i = 1, #buckets, 2 do
    local packed = (redis.call('HGET', KEYS[6], buckets[i]) or '') .. buckets[i + 1]
    if #packed > most then packed = string.sub(packed, -most) end
    redis.call('HSET', KEYS[6], buckets[i], packed)
  end
  if #buckets > 0 then
    redis.call('EXPIRE', KEYS[6], ARGV[9])
    redis.call('DEL', KEYS[3])
  end
  local counts = redis.call('HGETALL', KEYS[4])
  for i = 1, #counts, 2 do redis.call('HINCRBY', KEYS[7], counts[i], counts[i + 1]) end
  if #counts > 0 then
    redis.call('EXPIRE', KEYS[7], ARGV[5])
    redis.call('DEL', KEYS[4])
  end
  first = ARGV[1]
end
redis.call('HSET', KEYS[1], 'person', ARGV[1], 'first', first, 'ctx', KEYS[5], 'caps', KEYS[7], 'devices', KEYS[8])
redis.call('EXPIRE', KEYS[1], ARGV[5])
if redis.call('SISMEMBER', KEYS[8], ARGV[8]) == 1 or redis.call('SCARD', KEYS[8]) < tonumber(ARGV[7]) then
  redis.call('SADD', KEYS[8], ARGV[8])
end
redis.call('EXPIRE', KEYS[8], ARGV[5])
return 1
"""
# Make KEYS[1]'s device anonymous if it belongs to ARGV[1] now (1), else change nothing (0).
UNLINK = """
if redis.call('HGET', KEYS[1], 'person') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'person', '')
return 1
"""


def owners(store, visitor_ids) -> dict[str, str]:
    """Each device's person now (absent: anonymous), in one round trip."""
    visitor_ids = list(visitor_ids)
    if not visitor_ids:
        return {}
    pipe = store.client.pipeline(transaction=False)
    for visitor_id in visitor_ids:
        pipe.hget(keys.link_key(store.tenant, visitor_id), "person")
    replies = metrics.execute(pipe, "links_read")
    return {v: p.decode() for v, p in zip(visitor_ids, replies) if p}


def link(store, visitor_id: str, user_id: str) -> str:
    """Link the device to the person: "merged" (its first link: its anonymous state joined the person's),
    "moved" (linked before, to someone: nothing merged), or "unchanged" (it is the person's already)."""
    tenant = store.tenant
    device_ctx, person_ctx = keys.context_key(tenant, visitor_id), keys.context_key(tenant, user_id)
    names = [
        keys.link_key(tenant, visitor_id),
        device_ctx,
        keys.dedup_key(tenant, visitor_id),
        keys.caps_key(tenant, visitor_id),
        person_ctx,
        keys.dedup_key(tenant, user_id),
        keys.caps_key(tenant, user_id),
        keys.devices_key(tenant, user_id),
    ]
    script = store.client.register_script(LINK)
    for _ in range(MAX_ATTEMPTS):
        pipe = store.client.pipeline(transaction=False)
        pipe.hmget(names[0], "person", "first")
        pipe.hmget(device_ctx, "data", "ver")
        pipe.hmget(person_ctx, "data", "ver")
        (person, first), (device_data, device_ver), (person_data, person_ver) = metrics.execute(pipe, "link_read")
        if person is not None and person.decode() == user_id:
            return "unchanged"
        merged = ""
        if first is None and device_data:
            person_context = from_json(person_data, user_id)
            device_context = from_json(device_data, visitor_id)
            merged = to_json(merge_contexts(person_context, device_context, store.journey, store.recent_cap))
        args = [
            user_id,
            (device_ver or b"0").decode(),
            (person_ver or b"0").decode(),
            merged,
            store.ttl_s,
            dedup.MAX_IDS_PER_DAY * dedup.DIGEST_BYTES,
            MAX_DEVICES,
            visitor_id,
            dedup.ttl_s(store.dedup_window_s),
        ]
        done = script(keys=names, args=args)
        if done == 2:
            return "unchanged"
        if done == 1:
            return "merged" if first is None else "moved"
    raise StoreUnavailable(f"could not link the device after {MAX_ATTEMPTS} attempts: retry")


def unlink(store, visitor_id: str, user_id: str) -> bool:
    """Make the device anonymous again if it belongs to this person now; whether it did."""
    script = store.client.register_script(UNLINK)
    return bool(script(keys=[keys.link_key(store.tenant, visitor_id)], args=[user_id]))


def link_carried(store, events: list[dict], found: dict[str, str]) -> tuple[dict[str, str], bool]:
    """Link each device an event names together with a user id, if it is not that person's now (`found`: each
    device's person, absent if anonymous), in time order; each device's person after, and whether any linked."""
    found, linked = dict(found), False
    for event in sorted(events, key=lambda e: e["ts"]):
        device, person = event["visitor_id"], event.get("user_id")
        if person and person != device and found.get(device) != person:
            link(store, device, person)
            found[device], linked = person, True
    return found, linked

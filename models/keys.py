"""Redis key builders, the only place key names are made. Pure functions, tested byte for byte.

Visitor ids are never put into keys as they are: a digest forms the Redis Cluster hash tag,
so every key of one visitor lands on one slot and no id can inject a pattern or a brace.
"""

from __future__ import annotations

import hashlib


def visitor_tag(visitor_id: str) -> str:
    return hashlib.blake2b(visitor_id.encode("utf-8"), digest_size=10).hexdigest()


def key_tag(key_id: str) -> str:
    """An API key id as it may appear in a key: a digest, like a visitor's (`visitor_tag`)."""
    return hashlib.blake2b(key_id.encode("utf-8"), digest_size=10).hexdigest()


def context_key(tenant: str, visitor_id: str) -> str:
    """Hash with the reduced context (`data`), its version (`ver`) and the profile (`profile`)."""
    return f"wf:{tenant}:{{{visitor_tag(visitor_id)}}}:ctx"


def dedup_key(tenant: str, visitor_id: str) -> str:
    """Hash: accept day -> the 8-byte digests of the event ids accepted that day (models.dedup), to drop
    duplicates within the dedup window. (It replaces the unbounded `:seen` set, which expires by its TTL.)"""
    return f"wf:{tenant}:{{{visitor_tag(visitor_id)}}}:dedup"


VISITOR_KEY_KINDS = ("ctx", "dedup", "caps", "seen", "rate", "link", "devices")
"""The per-visitor keys' suffixes (`seen`: the legacy set, no longer written, maybe not yet expired; `rate`: the
visitor's token bucket, service/rate_limits.py; `link`, `devices`: identity stitching, service/identity.py)."""


def visitor_keys(tenant: str, visitor_id: str) -> list[str]:
    """Every key that holds one visitor's state: what an erasure deletes. A new per-visitor key joins here."""
    return tag_keys(tenant, visitor_tag(visitor_id))


def tag_keys(tenant: str, tag: str) -> list[str]:
    """visitor_keys by the visitor's tag (what a scan of context keys finds)."""
    return [f"wf:{tenant}:{{{tag}}}:{kind}" for kind in VISITOR_KEY_KINDS]


def context_key_pattern(tenant: str) -> str:
    """SCAN MATCH pattern of every context key of the tenant (`{` and `}` are literal in Redis patterns)."""
    return f"wf:{tenant}:{{*}}:ctx"


def link_key_pattern(tenant: str) -> str:
    """SCAN MATCH pattern of every device link of the tenant (`link_key`)."""
    return f"wf:{tenant}:{{*}}:link"


def tag_of(key: str) -> str:
    """The visitor tag of a per-visitor key."""
    return key[key.index("{") + 1 : key.index("}")]


def popularity_key(tenant: str, epoch: int) -> str:
    """Sorted set: catalog item id -> decayed touchpoint weight in one epoch (models.popularity)."""
    return f"wf:{tenant}:popularity:{int(epoch)}"


def link_key(tenant: str, visitor_id: str) -> str:
    """Hash of a device (visitor id): `person` (its person's user id now, '' after an unlink), `first` (the first
    person it was linked to: its anonymous history was merged there, once), `ctx` and `caps` (the person's keys)."""
    return f"wf:{tenant}:{{{visitor_tag(visitor_id)}}}:link"


def devices_key(tenant: str, user_id: str) -> str:
    """Set of a person's devices: every visitor id ever linked to the user id (bounded, service/identity.py)."""
    return f"wf:{tenant}:{{{visitor_tag(user_id)}}}:devices"


def caps_key(tenant: str, visitor_id: str) -> str:
    """Hash of impression counts: `<day>|i|<item>`, `<day>|p|<placement>`, `<day>|o|<channel>` and `c|<channel>`."""
    return f"wf:{tenant}:{{{visitor_tag(visitor_id)}}}:caps"


def catalog_items_key(tenant: str) -> str:
    return f"wf:{tenant}:catalog:items"


def catalog_placements_key(tenant: str) -> str:
    return f"wf:{tenant}:catalog:placements"


def catalog_version_key(tenant: str) -> str:
    """Incremented on every catalog change, so every worker knows to reload."""
    return f"wf:{tenant}:catalog:version"


def catalog_seeded_key(tenant: str) -> str:
    return f"wf:{tenant}:catalog:seeded"


def journal_sentinel_key(tenant: str) -> str:
    """Present while Redis holds the journal's reduction; its absence means Redis lost data: rebuild."""
    return f"wf:{tenant}:journal:sentinel"


def rebuild_lock_key(tenant: str) -> str:
    """Taken with SET NX EX by the one worker that rebuilds Redis from the journal."""
    return f"wf:{tenant}:journal:rebuild-lock"


def key_rate_key(tenant: str, key_id: str) -> str:
    """Hash: the API key's token bucket (`t` tokens, `ts` last refill, Redis server time); service.rate_limits."""
    return f"wf:{tenant}:rate:key:{key_tag(key_id)}"


def visitor_rate_key(tenant: str, visitor_id: str) -> str:
    """Hash: the visitor's token bucket, in the visitor's hash slot beside its context."""
    return f"wf:{tenant}:{{{visitor_tag(visitor_id)}}}:rate"


def event_keys(tenant: str, visitor_id: str) -> tuple[str, str, str]:
    """(context_key, dedup_key, link_key) of one visitor, its tag digested once: an event batch's per-visitor keys."""
    prefix = f"wf:{tenant}:{{{visitor_tag(visitor_id)}}}:"
    return prefix + "ctx", prefix + "dedup", prefix + "link"

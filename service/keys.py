"""Redis key builders, the only place key names are made. Pure functions, tested byte for byte.

Visitor ids are never put into keys as they are: a digest forms the Redis Cluster hash tag,
so every key of one visitor lands on one slot and no id can inject a pattern or a brace.
"""

from __future__ import annotations

import hashlib


def visitor_tag(visitor_id: str) -> str:
    return hashlib.blake2b(visitor_id.encode("utf-8"), digest_size=10).hexdigest()


def context_key(tenant: str, visitor_id: str) -> str:
    """Hash with the reduced context (`data`), its version (`ver`) and the profile (`profile`)."""
    return f"wf:{tenant}:{{{visitor_tag(visitor_id)}}}:ctx"


def seen_key(tenant: str, visitor_id: str) -> str:
    """Set of the visitor's accepted event ids, to drop duplicates."""
    return f"wf:{tenant}:{{{visitor_tag(visitor_id)}}}:seen"


def popularity_key(tenant: str) -> str:
    """Sorted set: item id -> touchpoints with it, for the popularity fallback."""
    return f"wf:{tenant}:popularity"


def caps_key(tenant: str, visitor_id: str) -> str:
    """Hash of impression counts: `<day>|i|<item>`, `<day>|p|<placement>` and `c|<channel>`."""
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

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

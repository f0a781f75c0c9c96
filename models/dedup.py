"""Dropping duplicate events within a bounded window: 8-byte digests of event ids, bucketed by accept day.

A visitor's dedup state is one Redis hash: accept day -> the digests of the ids accepted that day,
packed end to end. Days older than the window are deleted on the next write and the key expires a
day after the window, so the state is bounded by the events accepted in the window (8 bytes each),
and by MAX_IDS_PER_DAY per day whatever the rate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

DIGEST_BYTES = 8
"""Collision odds for n ids of one visitor are about n^2 / 2^65: 3e-12 at 10,000 ids."""
DAY_S = 86_400
MAX_IDS_PER_DAY = 512
"""Ids remembered per visitor per accept day (4 KB); past it the oldest of the day are forgotten.
A person does not send a thousand touchpoints a day; a bot or a bulk import that does is still bounded."""


def digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


def pack(event_ids) -> bytes:
    return b"".join(digest(i) for i in event_ids)


def day_of(ts: float) -> int:
    return int(ts // DAY_S)


def first_kept_day(now: float, window_s: float) -> int:
    """The oldest accept day still remembered: an id is a duplicate for at least the window, at most a day more."""
    return day_of(now - window_s)


def remembered(buckets: Mapping, now: float, window_s: float) -> set[bytes]:
    """The digests of the ids accepted within the window, from the hash's fields (day -> packed digests)."""
    keep_from = first_kept_day(now, window_s)
    out: set[bytes] = set()
    for day, packed in buckets.items():
        if int(day) >= keep_from:
            out.update(packed[i : i + DIGEST_BYTES] for i in range(0, len(packed), DIGEST_BYTES))
    return out


def ttl_s(window_s: float) -> int:
    """The key's TTL: the window plus the day of bucketing."""
    return int(window_s) + DAY_S

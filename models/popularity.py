"""Item popularity that halves in weight every half-life, kept as growing weights within an epoch.

A touchpoint at time t adds 2^((t - s) / half_life) to its item, s being the start of t's epoch.
Scores of one epoch are so comparable with each other without ever being rescaled; an epoch lasts
EPOCH_HALF_LIVES half-lives, so no weight exceeds 2^64, and a reader adds the previous epoch's
scores times 2^-EPOCH_HALF_LIVES (the same events weighed from the current epoch's start). Readers
normalise (share of the candidates' total), so only the ratios matter.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable

EPOCH_HALF_LIVES = 64


def epoch_length_s(half_life_s: float) -> float:
    return EPOCH_HALF_LIVES * half_life_s


def epoch_of(t: float, half_life_s: float) -> int:
    return math.floor(t / epoch_length_s(half_life_s))


def weight(t: float, half_life_s: float) -> float:
    """What one touchpoint at `t` adds to its item's score in the epoch of `t`."""
    start = epoch_of(t, half_life_s) * epoch_length_s(half_life_s)
    return 2.0 ** ((t - start) / half_life_s)


def combine(current: float | None, previous: float | None) -> float:
    """An item's score in the current epoch's scale, from its scores in the current and previous epochs."""
    return (current or 0.0) + (previous or 0.0) * 2.0**-EPOCH_HALF_LIVES


def ttl_s(half_life_s: float) -> int:
    """An epoch's key is read during its epoch and the next: it expires after two epochs."""
    return int(2 * epoch_length_s(half_life_s)) + 86_400


def weights(
    events: Iterable[dict], catalog_ids: Collection[str], now: float, half_life_s: float
) -> dict[tuple[int, str], float]:
    """(epoch, item) -> weight to add for the events about catalog items; epochs no reader looks at are skipped."""
    current = epoch_of(now, half_life_s)
    out: dict[tuple[int, str], float] = {}
    for event in events:
        item_id = event.get("item_id")
        if not item_id or item_id not in catalog_ids:
            continue
        t = min(event["ts"], now)
        epoch = epoch_of(t, half_life_s)
        if epoch >= current - 1:
            out[epoch, item_id] = out.get((epoch, item_id), 0.0) + weight(t, half_life_s)
    return out

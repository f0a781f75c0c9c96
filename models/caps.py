"""Frequency caps: impression counters per visitor, per day bucket, and what they allow.

Pure: the service counts a decision's impressions with `impression_increments`, and the rebuild
from the decision log (journal.rebuild) counts with the same function, so both write the same fields."""

from __future__ import annotations

from models.catalog import CAP_WINDOWS

DAY_S = 86_400
KEEP_DAYS = 7


def day_of(ts: float) -> int:
    return int(ts // DAY_S)


def item_field(day: int, item_id: str) -> str:
    return f"{day}|i|{item_id}"


def placement_field(day: int, placement_id: str) -> str:
    return f"{day}|p|{placement_id}"


def channel_field(channel: str) -> str:
    """Items shown on a channel, all time: the impressions of the visitor's channel preference."""
    return f"c|{channel}"


def contact_field(day: int, channel: str) -> str:
    """Messages sent to the person on an outbound channel that day (the contact policy, models.channel_choice)."""
    return f"{day}|o|{channel}"


def impression_increments(
    day: int, item_ids: list[str], placement_id: str, channel: str | None, contact: str | None = None
) -> dict[str, int]:
    """The counter increments of one decision that showed `item_ids` (the decision's one write); `contact`:
    the outbound channel the decision chose, counted once (a message, whatever its number of items)."""
    increments = {item_field(day, i): 1 for i in item_ids}
    increments[placement_field(day, placement_id)] = 1
    if channel:
        increments[channel_field(channel)] = len(item_ids)  # impressions: items, not decisions
    if contact:
        increments[contact_field(day, contact)] = 1
    return increments


def impressions(counts: dict[str, int], kind: str, name: str, today: int, days: int) -> int:
    """Impressions of an item (`i`) or placement (`p`), or messages on a channel (`o`), over the last `days`
    day buckets."""
    return sum(counts.get(f"{day}|{kind}|{name}", 0) for day in range(today - days + 1, today + 1))


def item_impressions(counts: dict[str, int], today: int, days: int) -> dict[str, int]:
    """`impressions(counts, "i", item, today, days)` of every item at once: one pass over the counters."""
    first = today - days + 1
    out: dict[str, int] = {}
    for field, n in counts.items():
        day, _, rest = field.partition("|")
        if rest[:2] == "i|" and day.isdigit() and first <= int(day) <= today:
            name = rest[2:]
            out[name] = out.get(name, 0) + n
    return out


def cap_reached(caps: dict, counts: dict[str, int], kind: str, name: str, today: int) -> str | None:
    """The first cap of `caps` that is reached, as text, or None."""
    for window, limit in caps.items():
        seen = impressions(counts, kind, name, today, CAP_WINDOWS[window])
        if seen >= limit:
            return f"{window}={limit} reached ({seen} shown)"
    return None


def stale_fields(counts: dict[str, int], today: int) -> list[str]:
    """Day-bucket fields older than the longest cap window: deleted on the next write."""
    out = []
    for field in counts:
        day, _, rest = field.partition("|")
        if rest and day.isdigit() and int(day) <= today - KEEP_DAYS:
            out.append(field)
    return out


def channel_impressions(counts: dict[str, int]) -> dict[str, int]:
    return {field[2:]: n for field, n in counts.items() if field.startswith("c|")}

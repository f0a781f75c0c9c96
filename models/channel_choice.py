"""The next best channel: which of a placement's channels may reach this person now, and which to use.

Pure (no Redis, no model): serving (service.decide) and the batch job (training batch-decide) both call it.
A channel is permitted when the person consents to it, it is not silenced by quiet hours in the person's time
zone, and the contact policy (at most N messages per person per channel per week) leaves room; of the permitted
channels the one whose best item scores highest is chosen (docs/channels.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Collection, Mapping

import numpy as np

from models import caps
from models.catalog import CHOOSE, minutes_of  # noqa: F401 (CHOOSE re-exported for the batch job)

DEFAULT_QUIET_CHANNELS = ("push", "sms", "call_center")
"""The interruptive channels quiet hours silence when a placement's `quiet_hours` names none."""
TIMEZONE_ATTRIBUTE = "timezone"
"""The profile attribute holding the person's IANA time zone (e.g. Europe/Berlin); absent means UTC."""


def timezone_problem(name: object) -> str | None:
    """Why `name` is not an IANA time zone this machine knows, or None when it is."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return "must be an IANA time zone name such as Europe/Berlin"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin"
    return None


def person_zone(profile: Mapping) -> tuple[dt.tzinfo, str | None]:
    """The person's time zone from the profile's `attributes.timezone`, and a note when it is not usable
    (a profile stored before the check, or written by an import): then UTC."""
    attributes = profile.get("attributes") if isinstance(profile.get("attributes"), Mapping) else {}
    name = attributes.get(TIMEZONE_ATTRIBUTE)
    if name is None:
        return dt.UTC, None
    problem = timezone_problem(name)
    if problem:
        return dt.UTC, f"profile timezone ignored ({problem}): UTC"
    return zoneinfo.ZoneInfo(name), None


def in_quiet_hours(quiet_hours: Mapping | None, now: float, zone: dt.tzinfo) -> bool:
    """Whether epoch second `now` falls within `quiet_hours` ({start, end} as HH:MM) in `zone`; a window whose
    end is before its start runs over midnight (21:00 to 08:00); start == end is never quiet."""
    if not quiet_hours:
        return False
    local = dt.datetime.fromtimestamp(now, zone)
    minute = local.hour * 60 + local.minute
    start, end = minutes_of(quiet_hours["start"]), minutes_of(quiet_hours["end"])
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def quiet_channels(quiet_hours: Mapping | None, now: float, zone: dt.tzinfo) -> frozenset[str]:
    """The channels quiet hours silence at `now` in `zone` (none outside them)."""
    if not in_quiet_hours(quiet_hours, now, zone):
        return frozenset()
    return frozenset(quiet_hours.get("channels") or DEFAULT_QUIET_CHANNELS)


def channel_consent(profile: Mapping, channels: Collection[str], require_consent: bool) -> dict[str, bool]:
    """Per channel, whether the person may be reached there: the profile's `consent.<channel>` (false after an
    unsubscribe), and where it is absent, yes unless the rules require consent (rules.yaml require_consent)."""
    consent = profile.get("consent") if isinstance(profile.get("consent"), Mapping) else {}
    return {c: consent[c] is True if c in consent else not require_consent for c in channels}


def contact_counts(counts: Mapping[str, int], channels: Collection[str], now: float) -> dict[str, int]:
    """Messages sent to the person per channel over the last 7 days, from the impression counters."""
    today = caps.day_of(now)
    return {c: caps.impressions(counts, "o", c, today, 7) for c in channels}


def permitted(
    allowed: Collection[str],
    consent: Mapping[str, bool],
    quiet: Collection[str],
    contact_counts: Mapping[str, int],
    limit: int,
) -> tuple[list[str], dict[str, str]]:
    """The allowed channels that may be used now, in the placement's order, and why each other one may not."""
    usable, refused = [], {}
    for channel in allowed:
        sent = contact_counts.get(channel, 0)
        if not consent.get(channel, False):
            refused[channel] = "no consent"
        elif channel in quiet:
            refused[channel] = "quiet hours"
        elif sent >= limit:
            refused[channel] = f"contact policy: {sent} of {limit} messages this week"
        else:
            usable.append(channel)
    return usable, refused


def best_scores(scores_by_channel: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Each channel's best item score (-inf for a channel with no item that may be sent there)."""
    out = {}
    for channel, scores in scores_by_channel.items():
        values = np.asarray(scores, dtype=float)
        values = values[np.isfinite(values)]
        out[channel] = float(values.max()) if len(values) else -np.inf
    return out


def choose_channel(
    scores_by_channel: Mapping[str, np.ndarray],
    allowed: Collection[str],
    consent: Mapping[str, bool],
    quiet: Collection[str],
    contact_counts: Mapping[str, int],
    limit: int = 3,
) -> tuple[str | None, str]:
    """The channel to use (greedy: the one whose best item scores highest; ties go to the earlier allowed
    channel) and why, or (None, why not) when no allowed channel is permitted or none has an item."""
    usable, refused = permitted(allowed, consent, quiet, contact_counts, limit)
    if not usable:
        why = "; ".join(f"{c}: {reason}" for c, reason in refused.items()) or "no channel allowed"
        return None, f"no channel may be used ({why})"
    best = best_scores({c: scores_by_channel[c] for c in usable if c in scores_by_channel})
    ranked = [c for c in usable if c in best and np.isfinite(best[c])]
    if not ranked:
        return None, "no item may be sent on a permitted channel"
    chosen = max(ranked, key=lambda c: best[c])  # max keeps the first of equal scores
    return chosen, f"best item scores {best[chosen]:.4f} on {chosen}"


def channel_probabilities(best: Mapping[str, float], exploration: Mapping) -> dict[str, float]:
    """The probability the policy uses each permitted channel (`best`: its best item score, finite): greedy 1
    for the best; with `epsilon`, (1 - eps) to the best and eps spread evenly; with `temperature`, a softmax
    over the best scores relative to the highest, as models.policy does for items."""
    names = list(best)
    values = np.asarray([best[c] for c in names], dtype=float)
    top = int(np.argmax(values))
    if "temperature" in exploration and len(names) > 1:
        scale = max(float(np.max(np.abs(values))), 1e-12)
        logits = (values / scale) / exploration["temperature"]
        weights = np.exp(logits - logits.max())
        probabilities = weights / weights.sum()
    else:
        epsilon = float(exploration.get("epsilon", 0.0)) if len(names) > 1 else 0.0
        probabilities = np.full(len(names), epsilon / len(names))
        probabilities[top] += 1.0 - epsilon
    return {c: float(p) for c, p in zip(names, probabilities)}


@dataclasses.dataclass(frozen=True)
class ChannelChoice:
    """What a decision chose: the channel (None: nothing may be sent), the policy's probability of it, why,
    and per allowed channel its best score or the reason it could not be used (for explain)."""

    channel: str | None
    propensity: float
    reason: str
    by_channel: dict


def decide_channel(
    scores_by_channel: Mapping[str, np.ndarray],
    allowed: Collection[str],
    consent: Mapping[str, bool],
    quiet: Collection[str],
    contact_counts: Mapping[str, int],
    limit: int,
    exploration: Mapping,
    rng: np.random.Generator,
) -> ChannelChoice:
    """`choose_channel` with the placement's exploration: the greedy channel, or with exploration a draw over
    the permitted channels that have an item, with its probability (logged, for off-policy evaluation)."""
    greedy, reason = choose_channel(scores_by_channel, allowed, consent, quiet, contact_counts, limit)
    usable, refused = permitted(allowed, consent, quiet, contact_counts, limit)
    best = best_scores({c: scores_by_channel[c] for c in usable if c in scores_by_channel})
    by_channel = {c: {"refused": why} for c, why in refused.items()}
    by_channel.update({c: {"best_score": round(s, 6) if np.isfinite(s) else None} for c, s in best.items()})
    if greedy is None:
        return ChannelChoice(None, 1.0, reason, by_channel)
    open_ = {c: s for c, s in best.items() if np.isfinite(s)}
    probabilities = channel_probabilities(open_, exploration)
    names = list(probabilities)
    chosen = names[int(rng.choice(len(names), p=list(probabilities.values())))] if len(names) > 1 else greedy
    if chosen != greedy:
        reason = f"exploration: {chosen} instead of {greedy} (best item scores {best[greedy]:.4f} there)"
    return ChannelChoice(chosen, probabilities[chosen], reason, by_channel)

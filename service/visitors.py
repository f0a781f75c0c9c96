"""The visitor view: what Wayfinder knows of one visitor, from their context and profile."""

from __future__ import annotations

import datetime as dt
import json

from models.errors import TooLarge
from models.journey import JourneyMap
from service.caps import channel_impressions
from service.store import ContextStore, VisitorState


def replace_profile(store: ContextStore, visitor_id: str, profile: dict, max_bytes: int) -> dict:
    """Store `profile` in place of the visitor's, keeping the stored consent where the body does not set it.

    Consent merges per key, so a partial update (a CRM sync sending interests) cannot wipe an opt-out;
    withdrawing consent is sending the key with false. The result must fit in max_bytes as compact JSON
    (413 otherwise): the profile is read on every decision.
    """
    stored_consent = store.read(visitor_id).profile.get("consent") or {}
    merged = {**profile, "consent": {**stored_consent, **profile.get("consent", {})}}
    if not merged["consent"]:
        del merged["consent"]
    size = len(json.dumps(merged, separators=(",", ":")).encode())
    if size > max_bytes:
        raise TooLarge(
            f"the profile is {size} bytes as compact JSON; at most {max_bytes} (settings.max_profile_bytes)",
            {"profile": [f"larger than {max_bytes} bytes as compact JSON"]},
        )
    store.put_profile(visitor_id, merged)
    return merged


def visitor_view(state: VisitorState, journey: JourneyMap, now: float, asked: str | None = None) -> dict:
    """What is known of `asked` (a device or a person): a device linked to a person answers for the person
    (`person` names them), with the person's devices (docs/identity.md)."""
    context, profile = state.context, state.profile
    last_ts = context["last_ts"]
    return {
        "visitor_id": asked or context["visitor_id"],
        "person": state.person or (asked or context["visitor_id"]),
        "devices": state.devices,
        "user_id": context["user_id"],
        "known": context["n_events"] > 0 or bool(profile),
        "stage": context["stage"],
        "stage_since": _iso(context["stage_since"]),
        "max_stage": context["max_stage"],
        "lapsed": last_ts is not None and now - last_ts > journey.lapse_after_days * 86_400,
        "first_seen": _iso(context["first_ts"]),
        "last_seen": _iso(last_ts),
        "events": context["n_events"],
        "counts": {
            "stage": context["stage_counts"],
            "channel": context["channel_counts"],
            "type": context["type_counts"],
        },
        "channel_preference": channel_preference(context, channel_impressions(state.impressions)),
        "recent": context["recent"],
        "profile": profile,
    }


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def channel_preference(context: dict, impressions: dict[str, int]) -> dict:
    """Per channel: responses (outcome events), impressions (items shown there) and the response rate.

    The rate is responses per impression, capped at 1: outcomes that no shown item prompted (an
    organic click, a decision made without a channel) can outnumber impressions. None where
    nothing was shown on the channel.
    """
    responses = context.get("response_counts") or {}
    out = {}
    for channel in sorted(set(responses) | set(impressions)):
        shown, answered = impressions.get(channel, 0), responses.get(channel, 0)
        out[channel] = {
            "responses": answered,
            "impressions": shown,
            "response_rate": round(min(answered, shown) / shown, 4) if shown else None,
        }
    return out

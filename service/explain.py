"""The words and figures that explain a decision: per-item reasons and the caps state."""

from __future__ import annotations

from service import caps


def score_reason(placement, stage, scored, index, scores) -> str:
    """Why an item scored as it did, in one line."""
    where = f"stage {stage}" if stage else "cold start"
    if scored is None:
        return f"{where}: popularity"
    p = float(scored.p_response[index])
    if placement.objective == "progress":
        return f"{where}: P(response) {p:.3f} x advance gain {float(scored.advance_gain[index]):+.3f}"
    if placement.objective == "value":
        return f"{where}: P(response) {p:.3f} x value = {float(scores[index]):.3f}"
    return f"{where}: P(response) {p:.3f}"


def describe(exploration: dict) -> str:
    """An exploration setting in words, e.g. "epsilon 0.1"."""
    return ", ".join(f"{k} {v}" for k, v in exploration.items())


def caps_state(catalog, placement, candidates, counts, now) -> dict:
    """Impressions today and this week against each cap, for the placement and capped candidates."""
    today = caps.day_of(now)
    out = {"placement": {"today": caps.impressions(counts, "p", placement.id, today, 1), "caps": placement.caps}}
    for item_id in candidates:
        item = catalog.items[item_id]
        if item.caps:
            out[item_id] = {
                "today": caps.impressions(counts, "i", item_id, today, 1),
                "week": caps.impressions(counts, "i", item_id, today, 7),
                "caps": item.caps,
            }
    return out

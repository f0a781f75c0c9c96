"""Scoring candidates with a bundle under a placement's objective: one matrix, one model call."""

from __future__ import annotations

import dataclasses

import numpy as np

from models.bundle import ModelBundle
from models.catalog import Catalog, Placement
from models.context import apply_event, copy_context

TOP_CONTRIBUTIONS = 5


@dataclasses.dataclass
class Scored:
    scores: np.ndarray
    p_response: np.ndarray
    next_stage: dict[str, float]
    advance_gain: np.ndarray | None = None
    matrix: np.ndarray | None = None


def score_candidates(
    bundle: ModelBundle,
    catalog: Catalog,
    placement: Placement,
    context: dict,
    profile: dict,
    channel: str | None,
    now: float,
    item_ids: list[str],
) -> Scored:
    """Expected value of each candidate: P(response) for `click`, x item value for `value`,
    x the rise in P(reaching a later stage) that responding brings for `progress`."""
    spec = bundle.spec
    row = spec.context_row(context, now, channel, profile)
    matrix = spec.content_matrix(
        context, now, channel, item_ids, bundle.item_stats, catalog.items, profile, context_row=row
    )
    p_response = bundle.content.predict(matrix)
    classes = bundle.classes
    if placement.objective == "progress":
        rows = [row] + [
            spec.context_row(_after_response(context, catalog.items[i], channel, now, bundle), now, channel, profile)
            for i in item_ids
        ]
        probabilities = bundle.next_stage.predict_proba(np.asarray(rows))
        advance = _p_advance(probabilities, classes, context["stage"])
        gain = advance[1:] - advance[0]
        scores = p_response * gain
        now_probabilities = probabilities[0]
    else:
        gain = None
        now_probabilities = bundle.next_stage.predict_proba(np.asarray([row]))[0]
        scores = p_response * (
            np.array([catalog.items[i].value for i in item_ids]) if placement.objective == "value" else 1.0
        )
    next_stage = {name: round(float(p), 4) for name, p in zip(classes, now_probabilities)}
    return Scored(np.asarray(scores, dtype=float), p_response, next_stage, gain, matrix)


def top_contributions(bundle: ModelBundle, matrix: np.ndarray) -> list[list[dict]]:
    """Per row, the features that moved P(response) most (LightGBM pred_contrib, in log-odds)."""
    contributions = bundle.content.contributions(matrix)
    names = bundle.spec.content_names
    out = []
    for row_values, row_contrib in zip(matrix, contributions):
        order = np.argsort(-np.abs(row_contrib[:-1]))[:TOP_CONTRIBUTIONS]
        out.append(
            [
                {
                    "feature": names[j],
                    "value": round(float(row_values[j]), 4),
                    "contribution": round(float(row_contrib[j]), 4),
                }
                for j in order
            ]
        )
    return out


def _after_response(context: dict, item, channel: str | None, now: float, bundle: ModelBundle) -> dict:
    """The visitor's context had they just responded to `item` (its event, else a click)."""
    hypothetical = copy_context(context)
    event = {
        "event_id": "hypothetical",
        "type": item.event or "click",
        "ts": now,
        "channel": channel,
        "item_id": item.id,
    }
    return apply_event(hypothetical, event, bundle.spec.journey, bundle.spec.recent_cap)


def _p_advance(probabilities: np.ndarray, classes: list[str], stage: str | None) -> np.ndarray:
    """P(the next stage is later than the current one); from no stage, any stage counts."""
    stages = [c for c in classes if c != "exit"]
    current = stages.index(stage) if stage in stages else -1
    later = [k for k, name in enumerate(classes) if name in stages and stages.index(name) > current]
    return probabilities[:, later].sum(axis=1)

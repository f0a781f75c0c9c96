"""The serving policy's choices: holdout assignment, exploration with logged propensities, diversity."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING

import numpy as np

from models import caps
from models.retrieval import WINDOW, recent_items

if TYPE_CHECKING:
    from models.item_table import ItemTable

DEFAULT_UNCERTAINTY_BONUS = 0.5
"""A placement's `exploration.uncertainty_bonus` when it names none: the most P(response) an item the
model knows nothing about, and like what the visitor browses, is raised by. 0 switches it off."""


def holdout_bucket(visitor_id: str, placement_id: str) -> float:
    """A stable number in [0, 1) from visitor and placement: the same visitor always lands the same way."""
    digest = hashlib.blake2b(f"{placement_id}\x00{visitor_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclasses.dataclass(frozen=True)
class Pick:
    index: int
    propensity: float
    explored: bool


def select(
    scores: np.ndarray,
    slots: int,
    tags: list[tuple[str, ...]],
    exploration: dict,
    rng: np.random.Generator,
    pinned: list[int] = (),
    max_per_tag: int | None = None,
) -> list[Pick]:
    """Fill `slots` slots, pinned items first, then slot by slot from what diversity still allows.

    Each pick carries the probability that this policy shows that item in that slot given the
    slots before it: greedy 1.0; epsilon-greedy (1 - eps) * [best] + eps / n; softmax over
    scores relative to the best, divided by the temperature.
    """
    picks: list[Pick] = []
    tag_counts: dict[str, int] = {}
    open_ = np.ones(len(scores), dtype=bool)  # not taken and still allowed by diversity

    def allowed(i: int) -> bool:
        return max_per_tag is None or all(tag_counts.get(t, 0) < max_per_tag for t in tags[i])

    def take(pick: Pick) -> None:
        picks.append(pick)
        open_[pick.index] = False
        if max_per_tag is None:  # no diversity rule: the tags change nothing
            return
        for t in tags[pick.index]:
            tag_counts[t] = tag_counts.get(t, 0) + 1
            if tag_counts[t] >= max_per_tag:
                open_[[j for j, item_tags in enumerate(tags) if t in item_tags]] = False

    for i in pinned:
        if len(picks) < slots and open_[i] and allowed(i):
            take(Pick(i, 1.0, False))
    while len(picks) < slots:
        available = np.flatnonzero(open_)
        if not len(available):
            break
        at = scores[available]
        probabilities = _slot_probabilities(at, exploration)
        best = int(np.argmax(at))
        choice = _draw(rng, probabilities) if len(available) > 1 else 0
        take(Pick(int(available[choice]), float(probabilities[choice]), explored=choice != best))
    return picks


def _draw(rng: np.random.Generator, probabilities: np.ndarray) -> int:
    """`rng.choice(len(probabilities), p=probabilities)`, the same draw from the same generator state,
    without choice's checks of `p` (a third of a decision's selection time): the cumulative sum scaled to
    end at 1, searched for one uniform number (tests/models/test_policy.py compares the two)."""
    cdf = probabilities.cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


def _slot_probabilities(scores: np.ndarray, exploration: dict) -> np.ndarray:
    n = len(scores)
    best = int(np.argmax(scores))  # first of equal scores: ties go to the earlier candidate
    if "temperature" in exploration:
        scale = max(float(np.max(np.abs(scores))), 1e-12)
        logits = (scores / scale) / exploration["temperature"]
        weights = np.exp(logits - logits.max())
        return weights / weights.sum()
    epsilon = float(exploration.get("epsilon", 0.0))
    probabilities = np.full(n, epsilon / n)
    probabilities[best] += 1.0 - epsilon
    return probabilities


def with_uncertainty_bonus(
    exploration: dict,
    scores: np.ndarray,
    p_response: np.ndarray,
    item_ids: list[str],
    item_stats,
    catalog_items: dict,
    context: dict | None,
    impressions: dict[str, int],
    now: float,
    table: ItemTable | None = None,
) -> np.ndarray:
    """The placement's scores, optimistic about items little is known of (`uncertainty_bonus`): a new
    item, which the ranker reads as unpopular and untrended, still reaches visitors who browse its like.
    `table`: serving's precomputed item columns (models.item_table), the same numbers."""
    weight = float(exploration.get("uncertainty_bonus", DEFAULT_UNCERTAINTY_BONUS))
    if not weight or not context or not item_ids:
        return scores
    recent = [i for i, _ in recent_items(context, len(context["recent"]))[:WINDOW]]
    seen = caps.item_impressions(impressions, caps.day_of(now), 7)
    own = np.fromiter((seen.get(i, 0) for i in item_ids), dtype=np.int64, count=len(item_ids))
    rows = table.rows(item_ids) if table is not None and table.stats is item_stats else None
    if rows is not None:
        evidence = table.evidence[rows] + own
    else:
        logged = (item_stats.shown.get(i, 0) + item_stats.total(i) for i in item_ids)
        evidence = np.fromiter(logged, dtype=np.int64, count=len(item_ids)) + own
    bonus = uncertainty_bonus(weight, evidence, content_match(item_ids, recent, catalog_items, table, rows))
    return optimistic_scores(scores, p_response, bonus)


def uncertainty_bonus(weight: float, evidence: np.ndarray, match: np.ndarray) -> np.ndarray:
    """How much to raise each candidate's P(response): `weight * match / sqrt(1 + evidence)`.

    An upper confidence bound: the model's estimate for an item is as uncertain as the item is unknown
    (`evidence`: its logged impressions and engagements in the training data, plus this visitor's own
    impressions of it), so the bonus shrinks as 1 / sqrt(n), the width of a response rate's interval
    after n trials. It is scaled by `match` (in [0, 1]: how much the item's tags and attributes resemble
    what the visitor browses), so a new item is tried on the visitors it is most likely to please, not
    on everyone. Deterministic: the policy's propensities stay exact.
    """
    return weight * np.asarray(match, dtype=float) / np.sqrt(1.0 + np.asarray(evidence, dtype=float))


def optimistic_scores(scores: np.ndarray, p_response: np.ndarray, bonus: np.ndarray) -> np.ndarray:
    """The objective's scores with P(response) read as P(response) + bonus: each score keeps its
    multiplier (item value, the progress gain), so the bonus means the same under every objective."""
    scores = np.asarray(scores, dtype=float)
    p_response = np.asarray(p_response, dtype=float)
    per_response = np.divide(scores, p_response, out=np.ones_like(scores), where=p_response > 0)
    return scores + bonus * per_response


def content_match(
    item_ids: list[str], recent: list[str], catalog_items: dict, table: ItemTable | None = None, rows=None
) -> np.ndarray:
    """Per candidate, its best Jaccard similarity to one of the visitor's recent items, over tags and
    attributes (`key=value`): 1 for an item described exactly as one the visitor browsed, 0 for none.
    With `table` and the candidates' `rows` in it, each item's description is made once per catalog."""
    described = [_features(catalog_items.get(i)) for i in recent]
    described = [d for d in described if d]
    out = np.zeros(len(item_ids))
    if not described:
        return out
    if rows is not None:
        own_features = (_described(table, r) for r in rows)
    else:
        own_features = (_features(catalog_items.get(item_id)) for item_id in item_ids)
    for row, own in enumerate(own_features):
        if own:
            out[row] = max(len(own & other) / len(own | other) for other in described)
    return out


def _described(table: ItemTable, row: int) -> frozenset[str]:
    own = table.described[row]
    if own is None:
        own = table.described[row] = _features(table.catalog_items[table.ids[row]])
    return own


def _features(item) -> frozenset[str]:
    if item is None:
        return frozenset()
    attributes = (
        f"{key}={value}" for key, value in (item.attributes or {}).items() if isinstance(value, (str, int, float))
    )
    return frozenset([*(f"tag:{t}" for t in item.tags), *attributes])

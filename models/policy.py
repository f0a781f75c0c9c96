"""The serving policy's choices: holdout assignment, exploration with logged propensities, diversity."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np


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
        for t in tags[pick.index]:
            tag_counts[t] = tag_counts.get(t, 0) + 1
            if max_per_tag is not None and tag_counts[t] >= max_per_tag:
                open_[[j for j, item_tags in enumerate(tags) if t in item_tags]] = False

    for i in pinned:
        if len(picks) < slots and open_[i] and allowed(i):
            take(Pick(i, 1.0, False))
    while len(picks) < slots:
        available = np.flatnonzero(open_)
        if not len(available):
            break
        probabilities = _slot_probabilities(scores[available], exploration)
        best = int(np.argmax(scores[available]))
        choice = int(rng.choice(len(available), p=probabilities)) if len(available) > 1 else 0
        take(Pick(int(available[choice]), float(probabilities[choice]), explored=choice != best))
    return picks


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

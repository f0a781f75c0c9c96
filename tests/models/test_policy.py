"""Holdout assignment, exploration propensities and diversity: the policy's choices."""

import numpy as np
import pytest

from models.policy import (
    DEFAULT_UNCERTAINTY_BONUS,
    content_match,
    holdout_bucket,
    optimistic_scores,
    select,
    uncertainty_bonus,
    with_uncertainty_bonus,
)


def test_holdout_bucket_is_stable_and_roughly_uniform():
    assert holdout_bucket("v1", "home") == holdout_bucket("v1", "home")
    assert holdout_bucket("v1", "home") != holdout_bucket("v1", "other")
    buckets = np.array([holdout_bucket(f"v{i}", "home") for i in range(4000)])
    assert 0.08 < (buckets < 0.1).mean() < 0.12


def test_greedy_takes_the_best_scores_with_propensity_one():
    picks = select(np.array([0.1, 0.9, 0.5]), 2, [(), (), ()], {}, np.random.default_rng(0))
    assert [(p.index, p.propensity, p.explored) for p in picks] == [(1, 1.0, False), (2, 1.0, False)]


def test_epsilon_greedy_logs_the_probability_of_each_choice():
    rng = np.random.default_rng(1)
    scores = np.array([0.1, 0.9, 0.5, 0.2])
    seen = {}
    for _ in range(4000):
        pick = select(scores, 1, [()] * 4, {"epsilon": 0.2}, rng)[0]
        seen.setdefault(pick.index, []).append(pick.propensity)
    assert max(seen[1]) == min(seen[1]) == pytest.approx(0.8 + 0.05)
    assert max(seen[0]) == min(seen[0]) == pytest.approx(0.05)
    # logged propensities match observed frequencies
    for propensities in seen.values():
        assert abs(len(propensities) / 4000 - propensities[0]) < 0.02


def test_softmax_propensities_sum_to_one_over_the_slot():
    rng = np.random.default_rng(2)
    scores = np.array([1.0, 2.0, 3.0])
    counts = np.zeros(3)
    logged = {}
    for _ in range(3000):
        pick = select(scores, 1, [()] * 3, {"temperature": 0.5}, rng)[0]
        counts[pick.index] += 1
        logged[pick.index] = pick.propensity
    assert sum(logged.values()) == pytest.approx(1.0)
    assert np.allclose(counts / 3000, [logged[i] for i in range(3)], atol=0.03)


def test_pinned_first_then_diversity_caps_shared_tags():
    tags = [("suv",), ("suv",), ("suv",), ("electric",)]
    picks = select(np.array([0.9, 0.8, 0.7, 0.1]), 3, tags, {}, np.random.default_rng(0), pinned=[2], max_per_tag=2)
    assert [p.index for p in picks] == [2, 0, 3]
    assert picks[0].propensity == 1.0


def test_fewer_candidates_than_slots():
    assert len(select(np.array([0.3]), 3, [()], {"epsilon": 0.5}, np.random.default_rng(0))) == 1


class _Item:
    def __init__(self, tags=(), attributes=None):
        self.tags, self.attributes = tuple(tags), attributes or {}


def test_items_with_few_impressions_get_a_larger_bonus():
    bonus = uncertainty_bonus(0.25, np.array([0, 3, 99, 10_000]), np.ones(4))
    assert bonus[0] == pytest.approx(0.25)
    assert bonus[1] == pytest.approx(0.125)
    assert list(bonus) == sorted(bonus, reverse=True)
    assert bonus[3] < 0.003
    # no likeness to what the visitor browses, no bonus; and the bonus scales with the likeness
    assert list(uncertainty_bonus(0.25, np.zeros(3), np.array([0.0, 0.5, 1.0]))) == [0.0, 0.125, 0.25]


def test_content_match_reads_tags_and_attributes():
    items = {
        "e2": _Item(["electric", "city"], {"model": "e2", "body": "hatch"}),
        "x5": _Item(["suv", "performance"], {"model": "x5"}),
        "new_e3": _Item(["electric", "city"], {"model": "e3", "body": "hatch"}),
        "new_hatch": _Item(["family"], {"body": "hatch"}),  # alike by attribute only
        "bare": _Item(),
    }
    match = content_match(["new_e3", "new_hatch", "x5", "bare"], ["e2"], items)
    assert match[0] == pytest.approx(3 / 5)  # tag:electric, tag:city, body=hatch of 5 features in all
    assert match[1] == pytest.approx(1 / 5)
    assert list(match[2:]) == [0.0, 0.0]
    assert list(content_match(["new_e3"], [], items)) == [0.0]  # no history: nothing to be alike


def test_optimistic_scores_keep_the_objective_multiplier():
    # value objective: score = P(response) x value, so a bonus of 0.1 on P is worth 0.1 x value
    scores = optimistic_scores(np.array([0.2 * 5.0, 0.1 * 1.0]), np.array([0.2, 0.1]), np.array([0.1, 0.1]))
    assert scores == pytest.approx([0.3 * 5.0, 0.2 * 1.0])


def test_the_bonus_decides_the_greedy_pick_and_propensities_stay_exact():
    """A well-known item at P 0.12 against a new one at P 0.005 with a bonus: epsilon-greedy and softmax
    over the optimistic scores log the probability of what they show, and it matches the frequencies."""
    p_response = np.array([0.12, 0.005, 0.05])
    bonus = uncertainty_bonus(0.25, np.array([400, 0, 400]), np.array([0.3, 0.6, 0.0]))
    scores = optimistic_scores(p_response, p_response, bonus)
    assert int(np.argmax(scores)) == 1
    for exploration in ({"epsilon": 0.3}, {"temperature": 0.3}):
        rng = np.random.default_rng(4)
        counts, logged = np.zeros(3), {}
        for _ in range(3000):
            pick = select(scores, 1, [()] * 3, exploration, rng)[0]
            counts[pick.index] += 1
            logged[pick.index] = pick.propensity
        assert sum(logged.values()) == pytest.approx(1.0)
        assert np.allclose(counts / 3000, [logged[i] for i in range(3)], atol=0.03)
        assert logged[1] == max(logged.values())


def test_with_uncertainty_bonus_counts_bundle_evidence_and_the_visitors_own_impressions():
    from models.caps import day_of, impression_increments
    from models.features import ItemStats

    stats = ItemStats({"e2": {"consideration": 300}, "x5": {"consideration": 300}}, shown={"e2": 50})
    items = {
        "e2": _Item(["electric", "city"], {"model": "e2"}),
        "x5": _Item(["suv"], {"model": "x5"}),
        "e3": _Item(["electric", "city"], {"model": "e3"}),
    }
    context = {"recent": [{"item_id": "e2", "ts": 100.0}]}
    p = np.array([0.1, 0.1, 0.1])
    ids = ["x5", "e2", "e3"]
    fresh = with_uncertainty_bonus({}, p, p, ids, stats, items, context, {}, 1000.0)
    assert fresh[0] == pytest.approx(0.1)  # not alike: no bonus
    assert fresh[1] == pytest.approx(0.1 + DEFAULT_UNCERTAINTY_BONUS / np.sqrt(351))  # alike (itself), well known
    assert fresh[2] == pytest.approx(0.1 + DEFAULT_UNCERTAINTY_BONUS * 0.5)  # new, half alike
    seen_once = impression_increments(day_of(1000.0), ["e3"], "home_hero", None)
    after = with_uncertainty_bonus({}, p, p, ids, stats, items, context, seen_once, 1000.0)
    assert after[2] == pytest.approx(0.1 + DEFAULT_UNCERTAINTY_BONUS * 0.5 / np.sqrt(2))  # seen once by this visitor
    off = with_uncertainty_bonus({"uncertainty_bonus": 0.0}, p, p, ids, stats, items, context, {}, 1000.0)
    assert list(off) == list(p)


@pytest.mark.parametrize("seed", range(5))
def test_a_slot_draw_equals_generator_choice(seed):
    from models.policy import _draw

    weights = np.random.default_rng(100 + seed).random(37)
    probabilities = weights / weights.sum()
    ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(2_000):
        assert _draw(ours, probabilities) == numpys.choice(len(probabilities), p=probabilities)

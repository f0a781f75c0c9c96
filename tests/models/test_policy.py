"""Holdout assignment, exploration propensities and diversity: the policy's choices."""

import numpy as np
import pytest

from models.policy import holdout_bucket, select


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

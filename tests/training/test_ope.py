"""Off-policy estimators where the truth is known: a simulated log, fixed seeds."""

import numpy as np
import pandas as pd
import pytest

from training.evaluate import evaluate_choices
from training.ope import NoPropensities, estimate

ITEMS = 4
TRUE_RATE = np.array([[0.10, 0.30, 0.05, 0.20], [0.25, 0.05, 0.15, 0.10]])  # per context type, per item


def simulated_log(seed: int, n: int = 3000, epsilon: float = 0.5):
    """An epsilon-greedy logger that favours item 0; rewards drawn from TRUE_RATE."""
    rng = np.random.default_rng(seed)
    context = rng.integers(0, 2, n)
    explore = rng.random(n) < epsilon
    action = np.where(explore, rng.integers(0, ITEMS, n), 0)
    propensity = np.where(action == 0, 1 - epsilon + epsilon / ITEMS, epsilon / ITEMS)
    reward = (rng.random(n) < TRUE_RATE[context, action]).astype(float)
    return context, action, propensity, reward


def best_per_context(context):
    return TRUE_RATE.argmax(axis=1)[context]


def test_intervals_cover_the_true_value_at_about_their_nominal_rate():
    true_value = TRUE_RATE.max(axis=1).mean()  # contexts are equally likely
    covered = {"ips": 0, "snips": 0, "dr": 0}
    seeds = range(40)
    for seed in seeds:
        context, action, propensity, reward = simulated_log(seed)
        chosen = best_per_context(context)
        target = (action == chosen).astype(float)
        q_hat = np.array([[reward[(context == c) & (action == a)].mean() for a in range(ITEMS)] for c in range(2)])
        result = estimate(reward, target, propensity, q_hat[context, action], q_hat[context, chosen])
        for name in covered:
            low, high = result[name]["ci"]
            covered[name] += low <= true_value <= high
    for name, hits in covered.items():
        assert hits / len(seeds) >= 0.85, (name, hits)


def test_a_constant_policy_matches_the_arm_mean_on_a_uniform_log():
    rng = np.random.default_rng(1)
    action = rng.integers(0, 3, 30_000)
    reward = (rng.random(30_000) < np.array([0.18, 0.15, 0.11])[action]).astype(float)
    result = estimate(reward, (action == 0).astype(float), np.full(30_000, 1 / 3))
    observed = reward[action == 0].mean()
    assert result["snips"]["value"] == pytest.approx(observed)
    low, high = result["ips"]["ci"]
    assert low <= observed <= high


def test_missing_propensities_are_refused_with_a_reason():
    with pytest.raises(NoPropensities, match="no usable propensity"):
        estimate(np.ones(3), np.ones(3), np.array([0.5, np.nan, 0.2]))


def test_leaving_the_logged_support_is_warned():
    context, action, propensity, reward = simulated_log(0, n=500)
    target = np.zeros(500)
    target[:5] = 1.0
    result = estimate(reward, target, propensity)
    assert any("leaves the logged support" in w for w in result["warnings"])
    assert result["effective_sample_size"] <= 5


def test_doubly_robust_values_the_target_policys_own_choice():
    """DR's direct part is the reward model at the item the target shows, not at the logged one."""
    rng = np.random.default_rng(3)
    n = 30_000
    items = np.array(["a", "b", "c"])
    action = rng.integers(0, 3, n)
    reward = (rng.random(n) < np.array([0.18, 0.15, 0.11])[action]).astype(float)
    impressions = pd.DataFrame(
        {
            "decision_id": [f"d{i}" for i in range(n)],
            "placement": "email",
            "item_id": items[action],
            "reward": reward,
            "propensity": 1 / 3,
        }
    )
    result = evaluate_choices([{"a": 1.0}] * n, impressions)
    observed = reward[action == 0].mean()
    assert result["dr"]["value"] == pytest.approx(observed, abs=0.003)
    low, high = result["dr"]["ci"]
    assert low <= observed <= high

"""The promotion gate and the value reward, on a simulated log where the better policy is known."""

import numpy as np
import pandas as pd
import pytest

from training.evaluate import evaluate_choices, gate

RATES = {"good": 0.20, "fair": 0.15, "poor": 0.05}
VALUES = {"good": 10.0, "fair": 40.0, "poor": 10.0}  # "fair" responds less often but is worth more


@pytest.fixture(scope="module")
def uniform_log():
    """20,000 decisions logged by a uniform policy over three offers, with responses and their values."""
    rng = np.random.default_rng(5)
    n = 20_000
    items = np.array(list(RATES))
    shown = items[rng.integers(0, 3, n)]
    responded = rng.random(n) < np.array([RATES[i] for i in shown])
    return pd.DataFrame(
        {
            "decision_id": [f"d{k}" for k in range(n)],
            "placement": "offers",
            "item_id": shown,
            "propensity": 1 / 3,
            "reward": responded.astype(int),
            "reward_value": np.where(responded, [VALUES[i] for i in shown], 0.0),
        }
    )


def run_gate(log, challenger, champion, margin=0.0, reward="response"):
    return gate(challenger, champion, log, None, None, None, None, margin, reward)


def test_a_better_challenger_passes_the_gate(uniform_log):
    result = run_gate(uniform_log, "always:good", "always:fair")
    assert result["passed"] and result["difference"]["ci"][0] > 0


def test_a_worse_challenger_is_refused(uniform_log):
    result = run_gate(uniform_log, "always:poor", "always:good")
    assert not result["passed"] and result["difference"]["ci"][1] < 0


def test_the_margin_tolerates_a_challenger_that_is_only_a_little_worse(uniform_log):
    assert not run_gate(uniform_log, "always:fair", "always:good")["passed"]
    assert run_gate(uniform_log, "always:fair", "always:good", margin=0.1)["passed"]


def test_on_value_the_rarer_but_richer_offer_wins(uniform_log):
    assert run_gate(uniform_log, "always:good", "always:fair", reward="response")["passed"]
    by_value = run_gate(uniform_log, "always:fair", "always:good", reward="value")
    assert by_value["passed"] and by_value["reward"] == "value"


def test_value_per_impression_matches_the_arm_mean(uniform_log):
    result = evaluate_choices([{"fair": 1.0}] * len(uniform_log), uniform_log, reward="value")
    observed = uniform_log.loc[uniform_log["item_id"] == "fair", "reward_value"].mean()
    assert observed == pytest.approx(RATES["fair"] * VALUES["fair"], rel=0.1)
    for name in ("ips", "snips", "dr"):
        low, high = result[name]["ci"]
        assert low <= observed <= high, name

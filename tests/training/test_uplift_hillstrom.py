"""Uplift learners: who to treat where the true uplift is known, and the policy on Hillstrom's held-out half."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.uplift_hillstrom import import_sample
from models.journey import JourneyMap
from tests.shared_data import shared_data_dir
from training.uplift import NOTHING, UpliftModel, choose
from training.uplift_evaluation import Customers, evaluate_on_log, fit

ROOT = Path(__file__).resolve().parents[2]
SHARED = shared_data_dir("hillstrom/hillstrom.csv")
FEATURES = {"x0": None, "x1": None, "kind": ("a", "b")}
ARMS = ["offer_a", "offer_b"]


def synthetic(n: int, seed: int) -> tuple[Customers, np.ndarray]:
    """A randomised test (offer_a, offer_b, no_offer: 1/3 each) where the true uplift is known: offer_a adds
    0.25 to the response rate where x0 > 0.6, offer_b adds 0.25 where x0 < 0.3, nothing helps in between."""
    rng = np.random.default_rng(seed)
    x0, x1 = rng.random(n), rng.random(n)
    kind = rng.integers(0, 2, n).astype(float)
    arm = rng.choice(np.array([*ARMS, "no_offer"], dtype=object), n)
    truth = np.column_stack([np.where(x0 > 0.6, 0.25, 0.0), np.where(x0 < 0.3, 0.25, 0.0)])
    rate = 0.1 + 0.05 * x1 + np.where(arm == "offer_a", truth[:, 0], 0) + np.where(arm == "offer_b", truth[:, 1], 0)
    reward = (rng.random(n) < rate).astype(float)
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    return Customers(ids, np.column_stack([x0, x1, kind]), arm, np.full(n, 1 / 3), reward), truth


@pytest.mark.parametrize("learner", ["t", "x"])
def test_the_policy_recovers_who_to_treat_where_the_true_uplift_is_known(learner):
    learn, _ = synthetic(9000, seed=1)
    judge, truth = synthetic(3000, seed=2)
    model = fit(learn, FEATURES, learner, control=None)
    assert model.control_ == "no_offer" and model.arms_ == ARMS
    uplift = model.predict_uplift(judge.X)
    assert uplift.shape == (3000, 2)
    cost = 0.1  # between no effect (0) and the effect (0.25)
    right = choose(truth, cost)
    picked = model.choose(uplift, cost)
    assert (picked == right).mean() > 0.85
    assert (picked[right == NOTHING] == NOTHING).mean() > 0.8  # the middle band is left alone
    # the estimated uplift of the treated is near the true 0.25, not the response rate
    assert abs(uplift[right == 0, 0].mean() - 0.25) < 0.06


def test_a_saved_model_predicts_the_same_and_raising_the_cost_sends_fewer(tmp_path):
    learn, _ = synthetic(6000, seed=3)
    model = UpliftModel("t", rounds=40).fit(learn.X, learn.arm, learn.reward, ARMS, "no_offer", FEATURES)
    loaded = UpliftModel.load(model.save(tmp_path / "model.json"))
    assert np.allclose(loaded.predict_uplift(learn.X), model.predict_uplift(learn.X))
    assert loaded.meta["default_arm"] in ARMS and loaded.features_ == FEATURES
    uplift = loaded.predict_uplift(learn.X)
    sends = [(loaded.choose(uplift, cost) != NOTHING).mean() for cost in (-1.0, 0.0, 0.05, 0.1, 0.2, 0.3, 1.0)]
    assert sends == sorted(sends, reverse=True) and sends[0] == 1.0 and sends[-1] == 0.0


@pytest.mark.skipif(SHARED is None, reason="the shared public data sets are not on this machine")
def test_on_a_held_out_half_of_hillstrom_the_policy_is_not_worse_than_the_best_single_e_mail(tmp_path):
    imported = import_sample(SHARED / "hillstrom" / "hillstrom.csv", tmp_path / "hillstrom", rows=12_000)
    journey = JourneyMap.load(ROOT / "config" / "journeys" / "hillstrom.yaml")
    result = evaluate_on_log(imported, journey, learner="x", seed=0, costs=(0.0, 0.02, 0.04, 0.06, 0.08, 0.1))
    assert result["learned_on"] == result["valued_on"] == 6000
    assert result["best_single"] == "mens_email"
    # not worse than mens e-mail to everyone by more than the interval of the difference
    assert result["difference"]["mens_email"]["ci"][1] >= 0
    assert result["difference"]["no_email"]["value"] > 0.03  # e-mails do bring visits
    sends = [row["sends"] for row in result["curve"]]
    assert sends == sorted(sends, reverse=True)
    assert sends[0] > 0.9 and sends[-1] < 0.5

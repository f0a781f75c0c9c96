"""Content propensity: P(response | context, item, placement, position), and its baselines."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np

LGB_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "num_threads": 2,
    "verbosity": -1,
    "seed": 7,
}
SMALL_BATCH_ROWS = 10_000
"""Up to this many rows (a decision's candidates, times its channels) LightGBM predicts on one thread.
Measured on the demo bundle, 50 rows: 0.20 ms CPU on one thread against 0.57 ms on two, and the idle
OpenMP threads spin after each call: a decision cost the process 15.5 ms CPU instead of 4.7 ms."""


def predict_threads(n_rows: int) -> dict:
    """LightGBM's predict parameters for `n_rows`: one thread for a small batch, the default for a large one
    (training's evaluation over a test slice)."""
    return {"num_threads": 1} if n_rows <= SMALL_BATCH_ROWS else {}


class ContentModel:
    """LightGBM binary classifier over context x item features; optional per-row weights (IPS)."""

    model_file = "content.txt"

    def __init__(self, num_boost_round: int = 200, early_stopping_rounds: int = 20):
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds

    def fit(self, X, y, weight=None, X_valid=None, y_valid=None, feature_names=None) -> ContentModel:
        train = lgb.Dataset(X, label=y, weight=weight, feature_name=feature_names or "auto")
        callbacks, valid_sets = [], []
        if X_valid is not None and len(X_valid) and len(set(np.asarray(y_valid).tolist())) > 1:
            valid_sets = [lgb.Dataset(X_valid, label=y_valid, reference=train)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        self.booster_ = lgb.train(
            LGB_PARAMS, train, num_boost_round=self.num_boost_round, valid_sets=valid_sets, callbacks=callbacks
        )
        return self

    def predict(self, X) -> np.ndarray:
        """P(response) per row."""
        return self.booster_.predict(X, **predict_threads(len(X)))

    def contributions(self, X) -> np.ndarray:
        """Feature contributions in log-odds (last column is the bias), per row."""
        return self.booster_.predict(X, pred_contrib=True, **predict_threads(len(X)))

    def save(self, directory: Path) -> None:
        self.booster_.save_model(str(directory / self.model_file))

    @classmethod
    def load(cls, directory: Path) -> ContentModel:
        model = cls()
        model.booster_ = lgb.Booster(model_file=str(directory / cls.model_file))
        return model


class PopularityBaseline:
    """P(response | item, visitor's stage) from training counts, smoothed toward the overall rate.

    Reads two columns of the content matrix (the item id is not a feature), so it is given
    the item ids and stages beside X.
    """

    def __init__(self, prior_strength: float = 20.0):
        self.prior_strength = prior_strength

    def fit(self, item_ids, stages, y, weight=None) -> PopularityBaseline:
        y = np.asarray(y, dtype=float)
        weight = np.ones_like(y) if weight is None else np.asarray(weight, dtype=float)
        self.base_rate_ = float(np.average(y, weights=weight)) if len(y) else 0.0
        sums: dict[tuple, list[float]] = {}
        for item, stage, label, w in zip(item_ids, stages, y, weight):
            for key in ((item, stage), (item, None)):
                acc = sums.setdefault(key, [0.0, 0.0])
                acc[0] += label * w
                acc[1] += w
        k = self.prior_strength
        self.item_rate_ = {
            key: (pos + k * self.base_rate_) / (total + k) for key, (pos, total) in sums.items() if key[1] is None
        }
        self.stage_rate_ = {
            key: (pos + k * self.item_rate_[(key[0], None)]) / (total + k)
            for key, (pos, total) in sums.items()
            if key[1] is not None
        }
        return self

    def predict(self, item_ids, stages) -> np.ndarray:
        out = np.empty(len(item_ids))
        for i, (item, stage) in enumerate(zip(item_ids, stages)):
            rate = self.stage_rate_.get((item, stage))
            out[i] = rate if rate is not None else self.item_rate_.get((item, None), self.base_rate_)
        return out


class RandomBaseline:
    """Scores every candidate at the overall response rate, ranking them at random."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, y) -> RandomBaseline:
        self.base_rate_ = float(np.mean(y)) if len(y) else 0.0
        return self

    def predict(self, n: int) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return self.base_rate_ + rng.uniform(-1e-9, 1e-9, size=n)

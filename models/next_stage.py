"""Next-stage propensity: where a visitor goes next. A LightGBM model and the baselines it must beat."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
from scipy.optimize import minimize_scalar

from models.content import predict_threads

LGB_PARAMS = {
    "objective": "multiclass",
    "learning_rate": 0.05,
    "feature_fraction": 0.9,
    "lambda_l2": 10.0,
    "num_threads": 2,
    "verbosity": -1,
    "seed": 7,
}


def tree_size(n_rows: int) -> dict:
    """Smaller, better-supported trees on small data: with ~10k rows, 31 leaves overfit and lose to
    the Markov chain on later data (log loss 1.119 vs 1.099 on the demo set; 7 leaves: 1.092)."""
    return {
        "num_leaves": 7 if n_rows < 50_000 else 31,
        "min_data_in_leaf": int(min(max(n_rows // 100, 20), 200)),
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class NextStageModel:
    """LightGBM multiclass over context features, temperature-calibrated on a later slice."""

    model_file = "next_stage.txt"
    meta_file = "next_stage.json"

    def __init__(self, n_classes: int, num_boost_round: int = 200, early_stopping_rounds: int = 20):
        self.n_classes = n_classes
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds

    def fit(self, X, y, X_valid=None, y_valid=None, feature_names=None) -> NextStageModel:
        """Fit on (X, y); with a validation slice, stop early and calibrate a temperature on it."""
        params = {**LGB_PARAMS, **tree_size(len(X)), "num_class": self.n_classes}
        train = lgb.Dataset(X, label=y, feature_name=feature_names or "auto", free_raw_data=True)
        callbacks, valid_sets = [], []
        if X_valid is not None and len(X_valid):
            valid_sets = [lgb.Dataset(X_valid, label=y_valid, reference=train)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        self.booster_ = lgb.train(
            params, train, num_boost_round=self.num_boost_round, valid_sets=valid_sets, callbacks=callbacks
        )
        self.temperature_ = 1.0
        if valid_sets:
            self.temperature_ = fit_temperature(self._raw_logits(X_valid), np.asarray(y_valid))
        return self

    def _raw_logits(self, X) -> np.ndarray:
        return self.booster_.predict(X, raw_score=True, **predict_threads(len(X))).reshape(len(X), self.n_classes)

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self._raw_logits(X) / self.temperature_)

    def contributions(self, X) -> np.ndarray:
        """Per-class feature contributions (LightGBM pred_contrib), shape (rows, classes, features+1)."""
        raw = self.booster_.predict(X, pred_contrib=True, **predict_threads(len(X)))
        return np.asarray(raw).reshape(len(X), self.n_classes, -1)

    def save(self, directory: Path) -> None:
        self.booster_.save_model(str(directory / self.model_file))
        meta = {"n_classes": self.n_classes, "temperature": self.temperature_}
        (directory / self.meta_file).write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> NextStageModel:
        meta = json.loads((directory / cls.meta_file).read_text())
        model = cls(n_classes=meta["n_classes"])
        model.booster_ = lgb.Booster(model_file=str(directory / cls.model_file))
        model.temperature_ = meta["temperature"]
        return model


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the log loss of softmax(logits / T) (Guo et al. 2017)."""

    def loss(temperature: float) -> float:
        p = softmax(logits / temperature)
        return -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)))

    return float(minimize_scalar(loss, bounds=(0.25, 8.0), method="bounded").x)


class MarkovChainBaseline:
    """P(next | current stage) from transition counts, add-one smoothed. Reads the stage_idx column."""

    def __init__(self, n_classes: int, stage_column: int = 0, n_stages: int | None = None):
        self.n_classes = n_classes
        self.stage_column = stage_column
        self.n_stages = n_stages if n_stages is not None else n_classes - 1

    def fit(self, X, y) -> MarkovChainBaseline:
        states = self._states(X)
        counts = np.ones((self.n_stages + 1, self.n_classes))
        np.add.at(counts, (states, np.asarray(y)), 1)
        self.transitions_ = counts / counts.sum(axis=1, keepdims=True)
        return self

    def _states(self, X) -> np.ndarray:
        # stage_idx is -1 for "no stage yet"; that state lives in the last row.
        stage = np.asarray(X)[:, self.stage_column].astype(int)
        return np.where(stage < 0, self.n_stages, stage)

    def predict_proba(self, X) -> np.ndarray:
        return self.transitions_[self._states(X)]


class BaseRateBaseline:
    """The class frequencies of the training slice, whatever the context."""

    def __init__(self, n_classes: int):
        self.n_classes = n_classes

    def fit(self, X, y) -> BaseRateBaseline:
        counts = np.bincount(np.asarray(y), minlength=self.n_classes) + 1.0
        self.rates_ = counts / counts.sum()
        return self

    def predict_proba(self, X) -> np.ndarray:
        return np.tile(self.rates_, (len(X), 1))

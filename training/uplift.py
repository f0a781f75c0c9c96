"""Uplift learners: the incremental effect of each action over a randomised "no action" arm, and the policy on it.

A log of a randomised test (Hillstrom's e-mail test: Mens, Womens or no e-mail, 1/3 each) tells
what each action adds over doing nothing: treated minus control. Two learners on LightGBM:

- T-learner: one response model per arm, mu_a(x) = E[reward | x, arm a]; the uplift of arm a is
  mu_a(x) - mu_control(x).
- X-learner (Kuenzel et al. 2019): the T-learner's models impute each person's effect (treated:
  reward - mu_control(x); control: mu_a(x) - reward), a second model per arm and side learns those,
  and the two are blended by the propensity g of arm a among {a, control}:
  tau_a(x) = g * tau_control_side(x) + (1 - g) * tau_treated_side(x). The propensity comes from the
  log (a randomised test logs it: 1/3 each gives g = 1/2).

`predict_uplift(X)` gives (n, arms) expected incremental reward per treated arm; the policy
(`choose`) takes, per person, the arm with the largest uplift if it exceeds the cost of a send,
else nothing; an arm other than the best on average only where it beats that one by more than a
switch margin, set by cross-fitting on the learning data (training.uplift_evaluation.tune_margin).
Features are the journey map's profile features (numbers, or categories coded by
their declared order), so the log's decisions, the profile log and the batch all read the same.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np

from models.errors import BundleError, ValidationFailed

FORMAT = 1
LEARNERS = ("t", "x")
NOTHING = -1
"""`choose`'s answer for "send nothing"."""
PARAMS = {
    "learning_rate": 0.02,
    "num_leaves": 15,
    "min_data_in_leaf": 500,
    "feature_fraction": 0.9,
    "verbose": -1,
    "num_threads": 1,
    "seed": 7,
}
ROUNDS = 100


def feature_value(profile: dict, name: str):
    """A profile attribute as the journey map reads it: at the top of the profile, else under `attributes`."""
    if name in profile:
        return profile[name]
    extra = profile.get("attributes")
    return extra.get(name) if isinstance(extra, dict) else None


def design(profiles: list[dict | None], features: dict[str, tuple[str, ...] | None]) -> np.ndarray:
    """(n, features) floats: numbers as they are, categories as their index in the declared order;
    NaN where absent or unknown (LightGBM routes missing values)."""
    columns = []
    for name, categories in features.items():
        values = [feature_value(p, name) if p else None for p in profiles]
        if categories is None:
            columns.append(np.array([_number(v) for v in values], dtype=float))
        else:
            codes = {value: float(index) for index, value in enumerate(categories)}
            columns.append(np.array([codes.get(v, np.nan) if isinstance(v, str) else np.nan for v in values]))
    return np.column_stack(columns) if columns else np.empty((len(profiles), 0))


def _number(value) -> float:
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, int | float) else np.nan


def choose(uplift: np.ndarray, cost_per_send: float = 0.0, default: int | None = None, margin: float = 0.0):
    """Per row: the index of the arm with the largest uplift if that uplift exceeds the cost, else NOTHING.

    With a `default` arm (the best on average), another arm is chosen only where its uplift beats the
    default's by more than `margin`: a guard against trading the best arm for noise."""
    uplift = np.asarray(uplift, dtype=float)
    rows = np.arange(len(uplift))
    best = uplift.argmax(axis=1)
    if default is not None:
        switch = uplift[rows, best] > uplift[:, default] + margin
        best = np.where(switch, best, default)
    gain = uplift[rows, best]
    return np.where(gain > cost_per_send, best, NOTHING)


class UpliftModel:
    """A T- or X-learner over the arms of a randomised log; `fit` returns self, `save` / `load` a JSON file."""

    def __init__(self, learner: str = "t", rounds: int = ROUNDS, params: dict | None = None):
        if learner not in LEARNERS:
            raise ValidationFailed(f"unknown uplift learner {learner!r}: one of {', '.join(LEARNERS)}")
        self.learner = learner
        self.rounds = rounds
        self.params = {**PARAMS, **(params or {})}
        self.meta: dict = {}

    def fit(
        self,
        X: np.ndarray,
        arm: np.ndarray,
        reward: np.ndarray,
        arms: list[str],
        control: str,
        features: dict[str, tuple[str, ...] | None],
        propensity: np.ndarray | None = None,
        meta: dict | None = None,
    ) -> UpliftModel:
        """Fit on a log: `arm` names each row's logged arm (one of `arms` or `control`), `reward` its outcome,
        `propensity` the logging policy's probability of that arm (default: each arm's share of the rows)."""
        X, arm, reward = np.asarray(X, float), np.asarray(arm, dtype=object), np.asarray(reward, float)
        names = [*arms, control]
        missing = [a for a in names if not (arm == a).any()]
        if missing:
            raise ValidationFailed(f"the log has no rows of arm(s) {missing}: uplift needs every arm and the control")
        share = {a: float((arm == a).mean()) for a in names}
        if propensity is not None:
            share = {a: float(np.mean(np.asarray(propensity, float)[arm == a])) for a in names}
        binary = bool(np.isin(reward, (0.0, 1.0)).all())
        self.arms_, self.control_, self.features_ = list(arms), control, dict(features)
        self.categorical_ = [i for i, c in enumerate(features.values()) if c is not None]
        self.propensity_ = share
        self.boosters_: dict[str, lgb.Booster] = {}
        for name in names:
            rows = arm == name
            self.boosters_[f"mu:{name}"] = self._train(X[rows], reward[rows], "binary" if binary else "regression")
        if self.learner == "x":
            control_rows = arm == control
            mu_control = self._predict(f"mu:{control}", X)
            for name in arms:
                rows = arm == name
                self.boosters_[f"tau1:{name}"] = self._train(X[rows], reward[rows] - mu_control[rows], "regression")
                control_effect = self._predict(f"mu:{name}", X[control_rows]) - reward[control_rows]
                self.boosters_[f"tau0:{name}"] = self._train(X[control_rows], control_effect, "regression")
        average = self.predict_uplift(X).mean(axis=0)
        self.meta = {
            "format": FORMAT,
            "default_arm": self.arms_[int(average.argmax())],
            "switch_margin": 0.0,
            "learner": self.learner,
            "fitted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "rows": int(len(arm)),
            "rows_by_arm": {a: int((arm == a).sum()) for a in names},
            "mean_reward_by_arm": {a: round(float(reward[arm == a].mean()), 6) for a in names},
            **(meta or {}),
        }
        return self

    def _train(self, X: np.ndarray, y: np.ndarray, objective: str) -> lgb.Booster:
        data = lgb.Dataset(X, y, categorical_feature=self.categorical_ or "auto", free_raw_data=True)
        return lgb.train({**self.params, "objective": objective}, data, num_boost_round=self.rounds)

    def _predict(self, name: str, X: np.ndarray) -> np.ndarray:
        return self.boosters_[name].predict(X, num_threads=self.params["num_threads"])

    def predict_uplift(self, X: np.ndarray) -> np.ndarray:
        """(n, arms): each treated arm's expected incremental reward over the control, per row."""
        X = np.asarray(X, float)
        if not len(X):
            return np.empty((0, len(self.arms_)))
        if self.learner == "t":
            base = self._predict(f"mu:{self.control_}", X)
            return np.column_stack([self._predict(f"mu:{a}", X) - base for a in self.arms_])
        columns = []
        for name in self.arms_:
            g = self.propensity_[name] / (self.propensity_[name] + self.propensity_[self.control_])
            columns.append(g * self._predict(f"tau0:{name}", X) + (1 - g) * self._predict(f"tau1:{name}", X))
        return np.column_stack(columns)

    def choose(self, uplift: np.ndarray, cost_per_send: float = 0.0) -> np.ndarray:
        """The policy: `choose` with this model's default arm (the best on average) and switch margin."""
        default = self.arms_.index(self.meta["default_arm"]) if self.meta.get("default_arm") in self.arms_ else None
        return choose(uplift, cost_per_send, default, float(self.meta.get("switch_margin", 0.0)))

    def design(self, profiles: list[dict | None]) -> np.ndarray:
        return design(profiles, self.features_)

    @property
    def version(self) -> str:
        return str(self.meta.get("version") or f"uplift-{self.learner}-{self.meta.get('fitted_at', '')}")

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        body = {
            **self.meta,
            "arms": self.arms_,
            "control": self.control_,
            "features": {n: None if c is None else list(c) for n, c in self.features_.items()},
            "propensity": self.propensity_,
            "rounds": self.rounds,
            "params": self.params,
            "boosters": {name: booster.model_to_string() for name, booster in self.boosters_.items()},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body))
        return path

    @classmethod
    def load(cls, path: Path | str) -> UpliftModel:
        try:
            body = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(
                f"cannot read the uplift model {path}: {exc}; fit one with `python -m training uplift`"
            ) from exc
        if not isinstance(body, dict) or body.get("format") != FORMAT or body.get("learner") not in LEARNERS:
            raise BundleError(
                f"{path} is not an uplift model (format {FORMAT}): refit it with `python -m training uplift`"
            )
        model = cls(body["learner"], body["rounds"], body["params"])
        model.arms_, model.control_ = list(body["arms"]), body["control"]
        model.features_ = {n: None if c is None else tuple(c) for n, c in body["features"].items()}
        model.categorical_ = [i for i, c in enumerate(model.features_.values()) if c is not None]
        model.propensity_ = body["propensity"]
        model.boosters_ = {name: lgb.Booster(model_str=text) for name, text in body["boosters"].items()}
        skip = {"arms", "control", "features", "propensity", "rounds", "params", "boosters"}
        model.meta = {k: v for k, v in body.items() if k not in skip}
        return model

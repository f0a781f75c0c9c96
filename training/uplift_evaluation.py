"""Uplift learners fit on a randomised log and valued off-policy on held-out people (training/uplift.py).

The log is what `python -m training import` (or the service, or `batch-decide`) wrote: one decision per
person with its arm, propensity and profile, joined to its outcome by `training.evaluate.load_logged`.
Customers are split in halves by a seeded permutation; the learner is fit on one half and its policy
valued on the other by IPS with the logged propensities (1/3 per arm on Hillstrom) and by SNIPS (the
mean reward of the held-out people whose randomised arm is the one the policy picks, re-weighted: the
direct difference on a randomised log). Each comparison with a single arm ("send it to everyone",
"send nothing") is paired on the same people: the mean of per-person IPS differences, with a 95 %
normal interval (training.ope.difference).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from models.errors import ValidationFailed
from models.journey import JourneyMap
from training import ope
from training.evaluate import load_logged
from training.uplift import NOTHING, UpliftModel, choose, design

ROOT = Path(__file__).resolve().parents[1]
COSTS = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1)
"""Costs per send for the sends curve, in the reward's units (a visit)."""


@dataclasses.dataclass
class Customers:
    """One row per logged decision (its first item): who, features, the logged arm, its propensity and reward."""

    ids: np.ndarray
    X: np.ndarray
    arm: np.ndarray
    propensity: np.ndarray
    reward: np.ndarray

    def take(self, rows: np.ndarray) -> Customers:
        return Customers(*(getattr(self, f.name)[rows] for f in dataclasses.fields(self)))

    def __len__(self) -> int:
        return len(self.ids)


def log_customers(impressions: pd.DataFrame, features: dict, placement: str | None = None) -> Customers:
    """The first shown item of each decision (of `placement`, when named) with the profile the decision logged."""
    rows = impressions.loc[impressions["position"] == 0]
    if placement is not None:
        rows = rows.loc[rows["placement"] == placement]
    if not len(rows):
        raise ValidationFailed(
            f"no logged decisions{f' of placement {placement!r}' if placement else ''} to learn from"
        )
    return Customers(
        ids=rows["visitor_id"].to_numpy(dtype=object),
        X=design(list(rows["profile"]), features),
        arm=rows["item_id"].to_numpy(dtype=object),
        propensity=rows["propensity"].to_numpy(dtype=float),
        reward=rows["reward"].astype(float).to_numpy(),
    )


def control_arm(arms: list[str], named: str | None) -> str:
    """The "no action" arm: the one named, else the only arm whose name starts with `no_`."""
    if named is not None:
        if named not in arms:
            raise ValidationFailed(f"the control arm {named!r} is not among the logged arms {sorted(arms)}")
        return named
    guesses = [a for a in arms if a.startswith("no_")]
    if len(guesses) != 1:
        raise ValidationFailed(f"name the logged arm that means 'no action' with --control (arms: {sorted(arms)})")
    return guesses[0]


MARGINS = (0.0, 0.005, 0.01, 0.02, 0.04, np.inf)
"""Switch margins tried by cross-fitting; inf: always the best arm on average (no personal choice of arm)."""


def fit(
    customers: Customers, features: dict, learner: str, control: str | None, meta: dict | None = None, seed: int = 0
) -> UpliftModel:
    """The learner fit on all `customers`, its switch margin set by cross-fitting on them (`tune_margin`)."""
    arms = sorted(set(customers.arm))
    control = control_arm(arms, control)
    treated = [a for a in arms if a != control]
    margin = tune_margin(customers, features, learner, treated, control, seed)
    model = UpliftModel(learner).fit(
        customers.X, customers.arm, customers.reward, treated, control, features, customers.propensity, meta
    )
    model.meta["switch_margin"] = margin
    return model


def tune_margin(customers: Customers, features: dict, learner: str, treated: list, control: str, seed: int) -> float:
    """The switch margin whose policy (cost 0) earns the most by IPS on out-of-fold predictions (two folds);
    on a tie, the larger margin: leave the best arm on average only for a measured gain."""
    fold = halves(customers.ids, seed + 1)
    out_of_fold = np.zeros((len(customers), len(treated)))
    defaults = []
    for part in (fold, ~fold):
        model = UpliftModel(learner).fit(
            customers.X[~part],
            customers.arm[~part],
            customers.reward[~part],
            treated,
            control,
            features,
            customers.propensity[~part],
        )
        out_of_fold[part] = model.predict_uplift(customers.X[part])
        defaults.append(model.meta["default_arm"])
    default = treated.index(max(set(defaults), key=defaults.count))
    logged = np.array([[*treated, control].index(a) for a in customers.arm])
    earned = {}
    for margin in MARGINS:
        picked = choose(out_of_fold, 0.0, default, margin)
        picked = np.where(picked == NOTHING, len(treated), picked)
        earned[margin] = float(np.mean((picked == logged) * customers.reward / customers.propensity))
    best = max(earned.values())
    return float(max(m for m, v in earned.items() if v >= best - 1e-12))


def halves(ids: np.ndarray, seed: int) -> np.ndarray:
    """True for the people in the learning half: a seeded permutation of the distinct ids, split in two."""
    distinct = np.unique(ids.astype(str))
    order = np.random.default_rng(seed).permutation(len(distinct))
    learning = set(distinct[order[: len(distinct) // 2]])
    return np.array([i in learning for i in ids.astype(str)])


def actions_of(model: UpliftModel) -> list[str]:
    """The policy's actions as arms of the log: the treated arms, then the control ("nothing")."""
    return [*model.arms_, model.control_]


def policy_arms(model: UpliftModel, uplift: np.ndarray, cost_per_send: float) -> np.ndarray:
    """The arm (index into actions_of) the policy picks per row: nothing is the control arm."""
    picked = model.choose(uplift, cost_per_send)
    return np.where(picked == NOTHING, len(model.arms_), picked)


def value(model: UpliftModel, held_out: Customers, picked: np.ndarray) -> dict:
    """The policy's value on held-out people beside each single arm, with paired differences."""
    actions = actions_of(model)
    logged = np.array([actions.index(a) for a in held_out.arm])
    rewards, propensity = held_out.reward, held_out.propensity
    policy_target = (picked == logged).astype(float)
    out = {"policy": _estimates(rewards, policy_target, propensity), "arms": {}, "difference": {}}
    out["policy"]["sends"] = round(float((picked != len(model.arms_)).mean()), 4)
    out["policy"]["arm_mix"] = {a: round(float((picked == i).mean()), 4) for i, a in enumerate(actions)}
    for index, arm in enumerate(actions):
        arm_target = (logged == index).astype(float)
        out["arms"][arm] = _estimates(rewards, arm_target, propensity)
        out["arms"][arm]["observed"] = round(float(rewards[logged == index].mean()), 6)
        out["difference"][arm] = _rounded(ope.difference(rewards, policy_target, arm_target, propensity))
    treated = [a for a in model.arms_]
    out["best_single"] = max(treated, key=lambda a: out["arms"][a]["observed"])
    return out


def _estimates(rewards, target, propensity) -> dict:
    found = ope.estimate(rewards, target, propensity)
    return {"ips": _rounded(found["ips"]), "snips": _rounded(found["snips"])}


def _rounded(entry: dict) -> dict:
    return {"value": round(entry["value"], 6), "ci": [round(x, 6) for x in entry["ci"]]}


def sends_curve(model: UpliftModel, held_out: Customers, uplift: np.ndarray, costs=COSTS) -> list[dict]:
    """For each cost per send: the share of people sent an e-mail and the policy's estimated reward rate."""
    rows = []
    for cost in costs:
        found = value(model, held_out, policy_arms(model, uplift, cost))
        rows.append(
            {
                "cost_per_send": cost,
                "sends": found["policy"]["sends"],
                "ips": found["policy"]["ips"],
                "snips": found["policy"]["snips"],
            }
        )
    return rows


def evaluate_on_log(
    imported: Path | str,
    journey: JourneyMap,
    learner: str = "x",
    seed: int = 0,
    control: str | None = None,
    costs=COSTS,
) -> dict:
    """Fit on one half of an imported randomised log, value the policy (cost 0) and the sends curve on the other."""
    imported = Path(imported)
    impressions = load_logged(imported / "decisions", imported / "events", journey).impressions
    customers = log_customers(impressions, journey.profile_features)
    learning = halves(customers.ids, seed)
    model = fit(customers.take(learning), journey.profile_features, learner, control, seed=seed)
    held_out = customers.take(~learning)
    uplift = model.predict_uplift(held_out.X)
    result = value(model, held_out, policy_arms(model, uplift, 0.0))
    result["curve"] = sends_curve(model, held_out, uplift, costs)
    result["learner"], result["seed"] = learner, seed
    result["switch_margin"], result["default_arm"] = model.meta["switch_margin"], model.meta["default_arm"]
    result["learned_on"], result["valued_on"] = int(learning.sum()), int(len(held_out))
    return result

"""The off-policy estimators checked where the truth is known: Hillstrom's randomised arms, Open Bandit's random log.

Both take what `python -m training import` wrote and go through the same path as
`python -m training evaluate` (`load_logged`, `target_choices`, `evaluate_choices`):

- Hillstrom: every customer got one of three e-mail arms with probability 1/3, so the value of
  "always send X" is known: the observed mean of arm X. The estimate of "always Mens" from the
  whole log must hold that mean within its interval. On a log with one constant propensity,
  SNIPS of a constant policy *is* that arm's mean (and DR nearly), so this checks the pipeline
  (import, outcome join, propensities, the policy's choices) more than the estimators; IPS,
  whose denominator is the whole log, is the one that can miss. Then a personalized offer policy is learned
  on the earlier half of the customers (LightGBM, P(visit | customer, arm), the arm with the
  highest prediction) and valued on the later half beside the best single offer and no e-mail,
  with the learned model as DR's reward model.
- Open Bandit: the uniform-random policy's CTR is estimated from the Bernoulli Thompson sampling
  log (with its logged propensities) and compared with the CTR observed in the random log: the
  truth comes from another log, so this is the real test of the estimators on real data.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.catalog import Catalog
from models.journey import JourneyMap
from models.registry import Registry
from training import ope
from training.evaluate import evaluate, evaluate_choices, load_logged, target_choices

ROOT = Path(__file__).resolve().parents[1]
ESTIMATORS = ("ips", "snips", "dr")
HILLSTROM_ARMS = ("mens_email", "womens_email", "no_email")
HILLSTROM_FEATURES = ["recency", "history", "mens", "womens", "newbie", "zip_code", "channel"]
POLICY_PARAMS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 200}


def journey_of(kind: str) -> JourneyMap:
    return JourneyMap.load(ROOT / "config" / "journeys" / f"{kind}.yaml")


def logged(imported: Path | str, kind: str) -> pd.DataFrame:
    """The impressions of an import, joined to their rewards."""
    imported = Path(imported)
    impressions = load_logged(imported / "decisions", imported / "events", journey_of(kind)).impressions
    return impressions


def covers(result: dict, truth: float) -> dict[str, bool]:
    """Per estimator: does its 95 % interval hold the true value?"""
    return {name: bool(result[name]["ci"][0] <= truth <= result[name]["ci"][1]) for name in ESTIMATORS}


def relative_errors(result: dict, truth: float) -> dict[str, float | None]:
    """|estimate - truth| / truth per estimator; None when the truth is 0 (no relative scale)."""
    return {name: abs(result[name]["value"] - truth) / truth if truth else None for name in ESTIMATORS}


def hillstrom_constant_arm(impressions: pd.DataFrame, arm: str = "mens_email") -> dict:
    """ "Always send `arm`", estimated from the whole log, beside the observed mean of that arm."""
    choices = target_choices(f"always:{arm}", impressions, None, None, None, None)
    result = evaluate_choices(choices, impressions)
    truth = float(impressions.loc[impressions["item_id"] == arm, "reward"].astype(float).mean())
    return {"policy": f"always:{arm}", "observed": truth, "covers": covers(result, truth), **result}


def hillstrom_personalized(impressions: pd.DataFrame, profiles: dict[str, dict]) -> dict:
    """Learn an offer policy on the earlier half of the customers; value it and the fixed policies on the later half."""
    customers = _customer_frame(impressions, profiles)
    half = len(customers) // 2
    learn, judge = customers.iloc[:half], customers.iloc[half:]
    model = lgb.LGBMClassifier(**POLICY_PARAMS, verbose=-1).fit(_design(learn, learn["arm"]), learn["reward"])
    predicted = np.column_stack([model.predict_proba(_design(judge, arm))[:, 1] for arm in HILLSTROM_ARMS])
    logged_arm = judge["arm"].map({a: i for i, a in enumerate(HILLSTROM_ARMS)}).to_numpy()
    rows = np.arange(len(judge))
    q_logged = predicted[rows, logged_arm]
    rewards, propensity = judge["reward"].to_numpy(float), judge["propensity"].to_numpy(float)
    chosen = predicted.argmax(axis=1)
    policies = {"personalized": chosen, **{f"always:{a}": np.full(len(judge), i) for i, a in enumerate(HILLSTROM_ARMS)}}
    results = {}
    for name, choice in policies.items():
        target = (choice == logged_arm).astype(float)
        results[name] = ope.estimate(rewards, target, propensity, q_logged, predicted[rows, choice])
        if name.startswith("always:"):
            truth = float(rewards[logged_arm == choice[0]].mean())
            results[name] |= {"observed": truth, "covers": covers(results[name], truth)}
    results["personalized"]["arm_mix"] = {
        a: round(float((chosen == i).mean()), 4) for i, a in enumerate(HILLSTROM_ARMS)
    }
    best = max((n for n in policies if n.startswith("always:")), key=lambda n: results[n]["snips"]["value"])
    best_arm = HILLSTROM_ARMS.index(best.removeprefix("always:"))
    gain = ope.difference(
        rewards, (chosen == logged_arm).astype(float), (logged_arm == best_arm).astype(float), propensity
    )
    return {"learned_on": half, "valued_on": len(judge), "policies": results, "best_single": best, "gain": gain}


def _customer_frame(impressions: pd.DataFrame, profiles: dict[str, dict]) -> pd.DataFrame:
    """One row per customer in decision order: their profile columns, logged arm, propensity and reward."""
    frame = pd.DataFrame(
        {
            "arm": impressions["item_id"].to_numpy(),
            "propensity": impressions["propensity"].to_numpy(float),
            "reward": impressions["reward"].astype(float).to_numpy(),
        }
    )
    attributes = pd.DataFrame([profiles.get(v, {}) for v in impressions["visitor_id"]])
    for column in HILLSTROM_FEATURES:
        frame[column] = attributes[column].to_numpy() if column in attributes else np.nan
    for column in ("zip_code", "channel"):
        frame[column] = frame[column].astype("category")
    return frame


def _design(customers: pd.DataFrame, arm) -> pd.DataFrame:
    """Customer features beside the arm (one arm for all, or each row's own), arm as a category."""
    design = customers[HILLSTROM_FEATURES].copy()
    design["arm"] = pd.Categorical(np.broadcast_to(np.asarray(arm, dtype=object), len(customers)), HILLSTROM_ARMS)
    return design


def hillstrom_wayfinder_model(imported: Path | str, registry: Path | str) -> dict:
    """Train Wayfinder's own models on the import (time split as `train` does), then value its policy with
    `evaluate` on the decisions after the split, beside the fixed policies on the same decisions."""
    from training.train import train

    imported, journey, catalog = Path(imported), journey_of("hillstrom"), Catalog(items={}, placements={})
    summary = train(
        imported / "events",
        registry,
        journey,
        catalog,
        horizon_days=14,
        progress=lambda _: None,
        decisions_path=imported / "decisions",
        profiles=read_profiles(imported / "profiles.jsonl"),
    )
    split_at = pd.Timestamp(summary["metrics"]["content"]["split_at"]).timestamp()
    logged = load_logged(imported / "decisions", imported / "events", journey)
    impressions, events = logged.impressions, logged.events
    later = impressions.loc[impressions["ts"].to_numpy() >= split_at].reset_index(drop=True)
    policies = [summary["version"], *(f"always:{arm}" for arm in HILLSTROM_ARMS), "uniform"]
    results = {p: evaluate(p, later, events, Registry(registry), journey, catalog) for p in policies}
    return {"version": summary["version"], "valued_on": len(later), "policies": results}


def read_profiles(path: Path | str) -> dict[str, dict]:
    with open(path) as handle:
        return {row["visitor_id"]: row["profile"] for row in map(json.loads, handle)}


def open_bandit_uniform(bts: pd.DataFrame, random: pd.DataFrame) -> dict:
    """The uniform-random policy's CTR estimated from the BTS log, beside the CTR observed in the random log."""
    choices = target_choices("uniform", bts, None, None, None, None)
    result = evaluate_choices(choices, bts)
    truth = float(random["reward"].astype(float).mean())
    return {
        "policy": "uniform",
        "observed_random_ctr": truth,
        "random_impressions": len(random),
        "covers": covers(result, truth),
        "relative_error": relative_errors(result, truth),
        **result,
    }

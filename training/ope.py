"""Off-policy estimators: what a new policy would have earned on logged traffic, with intervals."""

from __future__ import annotations

import numpy as np

from models.errors import WayfinderError

Z95 = 1.959964
TINY_PROPENSITY = 0.01
MIN_MATCH_RATE = 0.05
MIN_ESS = 100.0


class NoPropensities(WayfinderError):
    code = "no_propensities"


def estimate(
    rewards: np.ndarray,
    target: np.ndarray,
    logged: np.ndarray,
    q_logged: np.ndarray | None = None,
    q_target: np.ndarray | None = None,
) -> dict:
    """IPS, self-normalised IPS and doubly robust estimates of the target policy's mean reward.

    `target` is pi_e(logged action | context), `logged` the logging policy's propensity of that
    action; `q_logged` / `q_target` are a reward model's predictions for the logged action and
    the target policy's expected reward (for DR). Intervals are 95 %, normal approximations
    (delta method for SNIPS).
    """
    rewards, target, logged = (np.asarray(a, dtype=float) for a in (rewards, target, logged))
    missing = ~np.isfinite(logged) | (logged <= 0)
    if missing.any():
        raise NoPropensities(
            f"{int(missing.sum()):,} of {len(logged):,} logged impressions have no usable propensity: "
            "IPS needs the probability with which the logging policy showed each item. Log it "
            "(Wayfinder's decisions do), or evaluate on the rows that have it."
        )
    n = len(rewards)
    w = target / logged
    out = {"impressions": n, "logged_value": _interval(rewards)}
    out["ips"] = _interval(w * rewards)
    out["snips"] = _snips(w, rewards)
    if q_logged is not None and q_target is not None:
        out["dr"] = _interval(np.asarray(q_target, float) + w * (rewards - np.asarray(q_logged, float)))
    out["effective_sample_size"] = round(float(w.sum() ** 2 / (w**2).sum()), 1) if (w**2).sum() else 0.0
    out["match_rate"] = round(float((target > 0).mean()), 4) if n else 0.0
    out["warnings"] = _warnings(logged, out)
    return out


def _interval(terms: np.ndarray) -> dict:
    n = len(terms)
    mean = float(terms.mean()) if n else float("nan")
    half = Z95 * float(terms.std(ddof=1)) / np.sqrt(n) if n > 1 else float("nan")
    return {"value": mean, "ci": [mean - half, mean + half]}


def _snips(w: np.ndarray, rewards: np.ndarray) -> dict:
    total = w.sum()
    if not total:
        return {"value": float("nan"), "ci": [float("nan"), float("nan")]}
    value = float((w * rewards).sum() / total)
    n = len(w)
    variance = float(((w * (rewards - value)) ** 2).mean() / (w.mean() ** 2) / n)
    half = Z95 * np.sqrt(variance)
    return {"value": value, "ci": [value - half, value + half]}


def _warnings(logged: np.ndarray, out: dict) -> list[str]:
    warnings = []
    tiny = float((logged < TINY_PROPENSITY).mean())
    if tiny > 0:
        warnings.append(
            f"{tiny:.1%} of logged propensities are under {TINY_PROPENSITY}: their weights dominate the estimate"
        )
    if out["match_rate"] < MIN_MATCH_RATE:
        warnings.append(
            f"the new policy agrees with the logged action on only {out['match_rate']:.1%} of impressions: "
            "it leaves the logged support, so IPS rests on few rows"
        )
    if out["effective_sample_size"] < MIN_ESS:
        warnings.append(f"effective sample size {out['effective_sample_size']} is under {MIN_ESS:.0f}")
    return warnings


def difference(rewards, target_a, target_b, logged) -> dict:
    """IPS estimate of value(a) - value(b) on the same log, paired, with its 95 % interval."""
    logged = np.asarray(logged, float)
    terms = (np.asarray(target_a, float) - np.asarray(target_b, float)) / logged * np.asarray(rewards, float)
    return _interval(terms)

"""Evaluate a policy on logged decisions before it serves anyone (off-policy), and gate promotions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from journal.identity import all_links, ids_seen, person_keys
from journal.join import join_outcomes
from journal.replay import DECISION, point_in_time
from journal.skipped import skipped_lines
from models.bundle import ModelBundle
from models.catalog import Catalog
from models.errors import NotFound, WayfinderError
from models.journey import JourneyMap
from models.registry import Registry
from models.scoring import score_candidates
from training import ope
from training.decision_logs import placement_rewards, read_impressions
from training.readers import read_events

PRIOR = 10.0
REWARDS = {"response": "reward", "value": "reward_value"}
"""What a policy earns per impression: a response (0/1, the placement's reward events), or its value."""


class GateRefused(WayfinderError):
    status_code = 409
    code = "gate_refused"


@dataclasses.dataclass
class Logged:
    """What a policy is evaluated on: the logged impressions joined to their rewards, and the events."""

    impressions: pd.DataFrame
    events: pd.DataFrame
    join: dict
    """The outcome join's counts (journal.join)."""
    skipped: dict
    """Bad lines the journal's readers skipped (journal.skipped)."""


def load_logged(
    decisions: Path | str, events_path: Path | str, journey: JourneyMap, window_hours: float = 24.0
) -> Logged:
    """The decisions at `decisions` joined to the outcomes among the events at `events_path`."""
    events = read_events(events_path)
    impressions = read_impressions(decisions)
    if not len(impressions):
        raise NotFound(f"no logged decisions in {decisions}")
    # who is who (journal/identity.py): the identities log beside the events, and the links the logs carry
    links = all_links(Path(events_path).parent, ids_seen(events, impressions))
    rewards = placement_rewards(impressions)
    joined = join_outcomes(impressions, events, journey.outcomes, window_hours * 3600, rewards, links)
    skipped = skipped_lines(events.attrs["bad_lines"], impressions.attrs["bad_lines"])
    impressions = joined.impressions.assign(who=person_keys(joined.impressions, links))
    attrs = dict(events.attrs)
    events = events.assign(who=person_keys(events, links))
    events.attrs.update(attrs)
    return Logged(impressions, events, joined.counts, skipped)


def target_choices(
    policy: str,
    impressions: pd.DataFrame,
    events: pd.DataFrame,
    registry: Registry,
    journey: JourneyMap,
    catalog: Catalog,
) -> list[dict[str, float]]:
    """For each logged impression, what the target policy would show in that slot: {item: probability}.

    `uniform`: each candidate with 1 / candidates; `always:<item>`: that item; `shadow[:<version>]`:
    the shadow model's logged choice (rows it did not shadow: nothing, so they earn nothing); a model
    version (or `current`): the item the model ranks at the logged position among the decision's
    candidates under the placement's objective, given the context replayed to that moment and the
    profile attributes the decision logged. Rules on top of the model (interest boosts, resume pins,
    exploration, diversity) are not replayed: the estimate is of the model, not of those rules.
    """
    candidates = _candidate_sets(impressions)
    if policy == "uniform":
        return [{item: 1.0 / len(c) for item in c} for c in candidates]
    if policy == "shadow" or policy.startswith("shadow:"):
        return _shadow_choices(policy, impressions)
    if policy.startswith("always:"):
        return [{policy.removeprefix("always:"): 1.0}] * len(impressions)
    version = registry.current() if policy == "current" else policy
    if version is None:
        raise NotFound("no current model to evaluate: train one or name a version")
    bundle = ModelBundle.load(registry.path(version), journey)
    rankings = _model_rankings(bundle, impressions, candidates, events, journey, catalog)
    positions = impressions["position"]
    return [{ranking[pos]: 1.0} if pos < len(ranking) else {} for ranking, pos in zip(rankings, positions)]


def evaluate(
    policy: str,
    impressions: pd.DataFrame,
    events: pd.DataFrame,
    registry: Registry,
    journey: JourneyMap,
    catalog: Catalog,
    reward: str = "response",
) -> dict:
    """The policy's estimated mean reward per impression (IPS, SNIPS, DR) beside the logged one.

    A shadow policy is valued on the decisions it scored (the rest say nothing about it).
    """
    if policy == "shadow" or policy.startswith("shadow:"):
        impressions = impressions.loc[_shadowed(policy, impressions)].reset_index(drop=True)
    choices = target_choices(policy, impressions, events, registry, journey, catalog)
    return {"policy": policy, **evaluate_choices(choices, impressions, reward)}


def evaluate_choices(choices: list[dict[str, float]], impressions: pd.DataFrame, reward: str = "response") -> dict:
    """Estimates for a target policy given as its choice in each logged slot (see `target_choices`).

    DR's reward model is the smoothed logged mean reward per placement and item; its value for
    the target is the expectation of that over the target's choice.
    """
    rewards = _rewards(impressions, reward)
    logged = impressions["propensity"].to_numpy(dtype=float)
    target = _probability_of_logged(choices, impressions)
    rate, overall = _reward_rates(impressions, rewards)
    q_logged = np.array([rate.get(key, overall) for key in zip(impressions["placement"], impressions["item_id"])])
    q_target = np.array(
        [
            sum(p * rate.get((placement, item), overall) for item, p in choice.items())
            for choice, placement in zip(choices, impressions["placement"])
        ]
    )
    result = ope.estimate(rewards, target, logged, q_logged, q_target)
    return {"decisions": int(impressions["decision_id"].nunique()), "reward": reward, **result}


def _rewards(impressions: pd.DataFrame, reward: str) -> np.ndarray:
    if reward not in REWARDS:
        raise WayfinderError(f"unknown reward {reward!r}: one of {', '.join(REWARDS)}")
    return impressions[REWARDS[reward]].to_numpy(dtype=float)


def _probability_of_logged(choices: list[dict[str, float]], impressions: pd.DataFrame) -> np.ndarray:
    return np.array([choice.get(item, 0.0) for choice, item in zip(choices, impressions["item_id"])])


def gate(
    challenger: str, champion: str, impressions, events, registry, journey, catalog, margin: float, reward="response"
) -> dict:
    """Compare two policies on the same log: pass when the lower 95 % bound of
    value(challenger) - value(champion) is above -margin."""
    rewards = _rewards(impressions, reward)
    logged = impressions["propensity"].to_numpy(dtype=float)
    a, b = (
        _probability_of_logged(target_choices(policy, impressions, events, registry, journey, catalog), impressions)
        for policy in (challenger, champion)
    )
    diff = ope.difference(rewards, a, b, logged)
    return {
        "challenger": ope.estimate(rewards, a, logged),
        "champion": ope.estimate(rewards, b, logged),
        "difference": diff,
        "margin": margin,
        "reward": reward,
        "passed": bool(diff["ci"][0] >= -margin),
    }


def _shadow_choices(policy: str, impressions: pd.DataFrame) -> list[dict[str, float]]:
    """The shadow model's own logged choice in each slot; nothing where it did not shadow the decision."""
    has = _shadowed(policy, impressions)
    return [
        {items[pos]: 1.0} if ok and pos < len(items) else {}
        for ok, items, pos in zip(has, impressions["shadow_items"], impressions["position"])
    ]


def _shadowed(policy: str, impressions: pd.DataFrame) -> pd.Series:
    """Which impressions the shadow model (any, or the named version) scored."""
    wanted = policy.removeprefix("shadow").removeprefix(":") or None
    has = impressions["shadow_version"].notna()
    if wanted:
        has &= impressions["shadow_version"] == wanted
    if not has.any():
        raise NotFound(f"no decisions in the log were shadowed{' by ' + wanted if wanted else ''}")
    return has


def _candidate_sets(impressions: pd.DataFrame) -> list[tuple[str, ...]]:
    """Each impression's candidate set: as logged, else every item shown in that placement."""
    shown = impressions.groupby("placement")["item_id"].agg(lambda s: tuple(sorted(set(s)))).to_dict()
    logged = impressions["candidates"] if "candidates" in impressions else [()] * len(impressions)
    return [tuple(c) if len(c) else shown.get(p, ()) for c, p in zip(logged, impressions["placement"])]


def _model_rankings(bundle, impressions, candidates, events, journey, catalog) -> list[list[str]]:
    """At each logged decision, replayed point in time, its candidates ranked by the model's objective."""
    rankings: list[list[str]] = [[] for _ in range(len(impressions))]
    decisions = _logged_decisions(impressions)
    who = events["who"].to_numpy() if "who" in events else None  # person keys where load_logged set them
    for moment in point_in_time(events, decisions, journey, bundle.spec.recent_cap, who):
        if moment.kind != DECISION:
            continue
        rows = moment.record["rows"]
        row = impressions.iloc[rows[0]]
        items = list(candidates[rows[0]])
        profile = row["profile"] if isinstance(row["profile"], dict) else {}
        scores = _objective_scores(
            bundle, catalog, row["placement"], moment.context, profile, row["channel"], row["ts"], items
        )
        ranking = [items[i] for i in np.argsort(-scores, kind="stable")]
        for index in rows:
            rankings[index] = ranking
    return rankings


def _logged_decisions(impressions: pd.DataFrame) -> list[dict]:
    """One entry per decision, in time order: its `ts`, `who` (its person key, else user, else visitor) and
    impression rows."""
    decisions: dict[str, dict] = {}
    for index in np.argsort(impressions["ts"].to_numpy(), kind="stable"):
        row = impressions.iloc[index]
        entry = decisions.get(row["decision_id"])
        if entry is None:
            who = row["user_id"] if isinstance(row["user_id"], str) else row["visitor_id"]
            who = row["who"] if "who" in row else who
            entry = decisions[row["decision_id"]] = {"ts": float(row["ts"]), "who": who, "rows": []}
        entry["rows"].append(int(index))
    return list(decisions.values())


def _objective_scores(bundle, catalog: Catalog, placement: str, ctx, profile, channel, now: float, items: list[str]):
    """The model's scores under the placement's objective (click, value or progress) as the service
    computes them, with the profile attributes the decision logged; P(response) where the placement or
    an item is not in the catalog."""
    known = catalog.placements.get(placement)
    if known is not None and all(item in catalog.items for item in items):
        return score_candidates(bundle, catalog, known, ctx, profile, channel, now, items).scores
    matrix = bundle.spec.content_matrix(ctx, now, channel, items, bundle.item_stats, catalog.items, profile)
    return bundle.content.predict(matrix)


def _reward_rates(impressions: pd.DataFrame, rewards: np.ndarray) -> tuple[dict[tuple[str, str], float], float]:
    """Per (placement, item), the logged mean reward smoothed toward the overall mean; and that mean."""
    overall = float(rewards.mean()) if len(rewards) else 0.0
    stats = impressions.assign(r=rewards).groupby(["placement", "item_id"])["r"].agg(["sum", "count"])
    return ((stats["sum"] + PRIOR * overall) / (stats["count"] + PRIOR)).to_dict(), overall

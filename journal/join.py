"""Join outcomes to the decisions that showed them, within a reward window; count what does not join.

Shared by training (content model, IPS) and the lift report (service and CLI).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from journal.identity import LINK_COLUMNS, person_keys


@dataclasses.dataclass
class Joined:
    impressions: pd.DataFrame
    """One row per shown item, with `reward` (0/1), `reward_value` and `matched_by`."""
    counts: dict


def join_outcomes(
    impressions: pd.DataFrame,
    events: pd.DataFrame,
    reward_types,
    window_s: float,
    placement_rewards: dict[str, tuple[str, ...]] | None = None,
    links: pd.DataFrame | None = None,
) -> Joined:
    """Attach to each impression whether the visitor responded to it within `window_s`.

    What counts as a response is `reward_types`, or, for a placement in `placement_rewards`, the
    event types that placement names as its reward.

    Rule 1 (`decision_id`): an outcome carrying the decision's id and the item (or no item: then
    the decision's first item). Rule 2 (`last_shown`): an outcome without a decision id counts for
    the latest decision that showed that item to that person before it, within the window: "that
    person" is the person key (journal.identity.person_keys) under `links`, so an outcome on one
    device counts for a decision shown on another device of the same person; without `links`, the
    user_id, else the visitor_id.
    Outcomes after the window are `late`; a second outcome for one impression is a `duplicate`;
    one naming an unknown decision, or matching nothing, is an `orphan`. All are counted.
    """
    impressions = _with_keys(impressions.reset_index(drop=True), links)
    impressions["impression"] = np.arange(len(impressions))
    placement_rewards = placement_rewards or {}
    all_types = set(reward_types).union(*placement_rewards.values()) if placement_rewards else set(reward_types)
    outcomes = _with_keys(events.loc[events["type"].isin(list(all_types))], links)
    counts = {
        "outcomes": int(len(outcomes)),
        "by_decision_id": 0,
        "by_last_shown": 0,
        "late": 0,
        "duplicate": 0,
        "orphan": 0,
    }

    with_id = outcomes[outcomes["decision_id"].notna()]
    without_id = outcomes[outcomes["decision_id"].isna()]
    first_items = impressions.sort_values("position").drop_duplicates("decision_id")[["decision_id", "item_id"]]
    with_id = with_id.assign(
        item_id=with_id["item_id"].fillna(with_id["decision_id"].map(first_items.set_index("decision_id")["item_id"]))
    )
    by_id = with_id.merge(
        impressions[["decision_id", "item_id", "impression", "ts"]],
        on=["decision_id", "item_id"],
        how="left",
        suffixes=("", "_shown"),
    )
    counts["orphan"] += int(by_id["impression"].isna().sum())
    by_id = by_id[by_id["impression"].notna()]
    late = (by_id["ts"] - by_id["ts_shown"]) > window_s
    counts["late"] += int(late.sum())
    matched = [by_id.loc[~late, ["impression", "value", "ts", "type"]].assign(rule="decision_id")]

    if len(without_id) and len(impressions):
        shown = impressions[["who", "item_id", "ts", "impression"]].sort_values("ts")
        asof = pd.merge_asof(
            without_id.dropna(subset=["item_id"]).sort_values("ts"),
            shown,
            on="ts",
            by=["who", "item_id"],
            direction="backward",
            tolerance=window_s,
        )
        counts["orphan"] += int(asof["impression"].isna().sum() + without_id["item_id"].isna().sum())
        matched.append(
            asof.loc[asof["impression"].notna(), ["impression", "value", "ts", "type"]].assign(rule="last_shown")
        )
    else:
        counts["orphan"] += int(len(without_id))

    hits = pd.concat(matched, ignore_index=True).sort_values("ts", kind="stable")
    if placement_rewards:
        placements = impressions["placement"].to_numpy()[hits["impression"].astype(int).to_numpy()]
        allowed = [t in placement_rewards.get(p, reward_types) for t, p in zip(hits["type"], placements)]
        counts["not_this_placements_reward"] = int(len(hits) - sum(allowed))
        hits = hits[np.asarray(allowed, dtype=bool)]
    first = ~hits.duplicated("impression", keep="first")
    counts["duplicate"] = int((~first).sum())
    hits = hits[first]
    counts["by_decision_id"] = int((hits["rule"] == "decision_id").sum())
    counts["by_last_shown"] = int((hits["rule"] == "last_shown").sum())
    index = hits["impression"].astype(int).to_numpy()
    impressions["reward"] = 0
    impressions["reward_value"] = 0.0
    impressions["matched_by"] = None
    impressions.loc[index, "reward"] = 1
    impressions.loc[index, "reward_value"] = pd.to_numeric(hits["value"], errors="coerce").fillna(0.0).to_numpy(float)
    impressions.loc[index, "matched_by"] = hits["rule"].to_numpy()
    return Joined(impressions.drop(columns=["impression"]), counts)


def _with_keys(frame: pd.DataFrame, links: pd.DataFrame | None) -> pd.DataFrame:
    """A copy with `who` (the person key under `links`: user, else the device's person, else visitor)
    and the join keys in one dtype on both sides.

    The readers differ: pandas 3 reads strings as `str`, a column of None stays `object`, and
    merge_asof refuses keys of two dtypes ("incompatible merge keys"); object holds both.
    """
    frame = frame.copy()
    for column in ("decision_id", "visitor_id", "user_id", "item_id"):
        if column in frame:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame["ts"] = frame["ts"].astype(float)
    frame["who"] = person_keys(frame, links if links is not None else _NO_LINKS)
    return frame


_NO_LINKS = pd.DataFrame(columns=LINK_COLUMNS)

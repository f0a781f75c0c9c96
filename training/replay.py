"""Training rows from the journal's point-in-time replay (journal/replay.py) and the serving feature code."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from journal.identity import links_seen_together, person_keys
from journal.replay import BEFORE_EVENT, DECISION, point_in_time
from models.features import FeatureSpec, ItemStats
from models.journey import EXIT
from models.pools import TagIndex
from models.retrieval import Generators, Retrieval, candidates, recent_items, tag_profile


@dataclasses.dataclass
class NextStageRows:
    X: np.ndarray
    y: np.ndarray
    ts: np.ndarray


@dataclasses.dataclass
class ContentRows:
    X: np.ndarray
    y: np.ndarray
    ts: np.ndarray
    group: np.ndarray
    """Rows sharing a group id were one choice: the item engaged with and the sampled alternatives."""
    item_ids: list
    stages: list
    weight: np.ndarray | None = None
    """Inverse-propensity weights, when the rows are logged impressions."""
    source: str = "engagements"


@dataclasses.dataclass
class Replay:
    next_stage: NextStageRows
    content: ContentRows
    item_stats: ItemStats
    stage_mix: dict
    candidate_items: int = 0
    """How many items the engagement rows' negatives were drawn from (the data's own, and the catalog's)."""
    signals_at_split: Retrieval | None = None
    """The generators frozen just before the first event at or after `split_at`: what a bundle made at the
    split would serve with (the full-catalog evaluation ranks with it)."""


def next_stage_labels(
    events: pd.DataFrame, spec: FeatureSpec, horizon_s: float, who: np.ndarray | None = None
) -> np.ndarray:
    """For each event: the class of the person's next stage-bearing touchpoint within the horizon.

    `who`: each event's person key (default: profile_keys, user else visitor). EXIT when there is
    none within it; -1 (unknown, dropped) when the data ends before the horizon does.
    """
    classes = {s: i for i, s in enumerate(spec.journey.next_stage_classes)}
    who = profile_keys(events) if who is None else pd.Series(who, index=events.index)
    stage = events["type"].map(spec.journey.events)
    order = np.lexsort((events["ts"].to_numpy(), who.to_numpy()))
    frame = pd.DataFrame({"who": who, "ts": events["ts"]}).iloc[order]
    frame["next_stage"] = stage.map(classes).iloc[order]
    frame["next_ts"] = np.where(frame["next_stage"].notna(), frame["ts"], np.nan)
    # The next stage-bearing event strictly after each row: shift by one, then back-fill per visitor.
    grouped = frame.groupby("who", sort=False)
    frame["label"] = grouped["next_stage"].shift(-1)
    frame["label_ts"] = grouped["next_ts"].shift(-1)
    frame[["label", "label_ts"]] = frame.groupby("who", sort=False)[["label", "label_ts"]].bfill()
    end = events["ts"].max()
    within = (frame["label_ts"] - frame["ts"]) <= horizon_s
    labels = np.where(within, frame["label"], classes[EXIT])
    censored = ~within & (frame["ts"] + horizon_s > end)
    labels = np.where(censored, -1, labels).astype(int)
    out = np.empty(len(events), dtype=int)
    out[order] = labels
    return out


def profile_keys(events: pd.DataFrame) -> pd.Series:
    """Per event, whose context it folds into (models.context.profile_key, vectorised)."""
    if "user_id" not in events:
        return events["visitor_id"]
    return events["user_id"].where(events["user_id"].notna(), events["visitor_id"])


def replay(
    events: pd.DataFrame,
    spec: FeatureSpec,
    catalog_items: dict,
    horizon_s: float,
    negatives: int = 4,
    max_rows: int | None = None,
    seed: int = 7,
    profiles: dict | None = None,
    impressions: pd.DataFrame | None = None,
    min_propensity: float = 0.05,
    split_at: float | None = None,
    max_choices: int | None = None,
    count=None,
    links: pd.DataFrame | None = None,
) -> Replay:
    """Fold events in time order, per person; emit a next-stage row after each event.

    A person's events are those of every device linked to them (journal.identity.person_keys under
    `links`, default: the links the events carry), so the rows follow the person's journey across
    devices, as serving folds a linked device's events into the person's context.

    Contexts keep `spec.recent_cap` recent touchpoints, as the service keeps its recent_events_cap.
    Content rows: with logged `impressions` (joined to their rewards), one row per shown item with
    the context as it was at the decision, the profile the decision logged (what the model read;
    `profiles` where it logged none), its position, and weight 1 / max(propensity,
    min_propensity); without, a choice before each item touch between that item and random others.
    With `split_at`, the generators are also frozen as they stood just before it (`signals_at_split`).
    With `max_choices`, about that many touches (a uniform sample) become choices; every touch still
    counts in the contexts, the generators and the item stats. `count`, if given, is called once per
    event or decision folded (a progress counter, training/progress.py).
    """
    rng = np.random.default_rng(seed)
    links = links if links is not None else links_seen_together(events, "event")
    who = person_keys(events, links)
    labels = next_stage_labels(events, spec, horizon_s, who)
    sampled = np.ones(len(events), dtype=bool)
    if max_rows and len(events) > max_rows:
        sampled = rng.random(len(events)) < max_rows / len(events)
    keep_row = sampled & (labels >= 0)
    staged = events["type"].map(spec.journey.events).notna().to_numpy()
    touches = sampled & events["item_id"].notna().to_numpy() & staged
    chooses = touches  # the touches that become a content choice (a group of 1 + negatives rows)
    if max_choices and touches.sum() > max_choices:
        chooses = touches & (rng.random(len(events)) < max_choices / touches.sum())
    universe = sorted(set(events["item_id"].dropna().unique()) | set(catalog_items))
    universe_index = {item: i for i, item in enumerate(universe)}
    tags_index = TagIndex.of(catalog_items)  # tag matches without scanning the catalog per touch
    profiles = profiles or {}
    item_stats = ItemStats()
    generators = item_stats.signals = Generators()
    touched: list[str] = []
    """Every item touch so far: a uniform draw from it is a popularity-weighted draw of an item."""
    stage_mix: dict[str, int] = {}
    ns_X, ns_y, ns_ts = [], [], []
    ct_X, ct_y, ct_ts, ct_group, ct_items, ct_stages, ct_weight = [], [], [], [], [], [], []
    journey = spec.journey
    use_impressions = impressions is not None and len(impressions) > 0
    decisions = _decision_groups(impressions, links) if use_impressions else []
    at_split = None

    for moment in point_in_time(events, decisions, journey, spec.recent_cap, who):
        if count is not None:
            count()
        ctx = moment.context
        if moment.kind == DECISION:
            d = moment.record
            profile = d["profile"] if d["profile"] is not None else profiles.get(d["who"], {})
            ct_X.append(
                spec.content_matrix(
                    ctx, d["ts"], d["channel"], d["items"], item_stats, catalog_items, profile, d["positions"]
                )
            )
            ct_y.extend(d["rewards"])
            for item_id, reward in zip(d["items"], d["rewards"]):
                # counted after the decision's own rows: a later decision sees it, this one does not
                item_stats.add_impression(item_id, bool(reward), d["channel"])
            ct_ts.extend([d["ts"]] * len(d["items"]))
            ct_group.extend([moment.index] * len(d["items"]))
            ct_items.extend(d["items"])
            ct_stages.extend([ctx["stage"]] * len(d["items"]))
            ct_weight.extend(1.0 / np.clip(np.nan_to_num(d["propensities"], nan=1.0), min_propensity, 1.0))
            continue
        event, row_index = moment.record, moment.index
        if at_split is None and split_at is not None and event["ts"] >= split_at:
            at_split = generators.freeze()
        item = event["item_id"]
        stage = journey.stage_of(event["type"])
        if moment.kind == BEFORE_EVENT:
            before = recent_items(ctx, spec.recent_cap) if item is not None else []
            if not use_impressions and chooses[row_index]:
                tags = tag_profile(before, catalog_items)
                popular = generators.trending(HARD_FROM)
                proposed = candidates(generators, before, popular, catalog_items, tags, HARD_FROM, None, tags_index)
                choice = _sample_choice(item, universe, universe_index, negatives, rng, list(proposed), touched)
                profile = profiles.get(who[row_index], {})
                ct_X.append(
                    spec.content_matrix(ctx, event["ts"], event["channel"], choice, item_stats, catalog_items, profile)
                )
                ct_y.extend([1] + [0] * (len(choice) - 1))
                ct_ts.extend([event["ts"]] * len(choice))
                ct_group.extend([row_index] * len(choice))
                ct_items.extend(choice)
                ct_stages.extend([ctx["stage"]] * len(choice))
            if item is not None:
                # counted after this touch's own row: its features saw only earlier touches
                generators.add(before, item, event["ts"])
                touched.append(item)
            continue
        if item is not None and stage is not None:
            item_stats.add(item, stage)
        stage_mix[stage or "(no stage)"] = stage_mix.get(stage or "(no stage)", 0) + 1
        if keep_row[row_index]:
            ns_X.append(spec.context_row(ctx, event["ts"], event["channel"], profiles.get(who[row_index])))
            ns_y.append(labels[row_index])
            ns_ts.append(event["ts"])
    width_ns, width_ct = len(spec.context_names), len(spec.content_names)
    return Replay(
        next_stage=NextStageRows(
            X=np.asarray(ns_X, dtype=np.float64).reshape(-1, width_ns),
            y=np.asarray(ns_y, dtype=int),
            ts=np.asarray(ns_ts),
        ),
        content=ContentRows(
            X=np.vstack(ct_X) if ct_X else np.empty((0, width_ct)),
            y=np.asarray(ct_y, dtype=int),
            ts=np.asarray(ct_ts),
            group=np.asarray(ct_group),
            item_ids=ct_items,
            stages=ct_stages,
            weight=np.asarray(ct_weight) if use_impressions else None,
            source="impressions" if use_impressions else "engagements",
        ),
        item_stats=item_stats,
        stage_mix=stage_mix,
        candidate_items=len(universe),
        signals_at_split=at_split if at_split is not None or split_at is None else generators.freeze(),
    )


def _decision_groups(impressions: pd.DataFrame, links: pd.DataFrame) -> list[dict]:
    """Impressions grouped into decisions, in time order, each with its shown items, rewards and person."""
    frame = impressions.assign(who=person_keys(impressions, links)).sort_values(
        ["ts", "decision_id", "position"], kind="stable"
    )
    groups = []
    for decision_id, rows in frame.groupby("decision_id", sort=False):
        logged_profile = rows["profile"].iloc[0] if "profile" in rows else None
        groups.append(
            {
                "decision_id": decision_id,
                "who": rows["who"].iloc[0],
                "ts": float(rows["ts"].iloc[0]),
                "channel": rows["channel"].iloc[0],
                "items": rows["item_id"].tolist(),
                "positions": rows["position"].astype(int).tolist(),
                "rewards": rows["reward"].astype(int).tolist(),
                "propensities": rows["propensity"].to_numpy(dtype=float),
                "profile": logged_profile if isinstance(logged_profile, dict) else None,
            }
        )
    groups.sort(key=lambda g: g["ts"])
    return groups


HARD_FROM = 300
"""Hard negatives are drawn from the first this many items the generators propose: what serving ranks
(models.scoring.SHORTLIST), trending standing in for stage popularity."""
HARD_PER_NEGATIVE = 1
"""Hard negatives per `negatives`. YOOCHOOSE, first 3,000 test prefixes of the scratch full-catalog
evaluation: 1 (8 rows a choice) hit@20 0.651 MRR@20 0.364 in 60 s CPU; 2 (12 rows) 0.630 / 0.364 in 82 s."""


def _sample_choice(item, universe, universe_index, negatives, rng, proposed=(), touched=()) -> list:
    """The engaged item first, then the negatives that matter: up to 2 x `negatives` of what retrieval
    proposed (hard negatives), `negatives` // 2 drawn by popularity, and one drawn uniformly."""
    if len(universe) <= 1:
        return [item]
    hard = [p for p in proposed if p != item]
    if len(hard) > HARD_PER_NEGATIVE * negatives:
        size = HARD_PER_NEGATIVE * negatives
        hard = [hard[k] for k in sorted(rng.choice(len(hard), size=size, replace=False))]
    chosen = dict.fromkeys([item, *hard])
    if touched:
        for k in rng.integers(0, len(touched), size=negatives // 2):
            chosen.setdefault(touched[k], None)
    count = min(1 if proposed else negatives, len(universe) - 1)
    picks = rng.choice(len(universe) - 1, size=count, replace=False)
    own = universe_index.get(item, len(universe))
    for p in picks:
        chosen.setdefault(universe[p + 1] if p >= own else universe[p], None)
    return list(chosen)

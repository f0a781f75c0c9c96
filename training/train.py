"""Train both models on earlier data, compare them with baselines on later data, register a bundle."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np

from journal.identity import all_links, ids_seen
from journal.join import join_outcomes
from journal.skipped import describe_skipped, skipped_lines
from models.bundle import BUNDLE_FORMAT, ModelBundle, library_versions
from models.catalog import Catalog
from models.content import ContentModel, PopularityBaseline, RandomBaseline
from models.errors import WayfinderError
from models.features import DEFAULT_RECENT_CAP, FeatureSpec
from models.journey import JourneyMap
from models.next_stage import BaseRateBaseline, MarkovChainBaseline, NextStageModel
from models.registry import Registry, new_version
from training.decision_logs import decision_files, logged_profiles, placement_rewards, read_impressions
from training.event_checks import EventChecks
from training.metrics import binary_metrics, multiclass_metrics
from training.ranking_evaluation import FULL_CATALOG_QUERIES, full_catalog_metrics
from training.readers import fingerprint, read_events
from training.refit import boosting_rounds, refit_content, refit_next_stage
from training.replay import replay
from training.report import write_training_report

TEST_SHARE = 0.2
MAX_CHOICES = 50_000
"""Content choices (8 rows each) at most: bounds training's memory and time on a long log. The Complete
Journey has 162,437 touches: all of them took 2.6 GB and its replay 60 s; 50,000 take 1.5 GB and 29 s
with the same full-catalog figures (MRR@20 0.1292 against 0.1296 at 100,000), as on YOOCHOOSE (70,277
touches; with history HR@20 0.703 and MRR@20 0.385 either way)."""
VALID_SHARE = 0.1


class NotEnoughData(WayfinderError):
    code = "not_enough_data"


def time_split(ts: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows strictly before the cutoff train; the rest test. Time is never shuffled."""
    return ts < cutoff, ts >= cutoff


def train(
    events_path: Path | str,
    registry_dir: Path | str,
    journey: JourneyMap,
    catalog: Catalog | None,
    horizon_days: float = 30.0,
    promote: bool = True,
    # promote=True makes a first version current; later ones must pass `promote`'s gate.
    max_bad_rows: int = 0,
    max_rows: int | None = None,
    progress=print,
    decisions_path: Path | str | None = None,
    reward_types: tuple[str, ...] | None = None,
    reward_window_hours: float = 24.0,
    profiles: dict | None = None,
    recent_cap: int = DEFAULT_RECENT_CAP,
    negatives: int = 4,
    checks: EventChecks | None = None,
    full_catalog_queries: int | None = FULL_CATALOG_QUERIES,
    split_at: float | None = None,
    max_choices: int | None = MAX_CHOICES,
    count=None,
) -> dict:
    """The whole training run; returns the summary that `--json` prints.

    With `decisions_path` and no `profiles`, next-stage rows read the profile each visitor's latest
    logged decision read (static per visitor, as a profiles file is).
    `catalog`: the items of the data being trained on (their tags, values, stages; negatives are
    drawn from them too), or None when the data has none (an imported data set). `recent_cap`: how
    many recent touchpoints a context keeps, the service's recent_events_cap. Both, and every other
    setting that shapes features, are recorded in the bundle (`feature_settings`). Events read from
    files get the API's `checks` (default: the journey map's types and channels, the default time
    bounds); bad rows count against `max_bad_rows`. The content model is also ranked against the whole
    catalog beside the ranking baselines on at most `full_catalog_queries` later engagements (None: all).
    Evaluation holds out the events from `split_at` on (epoch seconds; default: the latest TEST_SHARE).
    At most about `max_choices` item touches (a uniform sample; None: all) become content choices.
    `count` is called once per event or decision the replay folds (a progress counter).

    With `decisions_path`, the content model learns from logged impressions joined to their
    outcomes (rewards: `reward_types`, default the journey map's outcomes, within the window),
    weighted by inverse logged propensity; otherwise from the items visitors engaged with.
    """
    started = time.perf_counter()
    progress(f"reading events from {events_path}")
    checks = checks or EventChecks.from_settings(journey)
    events = read_events(events_path, max_bad_rows=max_bad_rows, checks=checks)
    # fingerprints as read: lines a live service appends while this runs are not data it learned from
    data_fingerprint = fingerprint(events.attrs["files"])
    if len(events) < 50:
        raise NotEnoughData(f"{len(events)} events in {events_path}: need at least 50 to train and evaluate")
    spec = FeatureSpec(journey, recent_cap=recent_cap)
    profiles_from = "a profiles file" if profiles is not None else None
    catalog_items = catalog.items if catalog is not None else {}
    joined = None
    bad_decision_lines = None
    links = all_links(Path(events_path).parent, events)  # who is who: journal/identity.py
    if decisions_path is not None:
        impressions = read_impressions(decisions_path)
        links = all_links(Path(events_path).parent, ids_seen(events, impressions))
        bad_decision_lines = impressions.attrs["bad_lines"]
        if profiles is None:
            profiles = logged_profiles(impressions)
            profiles_from = "the decision log"
        decisions_fingerprint = fingerprint([str(f) for f in decision_files(decisions_path)])
        rewards = tuple(reward_types or journey.outcomes)
        joined = join_outcomes(
            impressions, events, rewards, reward_window_hours * 3600, placement_rewards(impressions), links
        )
        progress(
            f"joined {len(impressions):,} impressions to outcomes {list(rewards)}: "
            + ", ".join(f"{k} {v:,}" for k, v in joined.counts.items())
        )
    skipped = skipped_lines(events.attrs["bad_lines"], bad_decision_lines)
    if describe_skipped(skipped):
        progress(describe_skipped(skipped))
    progress(f"replaying {len(events):,} events from {events['visitor_id'].nunique():,} visitors")
    cutoff = _split(events["ts"], split_at)
    rows = replay(
        events,
        spec,
        catalog_items,
        horizon_days * 86_400,
        negatives=negatives,
        max_rows=max_rows,
        profiles=profiles,
        impressions=joined.impressions if joined is not None else None,
        split_at=cutoff,
        max_choices=max_choices,
        count=count,
        links=links,
    )
    progress(f"training on events before {_iso(cutoff)}, evaluating on the rest")
    next_stage, next_stage_metrics = _fit_next_stage(rows.next_stage, spec, cutoff)
    progress("next-stage model fitted")
    # Decisions may cover only a recent stretch of the events: split them on their own time.
    content_cutoff = cutoff if rows.content.source == "engagements" else _quantile(rows.content.ts)
    content, content_metrics = _fit_content(rows.content, spec, content_cutoff)
    progress("content model fitted")
    full_catalog = full_catalog_metrics(
        events,
        spec,
        content_cutoff,
        content,
        catalog_items,
        # frozen at `cutoff`: a content split at or after it reads nothing the queries' future holds
        rows.signals_at_split if content_cutoff >= cutoff else None,
        profiles,
        max_queries=full_catalog_queries,
    )
    progress(f"full-catalog evaluation on {full_catalog['queries']:,} queries: {full_catalog['verdict']}")
    next_stage, next_stage_metrics["refit"] = refit_next_stage(next_stage, rows.next_stage, spec.context_names)
    content, content_metrics["refit"] = refit_content(content, rows.content, spec.content_names)
    progress("both models refitted on all the data with the rounds evaluation found")
    rows.item_stats.signals = rows.item_stats.signals.freeze()  # the generators, as serving reads them
    version = new_version()
    files = events.attrs["files"]
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "features": spec.signature,
        "next_stage_classes": list(journey.next_stage_classes),
        "horizon_days": horizon_days,
        "feature_settings": {
            "recent_events_cap": recent_cap,
            "horizon_days": horizon_days,
            "negatives": negatives,
            "reward_types": list(reward_types or journey.outcomes),
            "reward_window_hours": reward_window_hours,
            "max_rows": max_rows,
            "max_choices": max_choices,
            "profiles": profiles_from,
        },
        "journey": journey.to_dict(),
        "libraries": library_versions(),
        "data": {
            "paths": files,
            "fingerprint": data_fingerprint,
            "events": int(len(events)),
            "visitors": int(events["visitor_id"].nunique()),
            "bad_rows_skipped": len(events.attrs["bad_rows"]),
            "bad_rows_by_reason": events.attrs["bad_by_reason"],
            "bad_lines_skipped": skipped,
            "time_range": [_iso(events["ts"].min()), _iso(events["ts"].max())],
            "split_at": _iso(cutoff),
            "stage_mix": rows.stage_mix,
            "content_rows_from": rows.content.source,
            "catalog": {"items": len(catalog_items)} if catalog is not None else None,
            "candidate_items": rows.candidate_items,
            **(
                {
                    "decisions": str(decisions_path),
                    "decisions_fingerprint": decisions_fingerprint,
                    "outcome_join": joined.counts,
                }
                if joined is not None
                else {}
            ),
        },
        "metrics": {"next_stage": next_stage_metrics, "content": content_metrics},
        "full_catalog": full_catalog,
        "feature_importance": {
            "next_stage": _importance(next_stage.booster_),
            "content": _importance(content.booster_),
        },
    }
    bundle = ModelBundle(version, manifest, spec, next_stage, content, rows.item_stats)
    registry = Registry(registry_dir)
    path = registry.write(version, lambda directory: (bundle.save(directory), write_training_report(directory)))
    if promote and registry.current() is None:
        registry.promote(version, reason="first version")
    elif promote:
        progress(
            f"registered {version}; the champion {registry.current()} stays current until "
            f"`python -m training promote {version}` passes the gate"
        )
    return {
        "version": version,
        "path": str(path),
        "report": str(path / "report.html"),
        "current": registry.current() == version,
        "seconds": round(time.perf_counter() - started, 2),
        "events": int(len(events)),
        "skipped": skipped,
        "bad_rows_by_reason": events.attrs["bad_by_reason"],
        "rows": {
            "next_stage": next_stage_metrics["rows"],
            "content": content_metrics["rows"],
        },
        "metrics": manifest["metrics"],
        "full_catalog": full_catalog,
    }


def _split(ts, split_at: float | None) -> float:
    """Where evaluation starts: `split_at` when it leaves events on both sides, else the latest TEST_SHARE."""
    if split_at is None:
        return float(np.quantile(ts, 1 - TEST_SHARE))
    before = int((ts < split_at).sum())
    if before < 50 or before == len(ts):
        raise NotEnoughData(
            f"--split-at {_iso(split_at)} leaves {before:,} events before it and {len(ts) - before:,} from it on: "
            f"the events run from {_iso(ts.min())} to {_iso(ts.max())}; need at least 50 before and 1 after"
        )
    return float(split_at)


def _fit_next_stage(rows, spec: FeatureSpec, cutoff: float):
    n_classes = len(spec.journey.next_stage_classes)
    train_mask, test_mask = time_split(rows.ts, cutoff)
    if train_mask.sum() < 20 or test_mask.sum() < 5:
        raise NotEnoughData("too few next-stage rows on one side of the time split; send more history")
    X_fit, y_fit, X_valid, y_valid, _ = _valid_tail(rows.X[train_mask], rows.y[train_mask], rows.ts[train_mask])
    model = NextStageModel(n_classes).fit(X_fit, y_fit, X_valid, y_valid, feature_names=spec.context_names)
    markov = MarkovChainBaseline(n_classes, stage_column=spec.context_names.index("stage_idx")).fit(
        rows.X[train_mask], rows.y[train_mask]
    )
    base_rate = BaseRateBaseline(n_classes).fit(rows.X[train_mask], rows.y[train_mask])
    X_test, y_test = rows.X[test_mask], rows.y[test_mask]
    classes = list(spec.journey.next_stage_classes)
    metrics = {
        "rows": {"train": int(train_mask.sum()), "test": int(test_mask.sum())},
        "model": multiclass_metrics(model.predict_proba(X_test), y_test, classes),
        "baselines": {
            "markov_chain": multiclass_metrics(markov.predict_proba(X_test), y_test, classes),
            "base_rate": multiclass_metrics(base_rate.predict_proba(X_test), y_test, classes),
        },
    }
    metrics["beats_baselines"] = all(
        metrics["model"]["log_loss"] < b["log_loss"] for b in metrics["baselines"].values()
    )
    metrics["evaluated_num_trees"] = boosting_rounds(model.booster_)
    return model, metrics


def _fit_content(rows, spec: FeatureSpec, cutoff: float):
    train_mask, test_mask = time_split(rows.ts, cutoff)
    if train_mask.sum() < 20 or test_mask.sum() < 5 or rows.y[train_mask].sum() == 0:
        raise NotEnoughData("too few content rows (touchpoints with an item_id) on one side of the time split")
    weight = rows.weight if rows.weight is not None else np.ones(len(rows.y))
    X_fit, y_fit, X_valid, y_valid, w_fit = _valid_tail(
        rows.X[train_mask], rows.y[train_mask], rows.ts[train_mask], weight[train_mask]
    )
    model = ContentModel().fit(
        X_fit, y_fit, weight=w_fit, X_valid=X_valid, y_valid=y_valid, feature_names=spec.content_names
    )
    items, stages = np.asarray(rows.item_ids, dtype=object), np.asarray(rows.stages, dtype=object)
    popularity = PopularityBaseline().fit(
        items[train_mask], stages[train_mask], rows.y[train_mask], weight=weight[train_mask]
    )
    random = RandomBaseline().fit(rows.y[train_mask])
    X_test, y_test, group = rows.X[test_mask], rows.y[test_mask], rows.group[test_mask]
    metrics = {
        "rows": {"train": int(train_mask.sum()), "test": int(test_mask.sum())},
        "split_at": _iso(cutoff),
        "trained_on": rows.source,
        "ips_weights": _weight_summary(rows.weight),
        "model": binary_metrics(model.predict(X_test), y_test, group),
        "baselines": {
            "popularity": binary_metrics(popularity.predict(items[test_mask], stages[test_mask]), y_test, group),
            "random": binary_metrics(random.predict(int(test_mask.sum())), y_test, group),
        },
    }
    metrics["beats_baselines"] = all(
        metrics["model"]["log_loss"] < b["log_loss"] for b in metrics["baselines"].values()
    )
    metrics["evaluated_num_trees"] = boosting_rounds(model.booster_)
    return model, metrics


def _quantile(ts: np.ndarray) -> float:
    return float(np.quantile(ts, 1 - TEST_SHARE)) if len(ts) else 0.0


def _importance(booster) -> dict[str, float]:
    """Total gain per feature, largest first."""
    gains = booster.feature_importance(importance_type="gain")
    pairs = sorted(zip(booster.feature_name(), gains), key=lambda pair: -pair[1])
    return {name: round(float(gain), 2) for name, gain in pairs}


def _valid_tail(X, y, ts, weight=None):
    """Split the latest VALID_SHARE of the training rows off for early stopping and calibration."""
    if len(ts) < 50:
        return X, y, None, None, weight
    edge = np.quantile(ts, 1 - VALID_SHARE)
    fit, valid = ts < edge, ts >= edge
    if fit.sum() < 20 or valid.sum() < 10:
        return X, y, None, None, weight
    return X[fit], y[fit], X[valid], y[valid], (weight[fit] if weight is not None else None)


def _weight_summary(weight) -> dict | None:
    """How far the logged policy was from uniform: the spread of the inverse-propensity weights."""
    if weight is None:
        return None
    return {
        "min": round(float(weight.min()), 3),
        "mean": round(float(weight.mean()), 3),
        "max": round(float(weight.max()), 3),
        "effective_sample_size": round(float(weight.sum() ** 2 / (weight**2).sum()), 1),
    }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(float(ts), dt.UTC).isoformat().replace("+00:00", "Z")

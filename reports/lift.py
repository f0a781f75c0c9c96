"""Lift of personalization over the holdout, per placement and journey stage, from the decision and event logs.

The unit is one decision. The comparison is intention to treat: every decision that is not
in the holdout (policy model, fallback, default or capped) against the holdout decisions.
The holdout is drawn by a hash of visitor and placement before the model is consulted, so
the two groups differ only by being offered personalization; restricting the treated side
to `model` decisions would compare visitors selected by consent, caps and outages instead.
Everything returned is plain JSON-ready values; reports.lift_html renders it.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from journal.decision_log import read_decision_log
from journal.event_log import day_files, read_daily_log
from journal.identity import LINK_COLUMNS, all_links, ids_seen, person_keys
from journal.join import join_outcomes
from journal.skipped import describe_skipped, skipped_lines
from models.errors import ValidationFailed
from models.journey import JourneyMap
from reports.lift_stats import CONFIDENCE, mean_difference_ci, rate_difference_ci, relative_lift_ci

MIN_DECISIONS = 30
"""A segment where either group has fewer decisions than this is 'insufficient data': no figures, a reason."""
MIN_SUCCESSES = 5
"""A metric whose numerator (responses, conversions, decisions with value) is under this in both groups is
'insufficient data' in that segment."""
DEFAULT_WINDOW_HOURS = 24.0
DEFAULT_CONVERSION_WINDOW_DAYS = 7.0
DEFAULT_REPORT_DAYS = 30
HOLDOUT = "holdout"
PERSONALIZED = "personalized"
GROUPS = (PERSONALIZED, HOLDOUT)
UNKNOWN_STAGE = "unknown"
OVERALL = "all stages"
HOUR, DAY = 3600.0, 86_400.0
_NO_LINKS = pd.DataFrame(columns=LINK_COLUMNS)
METRICS = {
    "response_rate": ("response rate", "responses"),
    "conversion_rate": ("conversion rate", "conversions"),
    "value_per_decision": ("value per decision", "decisions with value"),
}
"""metric: (words, what its numerator counts)."""
COMPARISON = (
    "intention to treat: every decision outside the holdout (policy model, fallback, default or capped) against "
    "the holdout's decisions; the holdout is assigned by a hash of visitor and placement before the model is "
    "consulted, so this is the unbiased comparison of offering personalization against not offering it"
)


def report_window(
    since: dt.datetime | float | None, until: dt.datetime | float | None, now: float | None = None
) -> tuple[float, float]:
    """(since, until) in epoch seconds: until defaults to now, since to DEFAULT_REPORT_DAYS before until."""
    until = _epoch(until) if until is not None else (now if now is not None else time.time())
    since = _epoch(since) if since is not None else until - DEFAULT_REPORT_DAYS * DAY
    if until <= since:
        raise ValidationFailed("until must be later than since", {"until": ["must be later than since"]})
    return since, until


def parse_instant(text: str, name: str) -> dt.datetime:
    """An ISO-8601 date or time (UTC when it names no zone), for the command line; `name` is the option."""
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: {text!r} is not an ISO-8601 date or time, e.g. 2026-03-01T00:00Z") from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def lift_from_log(
    data_dir: Path | str,
    journey: JourneyMap,
    *,
    since: dt.datetime | float | None = None,
    until: dt.datetime | float | None = None,
    placement: str | None = None,
    campaign: str | None = None,
    reward_types: tuple[str, ...] | list[str] | None = None,
    window_hours: float = DEFAULT_WINDOW_HOURS,
    conversion_window_days: float = DEFAULT_CONVERSION_WINDOW_DAYS,
    now: float | None = None,
) -> dict:
    """The lift report of the service's logs under `data_dir` (decisions/, events/), decisions in [since, until);
    with `campaign`, only that outbound campaign's decisions (its persons against its own holdout).

    Reads only the day files that can matter: decisions in [since, until + reward window) (a later
    decision showing the same item can claim an outcome without a decision id), and events in
    [since, until + the longer of the two windows).
    """
    now = time.time() if now is None else now
    since, until = report_window(since, until, now)
    window_s, conversion_s = window_hours * HOUR, conversion_window_days * DAY
    data_dir = Path(data_dir)
    log = read_decision_log(data_dir / "decisions", since, until + window_s)
    events_until = until + max(window_s, conversion_s)
    events = read_daily_log(data_dir / "events", since, events_until)
    rewards = tuple(reward_types or journey.outcomes)
    own_rewards = {} if reward_types else log.placement_rewards  # asked-for types count everywhere
    links = all_links(data_dir, ids_seen(events, log.decisions))
    decisions, impressions = log.decisions, log.impressions
    if campaign is not None:
        decisions = decisions.loc[decisions["campaign"] == campaign]
        impressions = impressions.loc[impressions["decision_id"].isin(decisions["decision_id"])]
    outcomes, join_counts = decision_outcomes(
        decisions,
        impressions,
        events,
        rewards,
        conversion_types(journey),
        window_s,
        conversion_s,
        own_rewards,
        links=links,
    )
    outcomes = outcomes.loc[(outcomes["ts"] >= since) & (outcomes["ts"] < until)]
    report = lift_report(
        outcomes,
        journey,
        since=since,
        until=until,
        placement=placement,
        reward_types=rewards,
        placement_rewards=own_rewards,
        window_hours=window_hours,
        conversion_window_days=conversion_window_days,
    )
    report["outcomes_joined"] = join_counts
    if campaign is not None:
        report["campaign"] = campaign
    report["read"] = {
        "decision_files": log.files,
        "event_files": len(day_files(data_dir / "events", since, events_until)),
        "bad_decision_lines": log.bad_lines,
        "bad_event_lines": int(events.attrs.get("bad_lines", 0)),
    }
    report["notes"].extend(_read_notes(report["read"], until, conversion_s, window_s, now))
    return report


def conversion_types(journey: JourneyMap) -> tuple[str, ...]:
    """The event types that evidence the journey map's conversion stage."""
    stage = conversion_stage(journey)
    return tuple(sorted(kind for kind, evidenced in journey.events.items() if evidenced == stage))


def conversion_stage(journey: JourneyMap) -> str:
    named = getattr(journey, "conversion", None)  # the map may name it; else "conversion", else the last stage
    if named:
        return named
    return "conversion" if "conversion" in journey.stages else journey.stages[-1]


def decision_outcomes(
    decisions: pd.DataFrame,
    impressions: pd.DataFrame,
    events: pd.DataFrame,
    reward_types: tuple[str, ...],
    conversion_event_types: tuple[str, ...],
    window_s: float,
    conversion_window_s: float,
    placement_rewards: dict[str, tuple[str, ...]] | None = None,
    links: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict]:
    """One row per decision with its group, stage, `responded`, `converted` and `value`; and the join's counts.

    Responded: one of its shown items got a reward-type outcome within `window_s` (by decision id,
    or as the last decision that showed the item; see models.join); a placement in
    `placement_rewards` counts its own types instead of `reward_types`. Converted: the person (the person
    key under `links`, journal.identity: user_id if given, else the device's person, else visitor_id)
    has a conversion event, on any of their devices, at most `conversion_window_s` after the decision;
    value is the sum of those events' `value`.
    """
    links = links if links is not None else _NO_LINKS
    joined = join_outcomes(impressions, events, reward_types, window_s, placement_rewards, links)
    responded = joined.impressions.groupby("decision_id")["reward"].max() if len(impressions) else pd.Series()
    frame = decisions.copy()
    frame["group"] = np.where(frame["policy"] == HOLDOUT, HOLDOUT, PERSONALIZED)
    frame["stage"] = frame["stage"].fillna(UNKNOWN_STAGE)
    frame["who"] = person_keys(frame, links)
    frame["responded"] = frame["decision_id"].map(responded).fillna(0).astype(bool)
    converted = _conversions(frame, events, conversion_event_types, conversion_window_s, links)
    frame["converted"] = frame["decision_id"].isin(converted.index)
    frame["value"] = frame["decision_id"].map(converted).fillna(0.0).astype(float)
    return frame, joined.counts


def _conversions(
    decisions: pd.DataFrame, events: pd.DataFrame, types: tuple[str, ...], window_s: float, links: pd.DataFrame
) -> pd.Series:
    """Value of the conversions within the window after each decision, by decision id (converting ones only)."""
    conversions = events.loc[events["type"].isin(list(types)), ["visitor_id", "user_id", "ts", "value"]]
    conversions = conversions.assign(
        who=person_keys(conversions, links), value=conversions["value"].fillna(0.0).astype(float)
    )
    pairs = decisions[["decision_id", "who", "ts"]].merge(
        conversions[["who", "ts", "value"]], on="who", suffixes=("", "_conversion")
    )
    lag = pairs["ts_conversion"] - pairs["ts"]
    pairs = pairs.loc[(lag >= 0) & (lag <= window_s)]
    return pairs.groupby("decision_id")["value"].sum()


def lift_report(
    outcomes: pd.DataFrame,
    journey: JourneyMap,
    *,
    since: float,
    until: float,
    placement: str | None = None,
    reward_types: tuple[str, ...] = (),
    placement_rewards: dict[str, tuple[str, ...]] | None = None,
    window_hours: float = DEFAULT_WINDOW_HOURS,
    conversion_window_days: float = DEFAULT_CONVERSION_WINDOW_DAYS,
) -> dict:
    """Every figure of the lift report from per-decision outcomes (see decision_outcomes)."""
    placement_rewards = placement_rewards or {}
    if placement is not None:
        outcomes = outcomes.loc[outcomes["placement"] == placement]
    placements = []
    for name, rows in outcomes.groupby("placement", sort=True):
        stages = [_segment(part, stage) for stage, part in _by_stage(rows, journey)]
        entry = {
            "placement": name,
            "reward_types": list(placement_rewards.get(name, reward_types)),
            "policies": {str(k): int(v) for k, v in rows["policy"].fillna("none").value_counts().sort_index().items()},
            "overall": _segment(rows, OVERALL),
            "stages": stages,
        }
        entry["headlines"] = headlines(entry)
        placements.append(entry)
    notes = []
    if placement is not None and not placements:
        notes.append(
            f"no decisions of placement {placement!r} were logged in this window: check its id (GET /v1/placements)"
        )
    elif not placements:
        notes.append("no decisions were logged in this window")
    outage = outcomes["policy"].eq("fallback") & outcomes.get("without_context", False)
    if outage.any():
        notes.append(
            f"{int(outage.sum())} decisions were made while the context store was unreachable; the service answers "
            "those from popularity before it assigns the holdout, so holdout visitors seen during an outage count "
            "as personalized here, which pulls the lift slightly toward zero"
        )
    return {
        "since": _iso(since),
        "until": _iso(until),
        "placement": placement,
        "reward_types": list(reward_types),
        "window_hours": window_hours,
        "conversion_stage": conversion_stage(journey),
        "conversion_types": list(conversion_types(journey)),
        "conversion_window_days": conversion_window_days,
        "confidence": CONFIDENCE,
        "thresholds": {"min_decisions": MIN_DECISIONS, "min_successes": MIN_SUCCESSES},
        "definitions": definitions(reward_types, window_hours, conversion_stage(journey), conversion_window_days),
        "placements": placements,
        "notes": notes,
    }


def definitions(reward_types, window_hours: float, stage: str, conversion_window_days: float) -> dict:
    """The definitions behind the figures, in words, as the report states them."""
    return {
        "unit": "one decision (one answer of POST /v1/decisions), counted in the window by its time",
        "comparison": COMPARISON,
        "response": f"at least one shown item got an outcome of type {', '.join(reward_types) or '(none)'} (or of "
        f"the placement's own reward types, where it names them) within {window_hours:g} h (by decision id, or as "
        "the last decision that showed the item to the same person, on any of their devices)",
        "conversion": f"the person (user_id if known, else the person the device is linked to, else visitor_id) has "
        f"an event of the {stage!r} stage, on any of their devices, within {conversion_window_days:g} days after the "
        "decision",
        "value": "the sum of those conversion events' value (0 without one), averaged per decision",
        "absolute_lift": "personalized minus holdout; rates in percentage points. 95% CI: Newcombe's hybrid score "
        "interval for rates, Welch's t interval for value",
        "relative_lift": "personalized / holdout - 1. 95% CI: delta method on the log ratio; undefined when the "
        "holdout figure is 0",
        "insufficient_data": f"either group has fewer than {MIN_DECISIONS} decisions (whole segment), or a metric's "
        f"numerator is under {MIN_SUCCESSES} in both groups (that metric)",
    }


def _by_stage(rows: pd.DataFrame, journey: JourneyMap):
    present = set(rows["stage"])
    order = [s for s in journey.stages if s in present]
    order += sorted(present - set(order) - {UNKNOWN_STAGE}) + ([UNKNOWN_STAGE] if UNKNOWN_STAGE in present else [])
    for stage in order:
        yield stage, rows.loc[rows["stage"] == stage]


def _segment(rows: pd.DataFrame, stage: str) -> dict:
    groups = {group: _group_counts(rows.loc[rows["group"] == group]) for group in GROUPS}
    segment = {"stage": stage, "status": "ok", "reason": None, **groups}
    small = [f"{g} has {groups[g]['decisions']} decisions" for g in GROUPS if groups[g]["decisions"] < MIN_DECISIONS]
    if small:
        segment["status"] = "insufficient_data"
        segment["reason"] = f"{' and '.join(small)} (fewer than {MIN_DECISIONS})"
        segment["metrics"] = {}
        return segment
    samples = {group: rows.loc[rows["group"] == group] for group in GROUPS}
    segment["metrics"] = {
        "response_rate": _rate_metric(groups, "responses", "responses"),
        "conversion_rate": _rate_metric(groups, "conversions", "conversions"),
        "value_per_decision": _value_metric(groups, samples),
    }
    return segment


def _group_counts(rows: pd.DataFrame) -> dict:
    return {
        "decisions": int(len(rows)),
        "impressions": int(rows["impressions"].sum()),
        "visitors": int(rows["who"].nunique()),
        "responses": int(rows["responded"].sum()),
        "conversions": int(rows["converted"].sum()),
        "with_value": int((rows["value"] != 0).sum()),
        "value": _round(float(rows["value"].sum())),
    }


def _too_few(groups: dict, numerator: str, words: str) -> dict | None:
    counts = [groups[g][numerator] for g in GROUPS]
    if all(count < MIN_SUCCESSES for count in counts):
        return {
            "status": "insufficient_data",
            "reason": f"fewer than {MIN_SUCCESSES} {words} in both groups ({counts[0]} personalized, {counts[1]} "
            "holdout)",
        }
    return None


def _rate_metric(groups: dict, numerator: str, words: str) -> dict:
    too_few = _too_few(groups, numerator, words)
    if too_few:
        return too_few
    x1, n1 = groups[PERSONALIZED][numerator], groups[PERSONALIZED]["decisions"]
    x0, n0 = groups[HOLDOUT][numerator], groups[HOLDOUT]["decisions"]
    p1, p0 = x1 / n1, x0 / n0
    se1, se0 = math.sqrt(p1 * (1 - p1) / n1), math.sqrt(p0 * (1 - p0) / n0)
    return _metric(p1, p0, rate_difference_ci(x1, n1, x0, n0), se1, se0)


def _value_metric(groups: dict, samples: dict) -> dict:
    too_few = _too_few(groups, "with_value", "decisions with value")
    if too_few:
        return too_few
    values = {g: samples[g]["value"].to_numpy(dtype=float) for g in GROUPS}
    mean1, mean0 = (float(values[g].mean()) for g in GROUPS)
    var1, var0 = (float(values[g].var(ddof=1)) for g in GROUPS)
    n1, n0 = (len(values[g]) for g in GROUPS)
    ci = mean_difference_ci(mean1, var1, n1, mean0, var0, n0)
    return _metric(mean1, mean0, ci, math.sqrt(var1 / n1), math.sqrt(var0 / n0))


def _metric(m1: float, m0: float, ci: tuple[float, float] | None, se1: float, se0: float) -> dict:
    metric = {
        "status": "ok",
        "personalized": _round(m1),
        "holdout": _round(m0),
        "absolute_lift": _round(m1 - m0),
        "ci": [_round(ci[0]), _round(ci[1])] if ci else None,
        "significant": bool(ci and (ci[0] > 0 or ci[1] < 0)),
        "relative_lift": _round(m1 / m0 - 1) if m0 > 0 else None,
        "relative_ci": None,
        "relative_note": None,
    }
    relative = relative_lift_ci(m1, se1, m0, se0) if ci else None
    if m0 <= 0:
        metric["relative_note"] = "undefined: the holdout figure is 0"
    elif ci is None:
        metric["relative_note"] = "no interval: every decision of both groups has the same value"
    elif relative is None:
        metric["relative_note"] = "no interval: the personalized figure is 0 (its log is undefined)"
    else:
        metric["relative_ci"] = [_round(relative[0]), _round(relative[1])]
    return metric


def headlines(entry: dict) -> list[str]:
    """Plain-words answers for one placement: does it add response and conversion rate, overall and per stage.

    E.g. "home_hero adds +2.1 pts of response rate (95% CI +0.8 to +3.4) overall; by stage: adds +2.9 pts
    (95% CI +1.1 to +4.7) at consideration; not significant at awareness".
    """
    name, overall = entry["placement"], entry["overall"]
    lines = []
    for key in ("response_rate", "conversion_rate"):
        words = METRICS[key][0]
        metric = overall["metrics"].get(key)
        if metric is None or metric["status"] != "ok":
            line = f"{name}: too little data to say whether it adds {words} ({(metric or overall)['reason']})"
        elif metric["significant"] and metric["absolute_lift"] > 0:
            line = f"{name} adds {_points(metric['absolute_lift'])} pts of {words} {_interval(metric)} overall"
        elif metric["significant"]:
            line = f"{name} lowers {words} by {abs(metric['absolute_lift']) * 100:.1f} pts {_interval(metric)} overall"
        else:
            line = (
                f"{name}: no significant lift in {words} overall "
                f"({_points(metric['absolute_lift'])} pts, {_interval(metric)[1:-1]})"
            )
        stages = entry["stages"]
        if len(stages) > 1 or (stages and stages[0]["stage"] != UNKNOWN_STAGE):
            line += "; by stage: " + "; ".join(_stage_verdicts(stages, key))
        lines.append(line)
    return lines


def _stage_verdicts(stages: list[dict], key: str) -> list[str]:
    adds, lowers, flat, unknown = [], [], [], []
    for segment in stages:
        metric = segment["metrics"].get(key)
        if metric is None or metric["status"] != "ok":
            unknown.append(segment["stage"])
        elif not metric["significant"]:
            flat.append(segment["stage"])
        else:
            text = f"{_points(metric['absolute_lift'])} pts {_interval(metric)} at {segment['stage']}"
            (adds if metric["absolute_lift"] > 0 else lowers).append(text)
    parts = [f"adds {text}" for text in adds] + [f"lowers it {text}" for text in lowers]
    if flat:
        parts.append(f"not significant at {', '.join(flat)}")
    if unknown:
        parts.append(f"too little data at {', '.join(unknown)}")
    return parts


def _interval(metric: dict) -> str:
    ci = metric["ci"]
    return f"(95% CI {_points(ci[0])} to {_points(ci[1])})" if ci else "(no interval)"


def _read_notes(read: dict, until: float, conversion_s: float, window_s: float, now: float) -> list[str]:
    notes = []
    if until + max(conversion_s, window_s) > now:
        notes.append(
            "the windows of the latest decisions have not all closed yet (outcomes can still arrive until "
            f"{_iso(until + max(conversion_s, window_s))}): their rates are understated in both groups alike"
        )
    skipped = describe_skipped(skipped_lines(read["bad_event_lines"], read["bad_decision_lines"]))
    if skipped:
        notes.append(skipped)
    return notes


def _points(rate_difference: float) -> str:
    return f"{rate_difference * 100:+.1f}"


def _round(value: float) -> float:
    return round(float(value), 6)


def _epoch(value: dt.datetime | float) -> float:
    return float(value) if isinstance(value, int | float) else value.timestamp()


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")

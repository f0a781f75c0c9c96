"""Journey analytics: the journey customers actually take, beside the one the journey map designs.

One journey is one person: the events of every device (visitor_id) linked to the same person
(journal.identity: the identities log, and events that carry both ids) form one journey, keyed
by the person key of each event (its user_id, else its device's person at that instant, else
its visitor_id); `by="device"` keeps one journey per visitor_id, as the report did before
identities were linked. A journey's stage sequence is the stages of its stage-bearing
events in time order; "entry" comes before the first and "exit" after the last event in
the analysed window. The designed map expects entry into the first stage, staying in a
stage, and moving on to the next one; skips forward, moves back and entries further down
are observed moves the map does not have. Everything here is vectorised over the events
(numpy and pandas group-bys, no loop per event) and returns plain JSON-ready values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from journal.event_log import read_daily_log
from journal.identity import all_links, links_seen_together, person_keys
from models.journey import EXIT, JourneyMap
from reports.journey_findings import findings

ENTRY = "entry"
UNKNOWN_CHANNEL = "unknown"
RARE_SHARE = 0.25
"""An expected move (the map's next step) taken by fewer than this share of departures is 'rarely taken'."""
FREQUENT_SHARE = 0.05
"""A move the map lacks, taken by at least this share of departures from its stage, is 'frequent'."""
TIME_BINS = (
    (0.0, "<1 h"),
    (3600.0, "1-6 h"),
    (6 * 3600.0, "6-24 h"),
    (86_400.0, "1-3 d"),
    (3 * 86_400.0, "3-7 d"),
    (7 * 86_400.0, "7-30 d"),
    (30 * 86_400.0, "30-90 d"),
    (90 * 86_400.0, ">=90 d"),
)
JOURNEYS_BY = ("person", "device")
"""What one journey is: every device of one person (the default), or one device (visitor_id)."""
ASSOCIATION_NOTE = (
    "Association, not cause: journeys that contain a touchpoint may differ in other ways from those that do not."
)


def analyze_log(
    directory: Path | str,
    journey: JourneyMap,
    since: dt.datetime | float | None = None,
    until: dt.datetime | float | None = None,
    channel: str | None = None,
    links_from: Path | str | None = None,
) -> dict:
    """The journey analytics of the service's event log under `directory`, reading only the days in range.

    Devices are linked to persons by the identities log of `links_from` (default: the data folder
    that holds `directory`, as the service lays them out) and by the events that carry both ids.
    """
    since, until = _epoch(since), _epoch(until)
    events = read_daily_log(directory, since, until)
    links = all_links(Path(directory).parent if links_from is None else links_from, events)
    return analyze_journeys(events, journey, since=since, until=until, channel=channel, links=links)


def analyze_journeys(
    events: pd.DataFrame,
    journey: JourneyMap,
    *,
    since: dt.datetime | float | None = None,
    until: dt.datetime | float | None = None,
    channel: str | None = None,
    visitors: set[str] | None = None,
    links: pd.DataFrame | None = None,
    by: str = "person",
    top: int = 10,
    max_path_steps: int = 8,
) -> dict:
    """Every figure of the journey report, from canonical events (see training.readers.read_events).

    `since`/`until` bound the time (since <= ts < until), `channel` keeps only that channel's
    touchpoints (the journey as seen on that channel), `visitors` keeps only a segment (the whole
    journey of every person with a device or id in it). `links` (journal.identity.all_links) tie
    devices to persons; without them, only the links the events carry do. `by`: one of JOURNEYS_BY.
    """
    if by not in JOURNEYS_BY:
        raise ValueError(f"by must be one of {', '.join(JOURNEYS_BY)}, not {by!r}")
    since, until = _epoch(since), _epoch(until)
    frame = _select(_with_persons(events, links, by), since, until, channel, visitors)
    ev = _Events(frame, journey)
    transitions = _transitions(ev)
    figures = {
        "summary": _summary(ev, by, since, until, channel, visitors),
        "stages": list(journey.stages),
        "conversion_stage": journey.conversion,
        "transitions": transitions,
        "funnel": _funnel(ev, transitions),
        "paths": {
            "stages": _paths(ev, ev.s_stage, list(journey.stages), top, max_path_steps),
            "touchpoints": _paths(ev, ev.s_type, ev.type_names, top, max_path_steps),
        },
        "channels": _channels(ev),
        "touchpoints": {"note": ASSOCIATION_NOTE, "types": _touchpoint_association(ev)},
        "unknown_event_types": _unknown_types(ev, journey),
    }
    figures["gaps"] = _gaps(transitions)
    figures["findings"] = findings(figures)
    return figures


def _with_persons(events: pd.DataFrame, links: pd.DataFrame | None, by: str) -> pd.DataFrame:
    """`events` with `person` (each event's person key) and `journey` (the person, or the device)."""
    frame = events.reindex(columns=["visitor_id", "user_id", "type", "ts", "channel"])
    if links is None:
        links = links_seen_together(frame, "event")
    frame["person"] = person_keys(frame, links)
    frame["journey"] = frame["person"] if by == "person" else frame["visitor_id"]
    return frame


class _Events:
    """The events as aligned numpy arrays sorted by (journey, time), and the stage-bearing subset.

    `visitor` holds each event's journey (a person, or a device with by="device"); `device` its visitor_id.
    """

    def __init__(self, frame: pd.DataFrame, journey: JourneyMap):
        self.journey = journey
        self.n_stages = len(journey.stages)
        self.conversion = journey.stages.index(journey.conversion)
        visitor, self.visitor_names = pd.factorize(frame["journey"], sort=False)
        types, type_names = pd.factorize(frame["type"], sort=False)
        self.type_names = [str(t) for t in type_names]
        channels, channel_names = pd.factorize(frame["channel"].fillna(UNKNOWN_CHANNEL), sort=False)
        self.channel_names = [str(c) for c in channel_names]
        ts = frame["ts"].to_numpy(dtype=float)
        order = np.lexsort((ts, visitor))  # stable: equal times keep the log's order
        self.visitor, self.type, self.channel, self.ts = visitor[order], types[order], channels[order], ts[order]
        device, device_names = pd.factorize(frame["visitor_id"], sort=False)
        person, person_names = pd.factorize(frame["person"], sort=False)
        self.device, self.person = device[order], person[order]
        self.n_devices, self.n_persons = len(device_names), len(person_names)
        self.identified = (frame["person"] != frame["visitor_id"]).to_numpy()[order]
        self.n_visitors = len(self.visitor_names)
        stage_of_type = np.array([journey.stage_index(journey.stage_of(t)) for t in self.type_names], dtype=np.int64)
        self.stage = stage_of_type[self.type] if len(self.type) else np.zeros(0, dtype=np.int64)
        self.position = np.arange(len(self.visitor))

        # first conversion-stage event of each visitor (its position), n = never converted
        conversion_at = np.flatnonzero(self.stage == self.conversion)
        self.conversion_position = np.full(self.n_visitors, len(self.visitor))
        first_visitors, first_index = np.unique(self.visitor[conversion_at], return_index=True)
        self.conversion_position[first_visitors] = conversion_at[first_index]
        self.converted = self.conversion_position < len(self.visitor)

        bearing = self.stage >= 0
        self.s_visitor, self.s_stage = self.visitor[bearing], self.stage[bearing]
        self.s_type, self.s_ts, self.s_position = self.type[bearing], self.ts[bearing], self.position[bearing]
        self.s_first = _starts(self.s_visitor)
        self.s_last = np.append(self.s_first[1:], True) if len(self.s_first) else self.s_first


def _select(events: pd.DataFrame, since, until, channel, visitors) -> pd.DataFrame:
    keep = pd.Series(True, index=events.index)
    if since is not None:
        keep &= events["ts"] >= since
    if until is not None:
        keep &= events["ts"] < until
    if channel is not None:
        keep &= events["channel"] == channel
    if visitors is not None:  # the whole journey of each person the segment names by any of its ids
        named = events["visitor_id"].isin(visitors) | events["person"].isin(visitors)
        keep &= events["journey"].isin(set(events.loc[named, "journey"]))
    return events.loc[keep]


def _starts(keys: np.ndarray) -> np.ndarray:
    """True where a run of equal `keys` begins (keys sorted so that equal ones are adjacent)."""
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = keys[1:] != keys[:-1]
    return starts


def _summary(ev: _Events, by: str, since, until, channel, visitors) -> dict:
    with_stage = len(np.unique(ev.s_visitor))
    converting = int(ev.converted.sum())
    return {
        "events": len(ev.visitor),
        "journeys_by": by,
        "visitors": ev.n_visitors,
        "persons": ev.n_persons,
        "devices": ev.n_devices,
        "stitched_journeys": int((_devices_per_journey(ev) > 1).sum()) if by == "person" else 0,
        "visitors_with_stage": with_stage,
        "visitors_without_stage": ev.n_visitors - with_stage,
        "converting": converting,
        "conversion_rate": _rate(converting, ev.n_visitors),
        "first_event": _iso(ev.ts.min()) if len(ev.ts) else None,
        "last_event": _iso(ev.ts.max()) if len(ev.ts) else None,
        "filters": {
            "since": _iso(since),
            "until": _iso(until),
            "channel": channel,
            "segment_visitors": None if visitors is None else len(visitors),
        },
    }


def journeys_line(summary: dict) -> str:
    """What one journey is in this report, in words (the CLI's output and the HTML header)."""
    if summary["journeys_by"] == "device":
        return (
            f"one journey per device: {summary['devices']:,} devices of {summary['persons']:,} persons "
            "(--journeys person stitches each person's devices into one journey)"
        )
    return (
        f"one journey per person: {summary['persons']:,} persons on {summary['devices']:,} devices; "
        f"{summary['stitched_journeys']:,} journeys stitched across devices"
    )


def _transitions(ev: _Events) -> dict:
    """Observed moves between states: entry and stages (from), stages and exit (to), with their kind."""
    k = ev.n_stages
    rows = np.where(ev.s_first, 0, np.roll(ev.s_stage, 1) + 1)  # row 0 is entry, row i+1 is stage i
    counts = np.bincount(rows * (k + 1) + ev.s_stage, minlength=(k + 1) * (k + 1))
    exits = np.bincount((ev.s_stage[ev.s_last] + 1) * (k + 1) + k, minlength=(k + 1) * (k + 1))
    matrix = (counts + exits).reshape(k + 1, k + 1)
    sources = [ENTRY, *ev.journey.stages]
    targets = [*ev.journey.stages, EXIT]
    moves = []
    for row, source in enumerate(sources):
        total = int(matrix[row].sum())
        stays = int(matrix[row, row - 1]) if row else 0
        departures = total - stays
        for col, target in enumerate(targets):
            count = int(matrix[row, col])
            kind = _kind(row - 1, col, k)
            if count == 0 and kind not in ("entry", "next"):
                continue
            moves.append(
                {
                    "from": source,
                    "to": target,
                    "count": count,
                    "probability": _rate(count, total),
                    "share_of_departures": None if kind == "stay" else _rate(count, departures),
                    "kind": kind,
                    "in_map": kind in ("entry", "stay", "next"),
                }
            )
    return {
        "from": sources,
        "to": targets,
        "counts": {s: {t: int(matrix[r, c]) for c, t in enumerate(targets)} for r, s in enumerate(sources)},
        "probabilities": {
            s: {t: _rate(int(matrix[r, c]), int(matrix[r].sum())) for c, t in enumerate(targets)}
            for r, s in enumerate(sources)
        },
        "moves": moves,
    }


def _kind(source: int, target: int, k: int) -> str:
    """The kind of a move from stage index `source` (-1: entry) to `target` (k: exit)."""
    if target == k:
        return "exit"
    if source < 0:
        return "entry" if target == 0 else "late_entry"
    if target == source:
        return "stay"
    if target == source + 1:
        return "next"
    return "skip" if target > source else "back"


def _gaps(transitions: dict) -> dict:
    """Expected moves customers rarely take, and frequent moves the designed map does not have."""
    moves = transitions["moves"]
    rare = [
        m
        for m in moves
        if m["kind"] == "next" and m["share_of_departures"] is not None and m["share_of_departures"] < RARE_SHARE
    ]
    unmapped = [
        m
        for m in moves
        if m["kind"] in ("skip", "back", "late_entry") and (m["share_of_departures"] or 0) >= FREQUENT_SHARE
    ]
    return {
        "rare_share": RARE_SHARE,
        "frequent_share": FREQUENT_SHARE,
        "rare_expected": sorted(rare, key=lambda m: m["share_of_departures"]),
        "unmapped_frequent": sorted(unmapped, key=lambda m: -m["count"]),
    }


def _funnel(ev: _Events, transitions: dict) -> list[dict]:
    k = ev.n_stages
    pairs = np.unique(ev.s_visitor * k + ev.s_stage)
    visited = np.bincount(pairs % k, minlength=k) if len(pairs) else np.zeros(k, dtype=np.int64)
    if len(ev.s_stage):
        furthest = np.maximum.reduceat(ev.s_stage, np.flatnonzero(ev.s_first))
        furthest_counts = np.bincount(furthest, minlength=k)
    else:
        furthest_counts = np.zeros(k, dtype=np.int64)
    reached = furthest_counts[::-1].cumsum()[::-1]  # reached stage s or beyond
    times = _time_in_stage(ev)
    funnel = []
    for s, stage in enumerate(ev.journey.stages):
        funnel.append(
            {
                "stage": stage,
                "visitors": int(visited[s]),
                "reached_at_least": int(reached[s]),
                "skipped": int(reached[s] - visited[s]),
                "ended_here": transitions["counts"][stage][EXIT],
                "conversion_to_next": _rate(int(reached[s + 1]), int(reached[s])) if s + 1 < k else None,
                "time_in_stage": times[s],
            }
        )
    return funnel


def _time_in_stage(ev: _Events) -> list[dict]:
    """Per stage: how long a stay lasts, from entering the stage to the first touchpoint of another stage."""
    run_start = ev.s_first | _starts(ev.s_stage)
    run_stage, run_ts, run_visitor = ev.s_stage[run_start], ev.s_ts[run_start], ev.s_visitor[run_start]
    next_ts = np.append(run_ts[1:], np.nan)
    same_visitor = np.append(run_visitor[1:] == run_visitor[:-1], False)
    duration = np.where(same_visitor, next_ts - run_ts, np.nan)
    edges = np.array([edge for edge, _ in TIME_BINS[1:]])
    out = []
    for s in range(ev.n_stages):
        of_stage = duration[run_stage == s]
        done = of_stage[~np.isnan(of_stage)]
        histogram = np.bincount(np.searchsorted(edges, done, side="right"), minlength=len(TIME_BINS))
        out.append(
            {
                "stays": len(done),
                "still_in_stage": int(np.isnan(of_stage).sum()),
                "median_s": _round(np.median(done)) if len(done) else None,
                "p90_s": _round(np.percentile(done, 90)) if len(done) else None,
                "histogram": [{"label": label, "count": int(n)} for (_, label), n in zip(TIME_BINS, histogram)],
            }
        )
    return out


def _paths(ev: _Events, labels: np.ndarray, names: list[str], top: int, max_steps: int) -> dict:
    """The commonest sequences (consecutive repeats collapsed) before conversion, or before leaving.

    Each journey's path is a row of label codes (its last `max_steps` steps, -1 padded, and
    a flag for a cut-off start), so grouping the paths is one np.unique over rows; only the
    paths reported are turned into words.
    """
    before = ev.s_position < ev.conversion_position[ev.s_visitor]
    visitor, label = ev.s_visitor[before], labels[before]
    step = _starts(visitor) | _starts(label)
    visitor, label = visitor[step], label[step]
    journeys = np.unique(ev.s_visitor)  # every journey with a stage, even one that converts at once
    row = np.searchsorted(journeys, visitor)
    first = _starts(row)
    start_index = np.flatnonzero(first)
    per_row = np.diff(np.append(start_index, len(row)))
    position = np.arange(len(row)) - np.repeat(start_index, per_row)
    n_steps = np.zeros(len(journeys), dtype=np.int64)
    n_steps[row[first]] = per_row
    column = position - np.maximum(n_steps[row] - max_steps, 0)
    keep = column >= 0
    grid = np.full((len(journeys), max_steps + 1), -1, dtype=np.int64)
    grid[row[keep], column[keep] + 1] = label[keep]
    grid[:, 0] = n_steps > max_steps
    paths, path_of = np.unique(grid, axis=0, return_inverse=True)
    path_of = path_of.ravel()
    n_journeys = np.bincount(path_of, minlength=len(paths))
    conversions = np.bincount(path_of, weights=ev.converted[journeys], minlength=len(paths)).astype(np.int64)
    drop_offs = n_journeys - conversions

    def rows(values: np.ndarray) -> list[dict]:
        best = [p for p in np.lexsort((np.arange(len(values)), -values))[:top] if values[p] > 0]
        out = []
        for p in best:
            steps = [names[code] for code in paths[p, 1:] if code >= 0]
            steps = ["...", *steps] if paths[p, 0] > 0 else steps
            out.append(
                {
                    "path": " > ".join(steps),
                    "steps": steps,
                    "journeys": int(n_journeys[p]),
                    "conversions": int(conversions[p]),
                    "drop_offs": int(drop_offs[p]),
                    "conversion_rate": _rate(int(conversions[p]), int(n_journeys[p])),
                    "share": _rate(int(values[p]), int(values.sum())),
                }
            )
        return out

    return {"distinct_paths": len(paths), "to_conversion": rows(conversions), "to_drop_off": rows(drop_offs)}


def _channels(ev: _Events) -> dict:
    n_channels, k = len(ev.channel_names), ev.n_stages
    grid = np.bincount(ev.s_stage * n_channels + ev.channel[ev.stage >= 0], minlength=k * n_channels)
    grid = grid.reshape(k, n_channels) if n_channels else np.zeros((k, 0), dtype=np.int64)
    order = np.argsort(-grid.sum(axis=0), kind="stable")
    names = [ev.channel_names[c] for c in order]
    per_stage = [
        {
            "stage": stage,
            "events": int(grid[s].sum()),
            "channels": {ev.channel_names[c]: int(grid[s, c]) for c in order if grid[s, c]},
            "shares": {ev.channel_names[c]: _rate(int(grid[s, c]), int(grid[s].sum())) for c in order if grid[s, c]},
        }
        for s, stage in enumerate(ev.journey.stages)
    ]
    entry = np.bincount(ev.channel[_starts(ev.visitor)], minlength=n_channels)
    return {
        "names": names,
        "per_stage": per_stage,
        "first_touch": {ev.channel_names[c]: int(entry[c]) for c in np.argsort(-entry, kind="stable") if entry[c]},
        "cross_channel": _cross_channel(ev),
    }


def _cross_channel(ev: _Events) -> dict:
    """How many journeys touched more than one channel (up to converting), and more than one device."""
    upto = ev.position <= ev.conversion_position[ev.visitor]
    unknown = ev.channel_names.index(UNKNOWN_CHANNEL) if UNKNOWN_CHANNEL in ev.channel_names else -1
    keep = upto & (ev.channel != unknown)
    pairs = np.unique(ev.visitor[keep] * max(len(ev.channel_names), 1) + ev.channel[keep])
    n_channels = np.bincount(pairs // max(len(ev.channel_names), 1), minlength=ev.n_visitors)
    multi = n_channels > 1
    converted = ev.converted
    devices = _devices_per_journey(ev, of_person=True)
    identified = np.zeros(ev.n_visitors, dtype=bool)
    identified[ev.visitor[ev.identified]] = True
    known_users = converted & identified
    return {
        "converting_journeys": int(converted.sum()),
        "converting_multi_channel": int((converted & multi).sum()),
        "converting_multi_channel_share": _rate(int((converted & multi).sum()), int(converted.sum())),
        "multi_channel_conversion_rate": _rate(int((converted & multi).sum()), int(multi.sum())),
        "single_channel_conversion_rate": _rate(int((converted & ~multi).sum()), int((~multi).sum())),
        "converting_known_users": int(known_users.sum()),
        "converting_multi_device": int((known_users & (devices > 1)).sum()),
        "converting_multi_device_share": _rate(int((known_users & (devices > 1)).sum()), int(known_users.sum())),
    }


def _devices_per_journey(ev: _Events, of_person: bool = False) -> np.ndarray:
    """For each journey, how many devices (visitor ids) it spans in the window; with `of_person`, how many
    its person used (the same when journeys are persons; with by="device", the devices of the person the
    journey's first event belongs to)."""
    if not len(ev.visitor):
        return np.zeros(ev.n_visitors, dtype=np.int64)
    owner = ev.person if of_person else ev.visitor
    pairs = np.unique(owner.astype(np.int64) * (int(ev.device.max()) + 1) + ev.device)
    per_owner = np.bincount(pairs // (int(ev.device.max()) + 1), minlength=int(owner.max()) + 1)
    journeys, first_event = np.unique(ev.visitor, return_index=True)
    first_owner = np.zeros(ev.n_visitors, dtype=np.int64)
    first_owner[journeys] = owner[first_event]
    return per_owner[first_owner]


def _touchpoint_association(ev: _Events) -> list[dict]:
    """Per event type seen before converting: conversion rate of journeys with it versus without it."""
    before = ev.position < ev.conversion_position[ev.visitor]
    n_types = max(len(ev.type_names), 1)
    pairs = np.unique(ev.visitor[before] * n_types + ev.type[before])
    visitor, kind = pairs // n_types, pairs % n_types
    with_type = np.bincount(kind, minlength=len(ev.type_names))
    converted_with = np.bincount(kind, weights=ev.converted[visitor], minlength=len(ev.type_names)).astype(np.int64)
    total, total_converted = ev.n_visitors, int(ev.converted.sum())
    rows = []
    for t, name in enumerate(ev.type_names):
        if not with_type[t]:
            continue
        with_it, converted_with_it = int(with_type[t]), int(converted_with[t])
        without_it, converted_without_it = total - with_it, total_converted - converted_with_it
        ratio = (converted_with_it / with_it) / (converted_without_it / without_it) if converted_without_it else None
        rows.append(
            {
                "type": name,
                "stage": ev.journey.stage_of(name),
                "journeys": with_it,
                "conversion_rate_with": _rate(converted_with_it, with_it),
                "conversion_rate_without": _rate(converted_without_it, without_it),
                "lift": None if ratio is None else _round(ratio),
            }
        )
    return sorted(rows, key=lambda r: (r["lift"] is None, -(r["lift"] or 0), -r["journeys"], r["type"]))


def _unknown_types(ev: _Events, journey: JourneyMap) -> list[dict]:
    known = set(journey.events) | set(journey.outcomes)
    counts = np.bincount(ev.type, minlength=len(ev.type_names))
    n_types = max(len(ev.type_names), 1)
    visitors = np.bincount(np.unique(ev.visitor * n_types + ev.type) % n_types, minlength=len(ev.type_names))
    rows = [
        {"type": name, "events": int(counts[t]), "visitors": int(visitors[t])}
        for t, name in enumerate(ev.type_names)
        if name not in known
    ]
    return sorted(rows, key=lambda r: (-r["events"], r["type"]))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value) -> float:
    return round(float(value), 4)


def _epoch(value: dt.datetime | float | None) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    return value.timestamp()


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(float(ts), dt.UTC).isoformat().replace("+00:00", "Z")

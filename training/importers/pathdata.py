"""PathData (ChannelAttribution, GPL-3.0-or-later): counted channel paths expanded into one journey per count.

Source: `pathdata/PathData.csv`, `;`-separated: `path` (channels joined by " > "),
`total_conversions`, `total_conversion_value`, `total_null`. Each row stands for
`total_conversions + total_null` journeys that took the same path; the first
`total_conversions` of them convert.

Mapping (config/journeys/pathdata.yaml):
- `touch_<channel>` (awareness): one per channel in the path, in order; `channel` and
  `item_id` are the (obfuscated) channel name, so the content model learns which channel a
  visitor responds to next.
- `purchase` (conversion): after the last touch of a converting journey; `value` is the
  row's conversion value divided by its conversions.
A journey is visitor `pd-<row>-<copy>` (row: 0-based data row; copy: 0-based among the row's
journeys); event ids are `pd-<row>-<copy>-<step>`.

Time is synthetic (the data has order, no time): journeys are laid out in a fixed
pseudo-random order (seed 0) so that a time split is a random split of journeys rather than of
the file's rows; the journey in slot k starts at 2020-01-01T00:00:00Z + k x 10 minutes, its
touches are one hour apart and the purchase comes one hour after the last touch. Times of day,
weekdays and gaps therefore carry no information. Written as Parquet (events/events.parquet).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.importers.parse import csv_chunks, number, require_file
from training.importers.report import BadRows, ImportReport, Problem
from training.importers.writers import EventWriter, event_frame

CHANNELS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mi")
"""The data set's channels; the journey map names a `touch_<channel>` for each."""
EVENT_TYPES = (*(f"touch_{c}" for c in CHANNELS), "purchase")
HORIZON_DAYS = 1.0
COLUMNS = ["path", "total_conversions", "total_conversion_value", "total_null"]
START = pd.Timestamp("2020-01-01", tz="UTC").timestamp()
JOURNEY_SPACING_S = 600.0
STEP_S = 3600.0
SEED = 0


def run(source: Path, out: Path, report: ImportReport, bad: BadRows) -> None:
    """Expand every counted path into journeys and write their events."""
    file = require_file(source if source.is_file() else source / "PathData.csv", "PathData.csv")
    rows = []
    for chunk, lines in csv_chunks(file, COLUMNS, sep=";"):
        report.read(file, len(chunk))
        rows.append(_checked(chunk, lines, file, bad))
    if not rows:
        return
    paths = pd.concat(rows, ignore_index=True)
    journeys = paths["conversions"] + paths["nulls"]
    report.skip("path with no journeys (both counts 0)", int((journeys == 0).sum()))
    events = expand(paths)
    with EventWriter(out / "events" / "events.parquet", "parquet") as writer:
        writer.write(events)
    report.events_written = writer.rows
    report.written.append("events/events.parquet")


def _checked(chunk: pd.DataFrame, lines: np.ndarray, file: Path, bad: BadRows) -> pd.DataFrame:
    """The chunk's valid rows as row number, channel lists, counts and value per conversion."""
    conversions, problems = number(chunk, "total_conversions", integer=True, minimum=0)
    nulls, null_problems = number(chunk, "total_null", integer=True, minimum=0)
    value, value_problems = number(chunk, "total_conversion_value", minimum=0)
    steps = chunk["path"].fillna("").str.strip().str.split(r"\s*>\s*", regex=True)
    empty = chunk["path"].fillna("").str.strip().eq("").to_numpy()
    unknown = ~empty & ~steps.map(lambda s: set(s) <= set(CHANNELS)).to_numpy(dtype=bool)
    path_problems = [
        Problem("path", "missing", empty, chunk["path"]),
        Problem("path", f"names a channel not in {', '.join(CHANNELS)}", unknown, chunk["path"]),
    ]
    keep = bad.keep(file, "line", lines, path_problems + problems + null_problems + value_problems)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_conversion = np.where(conversions > 0, value / np.maximum(conversions, 1), np.nan)
    frame = pd.DataFrame(
        {
            "row": lines - 2,
            "steps": steps,
            "conversions": np.nan_to_num(conversions).astype(np.int64),
            "nulls": np.nan_to_num(nulls).astype(np.int64),
            "value": per_conversion,
        }
    )
    return frame.loc[keep]


def expand(paths: pd.DataFrame) -> pd.DataFrame:
    """Events of every journey: numpy repeat over counts and path lengths, no loop over journeys."""
    if not len(paths):
        return event_frame(0)
    code = {c: i for i, c in enumerate(CHANNELS)}
    lengths = paths["steps"].map(len).to_numpy()
    flat = np.fromiter((code[c] for steps in paths["steps"] for c in steps), dtype=np.int64, count=lengths.sum())
    path_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    copies = (paths["conversions"] + paths["nulls"]).to_numpy()
    # one entry per journey: its path row (position in `paths`) and its copy number within the row
    journey_path = np.repeat(np.arange(len(paths)), copies)
    journey_copy = np.arange(len(journey_path)) - np.repeat(np.cumsum(copies) - copies, copies)
    converted = journey_copy < paths["conversions"].to_numpy()[journey_path]
    slot = np.empty(len(journey_path), dtype=np.int64)
    slot[np.random.default_rng(SEED).permutation(len(journey_path))] = np.arange(len(journey_path))
    start = START + slot * JOURNEY_SPACING_S
    # one entry per touch: its journey and step
    journey_length = lengths[journey_path]
    touch_journey = np.repeat(np.arange(len(journey_path)), journey_length)
    step = np.arange(len(touch_journey)) - np.repeat(np.cumsum(journey_length) - journey_length, journey_length)
    channel = np.asarray(CHANNELS, dtype=object)[flat[path_start[journey_path[touch_journey]] + step]]
    row = paths["row"].to_numpy()
    visitor = _ids("pd", row[journey_path], journey_copy)
    touches = event_frame(
        len(touch_journey),
        event_id=_ids("pd", row[journey_path][touch_journey], journey_copy[touch_journey], step),
        visitor_id=visitor[touch_journey],
        type=np.char.add("touch_", channel.astype(str)).astype(object),
        ts=start[touch_journey] + step * STEP_S,
        channel=channel,
        item_id=channel,
    )
    buyers = np.flatnonzero(converted)
    purchases = event_frame(
        len(buyers),
        event_id=_ids("pd", row[journey_path][buyers], journey_copy[buyers], journey_length[buyers]),
        visitor_id=visitor[buyers],
        type="purchase",
        ts=start[buyers] + journey_length[buyers] * STEP_S,
        value=paths["value"].to_numpy()[journey_path][buyers],
    )
    return pd.concat([touches, purchases], ignore_index=True)


def _ids(prefix: str, *parts: np.ndarray) -> np.ndarray:
    """Ids "<prefix>-<a>-<b>-..." from integer arrays, vectorised."""
    text = pd.Series(np.asarray(parts[0]).astype(str), dtype=object)
    for part in parts[1:]:
        text = text + "-" + pd.Series(np.asarray(part).astype(str), dtype=object)
    return (prefix + "-" + text).to_numpy(dtype=object)

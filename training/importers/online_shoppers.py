"""UCI Online Shoppers Purchasing Intention (CC BY 4.0): one session per row, its page views and conversion.

Source: `online_shoppers/online_shoppers_intention.csv`, one row per session: page counts and
durations (seconds) by page type (Administrative, Informational, ProductRelated), BounceRates,
ExitRates, PageValues, SpecialDay, Month, OperatingSystems, Browser, Region, TrafficType,
VisitorType, Weekend, and the label Revenue.

Mapping (config/journeys/online-shoppers.yaml), visitor `os-<row>` (0-based data row; the
data cannot link a returning visitor's sessions), channel web, event ids `os-<row>-<step>`:
- `session_start` (awareness), then one event per page counted: `administrative_page`
  (consideration), `informational_page` (awareness), `product_page` (consideration), with the
  page type as item_id (the only content the data names);
- `purchase` (conversion, no value: the data has none) after the last page when Revenue is TRUE.
- profile (profiles.jsonl): VisitorType, TrafficType, Region, Browser, OperatingSystems,
  Weekend, SpecialDay, BounceRates and ExitRates, as they are.
PageValues is left out everywhere: it is computed from the sessions' revenue and leaks the
label (the data set's README says so).

Time is synthetic, within the session's real month: the year is unknown (set to 2018), the
sessions of a month are spread evenly over it in file order; pages follow in the data's column
order (administrative, then informational, then product-related: the data gives counts and
durations, not order), each page taking its type's duration divided by its count (at least one
second), and the purchase comes at the end of the last page. Written as Parquet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.importers.parse import choice, csv_chunks, missing, number, require_file
from training.importers.report import BadRows, ImportReport
from training.importers.writers import EventWriter, JsonLinesWriter, event_frame, profile_records

EVENT_TYPES = ("session_start", "administrative_page", "informational_page", "product_page", "purchase")
HORIZON_DAYS = 1.0
PAGES = {  # count column -> (duration column, event type, item id)
    "Administrative": ("Administrative_Duration", "administrative_page", "administrative"),
    "Informational": ("Informational_Duration", "informational_page", "informational"),
    "ProductRelated": ("ProductRelated_Duration", "product_page", "product_related"),
}
PROFILE_COLUMNS = [
    "VisitorType",
    "TrafficType",
    "Region",
    "Browser",
    "OperatingSystems",
    "Weekend",
    "SpecialDay",
    "BounceRates",
    "ExitRates",
]
COLUMNS = [*(c for count in PAGES for c in (count, PAGES[count][0])), "Month", "Revenue", *PROFILE_COLUMNS]
MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "June": 6, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9}
MONTHS |= {"Oct": 10, "Nov": 11, "Dec": 12}
YEAR = 2018
BOOLEANS = {"TRUE": True, "FALSE": False, "True": True, "False": False}


def run(source: Path, out: Path, report: ImportReport, bad: BadRows) -> None:
    """Write each session's events and its profile, chunk by chunk."""
    default = source / "online_shoppers_intention.csv"
    file = require_file(source if source.is_file() else default, "online_shoppers_intention.csv")
    per_month = _sessions_per_month(file)
    seen: dict[int, int] = {}
    with (
        EventWriter(out / "events" / "events.parquet", "parquet") as writer,
        JsonLinesWriter(out / "profiles.jsonl") as profile_log,
    ):
        for chunk, lines in csv_chunks(file, COLUMNS):
            report.read(file, len(chunk))
            sessions = _checked(chunk, lines, file, bad)
            sessions["start"] = _starts(sessions["month"].to_numpy(), per_month, seen)
            writer.write(events(sessions))
            profile_log.write(profile_records(sessions["visitor_id"], sessions[PROFILE_COLUMNS]))
    report.events_written = writer.rows
    report.profiles_written = profile_log.rows
    report.written += ["events/events.parquet", "profiles.jsonl"]


def _sessions_per_month(file: Path) -> dict[int, int]:
    """How many rows each month has (a first pass over the Month column only), to spread them over it."""
    counts: dict[int, int] = {}
    for chunk, _ in csv_chunks(file, ["Month"]):
        for month, count in chunk["Month"].map(MONTHS).value_counts().items():
            counts[int(month)] = counts.get(int(month), 0) + int(count)
    return counts


def _starts(month: np.ndarray, per_month: dict[int, int], seen: dict[int, int]) -> np.ndarray:
    """Session start times: the k-th session of a month at month start + k x (month length / sessions in it)."""
    start = np.empty(len(month))
    for m in np.unique(month):
        rows = np.flatnonzero(month == m)
        first = pd.Timestamp(year=YEAR, month=int(m), day=1, tz="UTC")
        length = ((first + pd.offsets.MonthBegin(1)) - first).total_seconds()
        rank = seen.get(int(m), 0) + np.arange(len(rows))
        start[rows] = first.timestamp() + rank * (length / per_month[int(m)])
        seen[int(m)] = seen.get(int(m), 0) + len(rows)
    return start


def _checked(chunk: pd.DataFrame, lines: np.ndarray, file: Path, bad: BadRows) -> pd.DataFrame:
    """Valid sessions of the chunk: counts, durations and profile values parsed."""
    parsed, problems = {}, []
    for count, (duration, _, _) in PAGES.items():
        parsed[count], count_problems = number(chunk, count, integer=True, minimum=0)
        parsed[duration], duration_problems = number(chunk, duration, minimum=0)
        problems += count_problems + duration_problems
    for column in ("TrafficType", "Region", "Browser", "OperatingSystems"):
        parsed[column], column_problems = number(chunk, column, integer=True)
        problems += column_problems
    for column in ("SpecialDay", "BounceRates", "ExitRates"):
        parsed[column], column_problems = number(chunk, column)
        problems += column_problems
    problems += choice(chunk, "Month", MONTHS) + choice(chunk, "Revenue", BOOLEANS)
    problems += choice(chunk, "Weekend", BOOLEANS) + [missing(chunk, "VisitorType")]
    keep = bad.keep(file, "line", lines, problems)
    row = lines - 2
    sessions = chunk.assign(**parsed, row=row, month=chunk["Month"].map(MONTHS))
    sessions["Revenue"] = sessions["Revenue"].map(BOOLEANS)
    sessions["Weekend"] = sessions["Weekend"].map(BOOLEANS)
    sessions["visitor_id"] = "os-" + pd.Series(row, dtype=np.int64).astype(str).astype(object)
    sessions = sessions.loc[keep].reset_index(drop=True)
    for column in ("TrafficType", "Region", "Browser", "OperatingSystems"):
        sessions[column] = sessions[column].astype(np.int64).astype(object)
    sessions["VisitorType"] = sessions["VisitorType"].astype(object)
    sessions["Weekend"] = sessions["Weekend"].astype(bool).astype(object)
    return sessions


def events(sessions: pd.DataFrame) -> pd.DataFrame:
    """session_start, the page events (numpy repeat over the counts) and the purchases."""
    n = len(sessions)
    if not n:
        return event_frame(0)
    visitor = sessions["visitor_id"].to_numpy(dtype=object)
    start = sessions["start"].to_numpy()
    types, items, ts, owners = [np.full(n, "session_start", dtype=object)], [np.full(n, None)], [start], [np.arange(n)]
    offset = start + 1.0
    for count_column, (duration_column, kind, item) in PAGES.items():
        count = sessions[count_column].to_numpy().astype(np.int64)
        gap = np.maximum(sessions[duration_column].to_numpy() / np.maximum(count, 1), 1.0)
        owner = np.repeat(np.arange(n), count)
        page = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
        owners.append(owner)
        ts.append(offset[owner] + page * gap[owner])
        types.append(np.full(len(owner), kind, dtype=object))
        items.append(np.full(len(owner), item, dtype=object))
        offset = offset + count * gap
    buyers = np.flatnonzero(sessions["Revenue"].to_numpy(dtype=bool))
    owners.append(buyers)
    ts.append(offset[buyers])
    types.append(np.full(len(buyers), "purchase", dtype=object))
    items.append(np.full(len(buyers), None))
    owner, stamp = np.concatenate(owners), np.concatenate(ts)
    order = np.lexsort((stamp, owner))
    owner, stamp = owner[order], stamp[order]
    step = np.arange(len(owner)) - np.repeat(np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]), _run_lengths(owner))
    event_id = pd.Series(visitor[owner], dtype=object) + "-" + pd.Series(step).astype(str).astype(object)
    return event_frame(
        len(owner),
        event_id=event_id.to_numpy(dtype=object),
        visitor_id=visitor[owner],
        type=np.concatenate(types)[order],
        ts=stamp,
        channel="web",
        item_id=np.concatenate(items)[order],
    )


def _run_lengths(sorted_values: np.ndarray) -> np.ndarray:
    """Lengths of the runs of equal values in a sorted array."""
    if not len(sorted_values):
        return np.zeros(0, dtype=np.int64)
    edges = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1], True])
    return np.diff(edges)

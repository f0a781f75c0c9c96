"""YOOCHOOSE clicks (RecSys Challenge 2015, research use): session click journeys, each split file kept apart.

Source: the `yoochoose/` folder (or one file) of tab-separated `SessionId`, `ItemId`, `Time`
(unix seconds) files. The split is the file name's end: `..._train_full.txt` becomes
events/train_full/, `..._test.txt` events/test/ (the test file holds later days).

Mapping (config/journeys/yoochoose.yaml): every row is an `item_click` (consideration) of
visitor `yc-<split>-<SessionId>` on item `ItemId`, at `Time`; event ids are
`yc-<split>-<line>`. The split is part of the visitor id, so a session id that appeared in two
files would still be two journeys: nothing of the test days leaks into a training journey.
A row repeating the one before it in the same session (same item, same time) is skipped and
counted as a duplicate click. Written as Parquet (events/<split>/events.parquet).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from training.importers.parse import csv_chunks, number
from training.importers.report import BadRows, ImportReport
from training.importers.writers import EventWriter, event_frame
from training.readers import BadInput

EVENT_TYPES = ("item_click",)
HORIZON_DAYS = 1 / 24
COLUMNS = ["SessionId", "ItemId", "Time"]
SPLIT = re.compile(r"_((?:train|test|valid)\w*)$")


def split_files(source: Path) -> dict[str, Path]:
    """{split name: file} for the click files at `source`."""
    files = [source] if source.is_file() else sorted(p for p in source.glob("*.txt") if p.is_file())
    splits = {}
    for file in files:
        match = SPLIT.search(file.stem)
        split = match.group(1) if match else file.stem
        if split in splits:
            raise BadInput(f"{source}: {splits[split].name} and {file.name} are both the {split!r} split; keep one")
        splits[split] = file
    if not splits:
        raise BadInput(f"{source}: no YOOCHOOSE click files (*.txt) found")
    return splits


def run(source: Path, out: Path, report: ImportReport, bad: BadRows) -> None:
    """Each split file into its own events file; visitors never cross splits."""
    for split, file in split_files(source).items():
        previous = None
        with EventWriter(out / "events" / split / "events.parquet", "parquet") as writer:
            for chunk, lines in csv_chunks(file, COLUMNS, sep="\t"):
                report.read(file, len(chunk))
                clicks, previous = _checked(chunk, lines, file, bad, previous, report)
                writer.write(events(clicks, split))
        report.events_written += writer.rows
        report.written.append(f"events/{split}/events.parquet")


def _checked(chunk, lines, file, bad: BadRows, previous, report: ImportReport):
    """Valid, non-duplicate clicks of the chunk; `previous` carries the last row across chunks."""
    session, problems = number(chunk, "SessionId", integer=True, minimum=0)
    item, item_problems = number(chunk, "ItemId", integer=True, minimum=0)
    ts, time_problems = number(chunk, "Time", minimum=0)
    keep = bad.keep(file, "line", lines, problems + item_problems + time_problems)
    clicks = pd.DataFrame({"session": session, "item": item, "ts": ts, "line": lines}).loc[keep]
    clicks = clicks.astype({"session": np.int64, "item": np.int64})
    key = clicks[["session", "item", "ts"]].to_numpy(dtype=float)
    before = np.vstack([previous if previous is not None else np.full((1, 3), np.nan), key[:-1]])
    duplicate = (key == before[: len(key)]).all(axis=1)
    report.skip("duplicate click (same session, item and time as the row before)", int(duplicate.sum()))
    last = key[-1:] if len(key) else previous
    return clicks.loc[~duplicate], last


def events(clicks: pd.DataFrame, split: str) -> pd.DataFrame:
    """One item_click per row."""
    prefix = f"yc-{split}-"
    return event_frame(
        len(clicks),
        event_id=(prefix + clicks["line"].astype(str).astype(object)).to_numpy(dtype=object),
        visitor_id=(prefix + clicks["session"].astype(str).astype(object)).to_numpy(dtype=object),
        type="item_click",
        ts=clicks["ts"].to_numpy(),
        item_id=clicks["item"].astype(str).to_numpy(dtype=object),
    )

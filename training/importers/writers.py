"""Writing canonical events (JSON Lines or Parquet), decision logs and profiles under an import's output folder."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.readers import COLUMNS, BadInput

EVENT_SCHEMA = pa.schema([(name, pa.float64() if name in ("ts", "value") else pa.string()) for name in COLUMNS])
"""Parquet events: exactly the reader's canonical columns, `ts` in epoch seconds."""


def prepare_out(out: Path | str) -> Path:
    """The output folder, created; an existing non-empty one is refused (an import never overwrites)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"{out}: already exists and is not empty; import into a new directory")
    out.mkdir(parents=True, exist_ok=True)
    return out


def event_frame(size: int, **columns) -> pd.DataFrame:
    """A frame of `size` events with the canonical columns; those not given are empty."""
    frame = pd.DataFrame(index=pd.RangeIndex(size))
    for name in COLUMNS:
        value = columns.get(name)
        if name in ("ts", "value"):
            frame[name] = np.full(size, np.nan) if value is None else np.asarray(value, dtype=float)
        elif value is None:
            frame[name] = pd.Series([None] * size, dtype=object)
        elif isinstance(value, str):
            frame[name] = pd.Series([value] * size, dtype=object)
        else:
            frame[name] = pd.Series(np.asarray(value, dtype=object), dtype=object)
    return frame


def iso_utc(ts) -> np.ndarray:
    """Epoch seconds as ISO-8601 UTC text: "2019-11-24T12:00:00Z", with microseconds only where there are any."""
    micros = np.round(np.asarray(ts, dtype=float) * 1e6).astype("int64")
    stamps = micros.astype("datetime64[us]")
    whole = np.char.add(np.datetime_as_string(stamps, unit="s"), "Z")
    fine = np.char.add(np.datetime_as_string(stamps, unit="us"), "Z")
    return np.where(micros % 1_000_000 == 0, whole, fine).astype(object)


class EventWriter:
    """Appends event frames to one file, JSON Lines (with `timestamp`) or Parquet (canonical columns)."""

    def __init__(self, path: Path, fmt: str):
        if fmt not in ("jsonl", "parquet"):
            raise ValueError(f"unknown event format {fmt!r}")
        self.path = path
        self.fmt = fmt
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "jsonl":
            self._handle = open(path, "w")

    def write(self, events: pd.DataFrame) -> None:
        """Append `events` (canonical columns), sorted by time then visitor."""
        if not len(events):
            return
        events = events[COLUMNS].sort_values(["ts", "visitor_id"], kind="stable")
        if self.fmt == "parquet":
            table = pa.Table.from_pandas(events, schema=EVENT_SCHEMA, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, EVENT_SCHEMA, compression="zstd")
            self._parquet.write_table(table)
        else:
            lines = events.copy()
            lines.insert(4, "timestamp", iso_utc(lines["ts"].to_numpy()))
            lines["ts"] = lines["ts"].round(6)
            lines.to_json(self._handle, orient="records", lines=True, double_precision=6)  # ends with a newline
        self.rows += len(events)

    def close(self) -> None:
        """Finish the file (a Parquet file with no rows still gets the canonical schema)."""
        if self.fmt == "parquet":
            if self._parquet is None:
                pq.write_table(EVENT_SCHEMA.empty_table(), self.path)
            else:
                self._parquet.close()
        else:
            self._handle.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JsonLinesWriter:
    """Appends records, one JSON object a line, to one file; counts them."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rows = 0
        self._handle = open(path, "w")

    def write(self, records: Iterable[dict]) -> None:
        """Append `records`."""
        for record in records:
            self._handle.write(json.dumps(record, separators=(",", ":")) + "\n")
            self.rows += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonLinesWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def profile_records(visitor_ids, profiles: pd.DataFrame) -> Iterable[dict]:
    """{"visitor_id", "profile"} records; empty attributes are left out of each profile."""
    for visitor_id, profile in zip(visitor_ids, profiles.to_dict("records")):
        # v == v is False only for NaN
        yield {"visitor_id": visitor_id, "profile": {k: v for k, v in profile.items() if v is not None and v == v}}

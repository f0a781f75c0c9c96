"""Reading source files in chunks, only the columns needed, and checking their values vectorised."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.importers.report import Problem
from training.readers import BadInput

CHUNK_ROWS = 50_000


def require_file(path: Path, what: str) -> Path:
    """`path` if it is a file, else a BadInput saying which data set file is missing."""
    if not path.is_file():
        raise BadInput(f"{path}: no such file ({what})")
    return path


def require_columns(file, present, required) -> None:
    """Stop with the missing column names (a file-level problem: no row can be read without them)."""
    missing = [c for c in required if c not in set(present)]
    if missing:
        raise BadInput(f"{file}: missing column(s) {', '.join(map(repr, missing))}; expected {', '.join(required)}")


def csv_chunks(
    file: Path, columns: list[str], sep: str = ",", chunk_rows: int = CHUNK_ROWS
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """The needed `columns` of a CSV as text, chunk by chunk, with each row's line number (header = 1)."""
    try:
        header = pd.read_csv(file, sep=sep, nrows=0).columns
        require_columns(file, header, columns)
        reader = pd.read_csv(
            file,
            sep=sep,
            usecols=columns,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            chunksize=chunk_rows,
        )
        for chunk in reader:
            yield chunk[columns].reset_index(drop=True), chunk.index.to_numpy() + 2
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        separator = "tab" if sep == "\t" else repr(sep)
        raise BadInput(f"{file}: cannot read as {separator}-separated text ({exc})") from exc
    except OSError as exc:
        raise BadInput(f"{file}: cannot read ({exc.strerror or exc})") from exc


def parquet_columns(file: Path, columns: list[str]) -> pd.DataFrame:
    """Only the needed `columns` of a Parquet file."""
    try:
        names = pq.read_schema(file).names
        require_columns(file, names, columns)
        return pq.read_table(file, columns=columns).to_pandas()
    except (OSError, ValueError, pa.ArrowException) as exc:  # ArrowInvalid: not a Parquet file
        raise BadInput(f"{file}: cannot read as Parquet ({exc})") from exc


def missing(frame: pd.DataFrame, column: str) -> Problem:
    """Rows where a required column is empty."""
    return Problem(column, "missing", frame[column].isna().to_numpy(), frame[column])


def number(
    frame: pd.DataFrame,
    column: str,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> tuple[np.ndarray, list[Problem]]:
    """A text column as floats, with the rows that are missing, not numbers, not whole or out of range."""
    text = frame[column]
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    absent = text.isna().to_numpy()
    unreadable = ~absent & ~np.isfinite(values)
    problems = [
        Problem(column, "missing", absent, text),
        Problem(column, "not a number", unreadable, text),
    ]
    known = np.isfinite(values)
    if integer:
        problems.append(Problem(column, "not a whole number", known & (values != np.round(values)), text))
    if minimum is not None:
        problems.append(Problem(column, f"below {minimum:g}", known & (values < minimum), text))
    if above is not None:
        problems.append(Problem(column, f"not above {above:g}", known & (values <= above), text))
    if maximum is not None:
        problems.append(Problem(column, f"above {maximum:g}", known & (values > maximum), text))
    return values, problems


def choice(frame: pd.DataFrame, column: str, allowed) -> list[Problem]:
    """Rows whose value is missing or not one of `allowed`."""
    text = frame[column]
    absent = text.isna().to_numpy()
    other = ~absent & ~text.isin(list(allowed)).to_numpy()
    shown = ", ".join(map(str, allowed))
    return [Problem(column, "missing", absent, text), Problem(column, f"not one of {shown}", other, text)]


def instants(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[Problem]]:
    """An ISO-8601 text column as epoch seconds (UTC where the text has no zone), with unreadable rows."""
    text = frame[column]
    stamps = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)
    absent = text.isna().to_numpy()
    unreadable = ~absent & np.isnan(seconds)
    return seconds, [
        Problem(column, "missing", absent, text),
        Problem(column, "not an ISO-8601 time", unreadable, text),
    ]

"""What an import did: rows read, events/decisions/profiles written, rows skipped by reason; the bad-row limit."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pandas as pd

from training.readers import BadInput

EXAMPLES_KEPT = 5


@dataclasses.dataclass
class ImportReport:
    """Counts of one import, as the CLI prints them (`format`) or `--json` dumps them (`to_dict`)."""

    kind: str
    source: str
    out: str
    rows_read: dict[str, int] = dataclasses.field(default_factory=dict)
    events_written: int = 0
    decisions_written: int = 0
    profiles_written: int = 0
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    bad_examples: list[str] = dataclasses.field(default_factory=list)
    written: list[str] = dataclasses.field(default_factory=list)
    horizon_days: float = 30.0
    seconds: float = 0.0

    def read(self, file, rows: int) -> None:
        """Count `rows` source rows read from `file`."""
        key = str(file)
        self.rows_read[key] = self.rows_read.get(key, 0) + int(rows)

    def skip(self, reason: str, rows: int) -> None:
        """Count `rows` source rows left out, and why."""
        if rows:
            self.skipped[reason] += int(rows)

    @property
    def total_read(self) -> int:
        return sum(self.rows_read.values())

    def to_dict(self) -> dict:
        """The report as JSON-ready values."""
        return {
            "kind": self.kind,
            "source": self.source,
            "out": self.out,
            "rows_read": self.total_read,
            "rows_read_by_file": dict(self.rows_read),
            "events_written": self.events_written,
            "decisions_written": self.decisions_written,
            "profiles_written": self.profiles_written,
            "rows_skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "bad_row_examples": list(self.bad_examples),
            "files": list(self.written),
            "seconds": round(self.seconds, 2),
            "train_command": self.train_command(),
        }

    def train_command(self) -> str:
        """The `python -m training train` line that trains on what was written."""
        parts = [
            "python -m training train",
            f"--events {self.out}/events",
            f"--journey config/journeys/{self.kind}.yaml",
            f"--horizon-days {self.horizon_days:g}",
        ]
        if self.decisions_written:
            parts.append(f"--decisions {self.out}/decisions")
        if self.profiles_written:
            parts.append(f"--profiles {self.out}/profiles.jsonl")
        return " ".join(parts)

    def format(self) -> str:
        """Human-readable lines for the CLI."""
        lines = [
            f"imported {self.kind} from {self.source} into {self.out} in {self.seconds:.1f} s",
            f"  rows read          {self.total_read:>10,}",
            *(f"    {rows:>10,}  {name}" for name, rows in self.rows_read.items()),
            f"  events written     {self.events_written:>10,}",
            f"  decisions written  {self.decisions_written:>10,}",
            f"  profiles written   {self.profiles_written:>10,}",
            f"  rows skipped       {sum(self.skipped.values()):>10,}",
            *(f"    {rows:>10,}  {reason}" for reason, rows in sorted(self.skipped.items())),
            *(f"    e.g. {example}" for example in self.bad_examples),
            f"next: {self.train_command()}",
        ]
        return "\n".join(lines)


@dataclasses.dataclass
class Problem:
    """Rows of a chunk where one column breaks one expectation."""

    column: str
    what: str
    mask: np.ndarray
    values: pd.Series


class BadRows:
    """Rows that break what a source promises: skipped and counted up to `max_bad_rows`, then an error."""

    def __init__(self, report: ImportReport, max_bad_rows: int = 0):
        self.report = report
        self.max_bad_rows = max_bad_rows
        self.count = 0

    def keep(self, file, where: str, rows: np.ndarray, problems: list[Problem]) -> np.ndarray:
        """The mask of rows with no problem. `rows` numbers them ("line" or "row" `where`) for messages.

        A row with several problems counts once, under its first. One bad row more than the
        limit stops the import with a BadInput naming file, line, column and what is wrong.
        """
        size = len(rows)
        reason = np.full(size, -1)
        for index, problem in reversed(list(enumerate(problems))):
            reason[np.asarray(problem.mask, dtype=bool)] = index
        bad = np.flatnonzero(reason >= 0)
        if not len(bad):
            return np.ones(size, dtype=bool)
        allowed = self.max_bad_rows - self.count
        if len(bad) > allowed:
            self._stop(file, where, rows, problems, reason, bad[max(allowed, 0)])
        for index, problem in enumerate(problems):
            hits = bad[reason[bad] == index]
            if len(hits):
                self.report.skip(f"bad {problem.column}: {problem.what}", len(hits))
                if len(self.report.bad_examples) < EXAMPLES_KEPT:
                    self.report.bad_examples.append(_message(file, where, rows, problem, hits[0]))
        self.count += len(bad)
        return reason < 0

    def _stop(self, file, where, rows, problems, reason, row) -> None:
        message = _message(file, where, rows, problems[reason[row]], row)
        if self.max_bad_rows:
            hint = f"more than --max-bad-rows={self.max_bad_rows} bad rows"
        else:
            hint = "stopped at the first bad row; --max-bad-rows N skips up to N"
        raise BadInput(f"{message} ({hint})", errors={"rows": self.report.bad_examples + [message]})


def _message(file, where: str, rows: np.ndarray, problem: Problem, row: int) -> str:
    value = problem.values.iloc[row]
    shown = "empty" if _missing(value) else repr(value)
    return f"{file}: {where} {rows[row]}: column {problem.column!r}: {problem.what} (got {shown})"


def _missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False

"""Importers that turn public data sets into canonical events: `python -m training import <kind> <source> <out>`.

Each importer is one module with `run(source, out, report, bad)`, the event types it writes
(`EVENT_TYPES`, all named by config/journeys/<kind>.yaml) and the next-stage horizon that suits
its time scale (`HORIZON_DAYS`). Layout of <out>: events/ (JSON Lines or Parquet),
decisions/ (decision logs, where the source has impressions with propensities) and
profiles.jsonl (where it has profile attributes). See docs/importers.md.
"""

from __future__ import annotations

import importlib
import shutil
import time
from pathlib import Path
from types import ModuleType

KINDS = {
    "open-bandit": "open_bandit",
    "hillstrom": "hillstrom",
    "pathdata": "pathdata",
    "complete-journey": "complete_journey",
    "yoochoose": "yoochoose",
    "online-shoppers": "online_shoppers",
}
"""Data set kind (the CLI's word, the journey map's file name) -> importer module."""


def importer(kind: str) -> ModuleType:
    """The importer module of a kind (imported on first use: the CLI need not load pandas to parse)."""
    return importlib.import_module(f"training.importers.{KINDS[kind]}")


def import_dataset(kind: str, source: Path | str, out: Path | str, max_bad_rows: int = 0):
    """Convert the data set at `source` into canonical files under `out` (a new or empty directory)."""
    from training.importers.report import BadRows, ImportReport
    from training.importers.writers import prepare_out
    from training.readers import BadInput

    module = importer(kind)
    source, out = Path(source), Path(out)
    if not source.exists():
        raise BadInput(f"{source}: no such file or directory (the {kind} data set)")
    created = not out.exists()
    prepare_out(out)
    report = ImportReport(kind=kind, source=str(source), out=str(out), horizon_days=module.HORIZON_DAYS)
    started = time.perf_counter()
    try:
        module.run(source, out, report, BadRows(report, max_bad_rows))
        if not report.total_read:
            raise BadInput(f"{source}: no data rows to import (only a header, or empty files)")
    except BaseException:
        _discard(out, created)  # nothing half-written stays behind
        raise
    report.seconds = time.perf_counter() - started
    return report


def _discard(out: Path, created: bool) -> None:
    """Remove what this import wrote: `out` itself if it made it, else the contents of the (then empty) folder."""
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():
        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)

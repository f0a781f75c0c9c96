"""Logged decisions (the service's decision log, or an importer's) as one row per shown item, for training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from journal.decision_log import SHOWN_COLUMNS, read_shown_items
from training.readers import BadInput

IMPRESSION_COLUMNS = SHOWN_COLUMNS


def decision_files(path: Path | str) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    raise BadInput(f"{path}: no such file or directory")


def read_impressions(path: Path | str) -> pd.DataFrame:
    """Every shown item of every logged decision at `path` (a file or a directory), in time order; bad
    lines are skipped and counted in `attrs["bad_lines"]` (see journal.decision_log.read_shown_items)."""
    return read_shown_items(decision_files(path))


def no_impressions() -> pd.DataFrame:
    frame = pd.DataFrame(columns=IMPRESSION_COLUMNS)
    frame["ts"] = frame["ts"].astype(float)
    frame["propensity"] = frame["propensity"].astype(float)
    frame["position"] = np.array([], dtype=int)
    return frame


def placement_rewards(impressions: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Each placement's own reward event types, as its latest logged decision names them."""
    if "reward" not in impressions or not len(impressions):
        return {}
    latest = impressions.drop_duplicates("placement", keep="last")
    return {p: tuple(r) for p, r in zip(latest["placement"], latest["reward"]) if r}


def logged_profiles(impressions: pd.DataFrame) -> dict[str, dict]:
    """Per visitor (user, else visitor id), the profile its latest logged decision read: what the
    service's models saw of it, for the rows that have no decision of their own (next stage)."""
    if "profile" not in impressions or not len(impressions):
        return {}
    who = impressions["user_id"].where(impressions["user_id"].notna(), impressions["visitor_id"])
    latest = impressions.assign(who=who).drop_duplicates("who", keep="last")
    return {w: p for w, p in zip(latest["who"], latest["profile"]) if isinstance(p, dict) and p}

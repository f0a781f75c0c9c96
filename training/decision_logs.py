"""Read logged decisions (the service's decision log, or an importer's) as one row per shown item."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from training.readers import BadInput

IMPRESSION_COLUMNS = [
    "decision_id",
    "visitor_id",
    "user_id",
    "placement",
    "ts",
    "channel",
    "policy",
    "model_version",
    "stage",
    "item_id",
    "position",
    "propensity",
    "candidates",
    "reward",
    "shadow_version",
    "shadow_items",
    "profile",
]


def decision_files(path: Path | str) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    raise BadInput(f"{path}: no such file or directory")


def read_impressions(path: Path | str) -> pd.DataFrame:
    """Every shown item of every logged decision, in time order, with its position and propensity.

    Propensity is NaN where the log has none (IPS then refuses those rows, with a reason).
    """
    rows = []
    for file in decision_files(path):
        with open(file) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    base = {
                        "decision_id": record["decision_id"],
                        "visitor_id": record["visitor_id"],
                        "user_id": record.get("user_id"),
                        "placement": record.get("placement"),
                        "ts": float(record["ts"]),
                        "channel": record.get("channel"),
                        "policy": record.get("policy"),
                        "model_version": record.get("model_version"),
                        "stage": record.get("stage"),
                        "candidates": tuple(record.get("candidates") or ()),
                        "reward": tuple(record.get("reward") or ()),
                        "shadow_version": (record.get("shadow") or {}).get("model_version"),
                        "shadow_items": tuple((record.get("shadow") or {}).get("items") or ()),
                        "profile": record.get("profile") or {},
                    }
                    for position, item in enumerate(record.get("items") or ()):
                        rows.append(
                            {
                                **base,
                                "item_id": item["item_id"],
                                "position": int(item.get("position", position)),
                                "propensity": item.get("propensity"),
                            }
                        )
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise BadInput(f"{file}: line {number}: not a decision record ({exc})") from exc
    frame = pd.DataFrame(rows, columns=IMPRESSION_COLUMNS)
    frame["propensity"] = pd.to_numeric(frame["propensity"], errors="coerce").astype(float)
    frame["position"] = frame["position"].astype(int) if len(frame) else frame["position"]
    return frame.sort_values(["ts", "decision_id", "position"], kind="stable").reset_index(drop=True)


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

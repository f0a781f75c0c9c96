"""Reading the service's own decision log (daily JSON Lines files): decisions, and the items each one showed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from journal.erasures import Erasures, erased_among
from journal.event_log import day_files, read_json_day, rows_of_lines, without_erased

_ITEM = pa.struct([("item_id", pa.string()), ("position", pa.int64()), ("propensity", pa.float64())])
_SCHEMA = pa.schema(
    [
        ("decision_id", pa.string()),
        ("visitor_id", pa.string()),
        ("user_id", pa.string()),
        ("placement", pa.string()),
        ("stage", pa.string()),
        ("ts", pa.float64()),
        ("policy", pa.string()),
        ("model_version", pa.string()),
        ("channel", pa.string()),
        ("channel_propensity", pa.float64()),  # only where the placement chose the channel (an outbound message)
        ("campaign", pa.string()),  # only for an outbound campaign's decisions (python -m training batch-decide)
        ("items", pa.list_(_ITEM)),
        ("reward", pa.list_(pa.string())),  # the placement's own response types; empty: the journey's outcomes
        ("context", pa.struct([("stage", pa.string())])),  # null when the context store was unreachable
    ]
)
_PARSE = pa_json.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore")
DECISION_COLUMNS = [name for name in _SCHEMA.names if name not in ("items", "reward", "context")]
IMPRESSION_COLUMNS = [*DECISION_COLUMNS, "item_id", "position", "propensity"]


@dataclasses.dataclass
class DecisionLog:
    decisions: pd.DataFrame
    """One row per decision (DECISION_COLUMNS, `impressions`: the number of items shown, `without_context`:
    made while the context store was unreachable), by time."""
    impressions: pd.DataFrame
    """One row per shown item (IMPRESSION_COLUMNS), by time, decision and position."""
    placement_rewards: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Each placement's own response event types, as its latest decision that names any logged them."""
    bad_lines: int = 0
    """Lines that were not decision records (a write cut short by a crash), skipped."""
    files: int = 0
    erased_lines: int = 0
    """Decisions of erased ids (journal.erasures), skipped."""


def read_decision_log(directory: Path | str, since: float | None = None, until: float | None = None) -> DecisionLog:
    """The decisions logged under `directory` with since <= ts < until, reading only the day files in range."""
    paths = day_files(directory, since, until)
    tables, bad_lines = [], 0
    for path in paths:
        table, bad = _read_day(path)
        tables.append(table)
        bad_lines += bad
    table = pa.concat_tables(tables) if tables else _SCHEMA.empty_table()
    keep = pc.and_kleene(pc.is_valid(table["decision_id"]), pc.is_valid(table["visitor_id"]))
    keep = pc.and_kleene(keep, pc.is_valid(table["ts"]))
    if since is not None:
        keep = pc.and_kleene(keep, pc.greater_equal(table["ts"], since))
    if until is not None:
        keep = pc.and_kleene(keep, pc.less(table["ts"], until))
    table = table.filter(pc.fill_null(keep, False))
    table, erased_lines = _without_erased(table, Erasures.of_log(directory))
    found = DecisionLog(_decisions(table), _impressions(table), _placement_rewards(table), bad_lines, len(paths))
    found.erased_lines = erased_lines
    return found


def _without_erased(table: pa.Table, erasures: Erasures | None) -> tuple[pa.Table, int]:
    """The decisions whose visitor_id and user_id were not erased (journal.erasures), and how many were not."""
    if erasures is None or not table.num_rows:
        return table, 0
    ids = [*table["visitor_id"].to_pylist(), *table["user_id"].to_pylist()]
    erased = erased_among(erasures, ids)
    if not erased:
        return table, 0
    listed = pa.array(sorted(erased), pa.string())
    gone = pc.or_kleene(pc.is_in(table["visitor_id"], listed), pc.fill_null(pc.is_in(table["user_id"], listed), False))
    return table.filter(pc.invert(gone)), int(pc.sum(gone).as_py() or 0)


def _placement_rewards(table: pa.Table) -> dict[str, tuple[str, ...]]:
    named = table.filter(pc.fill_null(pc.greater(pc.list_value_length(table["reward"]), 0), False))
    order = np.argsort(named["ts"].to_numpy(zero_copy_only=False), kind="stable")
    rewards = {}
    for placement, reward in zip(named["placement"].take(order).to_pylist(), named["reward"].take(order).to_pylist()):
        if placement is not None:
            rewards[placement] = tuple(reward)  # later decisions overwrite: the placement as it is now
    return rewards


def _decisions(table: pa.Table) -> pd.DataFrame:
    decisions = table.select(DECISION_COLUMNS).to_pandas()
    decisions["impressions"] = pc.fill_null(pc.list_value_length(table["items"]), 0).to_numpy(zero_copy_only=False)
    decisions["without_context"] = pc.is_null(table["context"]).to_numpy(zero_copy_only=False)
    decisions = decisions.drop_duplicates("decision_id", keep="first")
    return decisions.sort_values(["ts", "decision_id"], kind="stable").reset_index(drop=True)


def _impressions(table: pa.Table) -> pd.DataFrame:
    items = table["items"].combine_chunks() if table.num_rows else pa.array([], pa.list_(_ITEM))
    parents = pc.list_parent_indices(items).to_numpy(zero_copy_only=False)
    flat = items.flatten()
    frame = table.select(DECISION_COLUMNS).take(pa.array(parents, pa.int64())).to_pandas()
    frame["item_id"] = flat.field("item_id").to_numpy(zero_copy_only=False)
    position = flat.field("position").to_numpy(zero_copy_only=False)
    # a record without positions lists its items in order: the index within the decision is the position
    starts = np.searchsorted(parents, parents, side="left")
    frame["position"] = np.where(pd.isna(position), np.arange(len(parents)) - starts, position).astype(int)
    frame["propensity"] = flat.field("propensity").to_numpy(zero_copy_only=False).astype(float)
    frame = frame.loc[frame["item_id"].notna()].drop_duplicates(["decision_id", "position"], keep="first")
    return frame.sort_values(["ts", "decision_id", "position"], kind="stable").reset_index(drop=True)


def _read_day(path: Path) -> tuple[pa.Table, int]:
    if path.stat().st_size == 0:
        return _SCHEMA.empty_table(), 0
    table, bad = read_json_day(path, _PARSE)
    if table is None:
        return _read_day_line_by_line(path)
    return table, bad


def _read_day_line_by_line(path: Path) -> tuple[pa.Table, int]:
    rows, bad = rows_of_lines(path, _record)
    return pa.Table.from_pylist(rows, schema=_SCHEMA), bad


def _record(record: dict) -> dict:
    row = {name: record.get(name) for name in DECISION_COLUMNS}
    row["ts"] = float(record["ts"])
    row["reward"] = [str(kind) for kind in record.get("reward") or ()]
    context = record.get("context")
    row["context"] = {"stage": context.get("stage")} if isinstance(context, dict) else None
    row["items"] = [
        {"item_id": str(item["item_id"]), "position": item.get("position"), "propensity": item.get("propensity")}
        for item in record.get("items") or ()
    ]
    return row


SHOWN_COLUMNS = [
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
"""What training and off-policy evaluation read of each shown item: the decision as logged, in full."""


def read_shown_items(files: list[Path]) -> pd.DataFrame:
    """Every shown item of every decision in `files`, in time order, with its position and propensity,
    the candidates, the placement's reward types, the shadow model's choice and the profile logged.

    Propensity is NaN where the log has none (IPS then refuses those rows, with a reason). A line that
    is not a decision record (a write cut short by a crash) is skipped and counted in `attrs["bad_lines"]`;
    the items of erased ids' decisions (journal.erasures, of the data dir the first file's folder is in) are
    skipped and counted in `attrs["erased_lines"]`.
    """
    rows, bad_lines = [], 0
    for file in files:
        with open(file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    rows.extend(_shown_rows(json.loads(line)))
                except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
                    bad_lines += 1
    frame = pd.DataFrame(rows, columns=SHOWN_COLUMNS)
    erasures = Erasures.of_log(files[0].parent) if files else None
    frame, erased_lines = without_erased(frame, erasures)
    frame["ts"] = frame["ts"].astype(float)
    frame["propensity"] = pd.to_numeric(frame["propensity"], errors="coerce").astype(float)
    frame["position"] = frame["position"].astype(int)
    frame = frame.sort_values(["ts", "decision_id", "position"], kind="stable").reset_index(drop=True)
    frame.attrs["bad_lines"] = bad_lines
    frame.attrs["erased_lines"] = erased_lines
    return frame


def _shown_rows(record: dict) -> list[dict]:
    shadow = record.get("shadow") or {}
    base = {
        "decision_id": str(record["decision_id"]),
        "visitor_id": str(record["visitor_id"]),
        "user_id": record.get("user_id"),
        "placement": record.get("placement"),
        "ts": float(record["ts"]),
        "channel": record.get("channel"),
        "policy": record.get("policy"),
        "model_version": record.get("model_version"),
        "stage": record.get("stage"),
        "candidates": tuple(record.get("candidates") or ()),
        "reward": tuple(record.get("reward") or ()),
        "shadow_version": shadow.get("model_version"),
        "shadow_items": tuple(shadow.get("items") or ()),
        "profile": record.get("profile") or {},
    }
    if not np.isfinite(base["ts"]):
        raise ValueError("ts is not a finite number")
    return [
        {
            **base,
            "item_id": str(item["item_id"]),
            "position": int(item.get("position", position)),
            "propensity": item.get("propensity"),
        }
        for position, item in enumerate(record.get("items") or ())
    ]

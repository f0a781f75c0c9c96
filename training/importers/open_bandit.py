"""Open Bandit Dataset (ZOZOTOWN, CC BY 4.0): logged decisions with their propensities, page views and clicks.

Source: a campaign folder `open_bandit/<policy>/<campaign>/` holding `<campaign>.csv` (and
`item_context.csv`), or any folder above such campaign folders: each one found is imported
into its own files. Each CSV row is one impression: the logging policy showed `item_id` at
`position` (1-3) with probability `propensity_score` at `timestamp`, and it was clicked or not.

Mapping (config/journeys/open-bandit.yaml), visitor `ob-<policy>-<campaign>-<row>` (0-based
data row; the data has no user id, so each impression is its own anonymous visitor):
- decision (decisions/<policy>-<campaign>.jsonl): placement `zozotown-<campaign>`, one item
  (`item_id`, position = the data's position - 1, as the service counts from 0, propensity =
  `propensity_score`), policy `<policy>` (random or bts), reward [click], candidates the
  campaign's items (from item_context.csv), context the four hashed user features.
- `page_view` (awareness): the page with the recommendation, at the row's timestamp.
- `click` (consideration, and the map's outcome) when click = 1, one second after the
  impression (the data gives no click time), with the item and the decision id.
The 80 user-item affinity columns are not read. Times are the data's own (Nov 2019, UTC).
Written as JSON Lines (events/<policy>-<campaign>.jsonl).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.importers.parse import csv_chunks, instants, number
from training.importers.report import BadRows, ImportReport
from training.importers.writers import EventWriter, JsonLinesWriter, event_frame, iso_utc
from training.readers import BadInput

EVENT_TYPES = ("page_view", "click")
HORIZON_DAYS = 1 / 24
USER_FEATURES = ["user_feature_0", "user_feature_1", "user_feature_2", "user_feature_3"]
COLUMNS = ["timestamp", "item_id", "position", "click", "propensity_score", *USER_FEATURES]
CLICK_DELAY_S = 1.0


def campaign_files(source: Path) -> list[Path]:
    """The `<policy>/<campaign>/<campaign>.csv` files at or under `source`, sorted."""
    if source.is_file():
        return [source]
    found = sorted(p for p in source.rglob("*.csv") if p.stem == p.parent.name)
    if not found:
        raise BadInput(f"{source}: no Open Bandit campaign file (<policy>/<campaign>/<campaign>.csv) found")
    return found


def run(source: Path, out: Path, report: ImportReport, bad: BadRows) -> None:
    """Import every campaign file found, each into its own events and decisions file."""
    for file in campaign_files(source):
        policy, campaign = file.parent.parent.name, file.parent.name
        name = f"{policy}-{campaign}"
        candidates = _candidates(file.parent / "item_context.csv")
        with (
            EventWriter(out / "events" / f"{name}.jsonl", "jsonl") as writer,
            JsonLinesWriter(out / "decisions" / f"{name}.jsonl") as decision_log,
        ):
            for chunk, lines in csv_chunks(file, COLUMNS):
                report.read(file, len(chunk))
                shown = _checked(chunk, lines, file, bad, name)
                writer.write(events(shown))
                decision_log.write(decision_records(shown, policy, campaign, candidates))
        report.events_written += writer.rows
        report.decisions_written += decision_log.rows
        report.written += [f"events/{name}.jsonl", f"decisions/{name}.jsonl"]


def _candidates(item_context: Path) -> list[str] | None:
    """The campaign's item ids, from item_context.csv when it is there."""
    if not item_context.is_file():
        return None
    items = pd.read_csv(item_context, usecols=["item_id"], dtype=str)["item_id"].dropna()
    return sorted(items.unique(), key=lambda item: (len(item), item))


def _checked(chunk: pd.DataFrame, lines: np.ndarray, file: Path, bad: BadRows, name: str) -> pd.DataFrame:
    """Valid impressions of the chunk, parsed, with visitor/decision ids."""
    ts, problems = instants(chunk, "timestamp")
    item, item_problems = number(chunk, "item_id", integer=True, minimum=0)
    position, position_problems = number(chunk, "position", integer=True, minimum=1)
    click, click_problems = number(chunk, "click", integer=True, minimum=0, maximum=1)
    propensity, propensity_problems = number(chunk, "propensity_score", above=0, maximum=1)
    keep = bad.keep(
        file, "line", lines, problems + item_problems + position_problems + click_problems + propensity_problems
    )
    row = pd.Series(lines - 2, dtype=np.int64).astype(str).astype(object)
    shown = pd.DataFrame(
        {
            "decision_id": f"ob-{name}-" + row,
            "ts": ts,
            "item_id": pd.Series(np.nan_to_num(item).astype(np.int64)).astype(str).astype(object),
            "position": np.nan_to_num(position).astype(np.int64) - 1,
            "click": click == 1,
            "propensity": propensity,
            **{column: chunk[column].astype(object) for column in USER_FEATURES},
        }
    )
    return shown.loc[keep].reset_index(drop=True)


def events(shown: pd.DataFrame) -> pd.DataFrame:
    """A page view per impression and a click per clicked one, both with the decision id."""
    clicked = shown.loc[shown["click"].to_numpy()]
    views = event_frame(
        len(shown),
        event_id=(shown["decision_id"] + "-view").to_numpy(dtype=object),
        visitor_id=shown["decision_id"].to_numpy(dtype=object),
        type="page_view",
        ts=shown["ts"].to_numpy(),
        decision_id=shown["decision_id"].to_numpy(dtype=object),
    )
    clicks = event_frame(
        len(clicked),
        event_id=(clicked["decision_id"] + "-click").to_numpy(dtype=object),
        visitor_id=clicked["decision_id"].to_numpy(dtype=object),
        type="click",
        ts=clicked["ts"].to_numpy() + CLICK_DELAY_S,
        item_id=clicked["item_id"].to_numpy(dtype=object),
        decision_id=clicked["decision_id"].to_numpy(dtype=object),
    )
    return pd.concat([views, clicks], ignore_index=True)


def decision_records(shown: pd.DataFrame, policy: str, campaign: str, candidates: list[str] | None):
    """One decision record per impression, in the service's decision-log shape."""
    stamps = iso_utc(shown["ts"].to_numpy())
    features = shown[USER_FEATURES].where(shown[USER_FEATURES].notna(), None).to_dict("records")
    columns = ["decision_id", "ts", "item_id", "position", "propensity"]
    for (decision_id, ts, item_id, position, propensity), stamp, context in zip(
        shown[columns].itertuples(index=False, name=None), stamps, features
    ):
        record = {
            "decision_id": decision_id,
            "visitor_id": decision_id,
            "user_id": None,
            "placement": f"zozotown-{campaign}",
            "stage": None,
            "items": [{"item_id": item_id, "position": int(position), "propensity": float(propensity), "score": None}],
            "policy": policy,
            "model_version": None,
            "reward": ["click"],
            "ts": float(ts),
            "timestamp": stamp,
            "channel": None,
            "context": context,
        }
        if candidates is not None:
            record["candidates"] = candidates
        yield record

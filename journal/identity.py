"""Who an event belongs to: a device (visitor_id) or the person (user_id) it was linked to at that instant.

Links come from the journal: the identities log (`POST /v1/identify` links, `DELETE /v1/identify`
unlinks) and the first event or decision that carried both ids. The rule, point in time:

- a device belongs to at most one person at any instant: the person of its latest link at or before
  that instant, unless an unlink of that same pair came after it;
- a device's anonymous history (its events before its first link) is the first linked person's, once;
- a device later linked to another person (a shared device) is that person's from the new link on;
  its earlier events stay with the earlier person, and nothing is merged twice;
- after an unlink the device is anonymous again (its own visitor_id) until its next link.

An event's person key is its user_id when it names one, else its device's person at its instant,
else its visitor_id. Serving (the context a decision reads), the rebuild, training, lift and
analytics all use `person_keys`, so they count the same people.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from journal.erasures import Erasures
from journal.event_log import day_files, rows_of_lines, without_erased
from journal.records import checked_id

IDENTITIES_LOG = "identities"
"""<data_dir>/identities/: one record per link or unlink, durable before the 2xx that accepted it."""
LINK, UNLINK = "link", "unlink"
LINK_COLUMNS = ["ts", "action", "visitor_id", "user_id", "source"]
MAX_DEVICES = 100
"""Devices remembered per person (serving's and the rebuild's `devices` set): a person's phones, laptops and
tablets fit; an id shared by a call centre's whole floor stops growing there."""


def read_identity_log(data_dir: Path | str) -> pd.DataFrame:
    """The identities log's records (links and unlinks) in time order; unreadable lines and the records of
    erased ids (journal.erasures) are skipped."""
    rows: list[dict] = []
    directory = Path(data_dir) / IDENTITIES_LOG
    for path in day_files(directory):
        found, _ = rows_of_lines(path, _link_row)
        rows.extend(found)
    frame, _ = without_erased(_frame(rows), Erasures.of_log(directory))
    return frame.reset_index(drop=True)


def links_seen_together(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """A link at the first instant of each run of one (visitor_id, user_id) pair in `frame` (events or
    decisions with visitor_id, user_id and ts): the pair's first event, and again wherever the device was
    seen with another user in between (a shared device that changes hands back), as serving links."""
    if not len(frame) or "user_id" not in frame:
        return _frame([])
    both = frame.loc[frame["user_id"].notna() & (frame["user_id"] != frame["visitor_id"])]
    if not len(both):
        return _frame([])
    both = both[["visitor_id", "user_id", "ts"]].sort_values(["visitor_id", "ts"], kind="stable")
    starts = (both["visitor_id"] != both["visitor_id"].shift()) | (both["user_id"] != both["user_id"].shift())
    first = both.loc[starts.to_numpy()].copy()
    first["ts"] = first["ts"].astype(float)
    first["action"], first["source"] = LINK, source
    return first[LINK_COLUMNS].sort_values("ts", kind="stable").reset_index(drop=True)


def all_links(data_dir: Path | str, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """The identities log's records and the links the events carry, in time order. An event links its pair
    where the device is not that person's at that point (serving links the same way); one that finds the
    device linked to its user already adds nothing."""
    logged = read_identity_log(data_dir)
    carried = links_seen_together(events, "event") if events is not None else _frame([])
    if not len(carried):
        return logged
    links = pd.concat([logged, carried], ignore_index=True).sort_values("ts", kind="stable")
    by_device = links.sort_values(["visitor_id", "ts"], kind="stable")
    same_device = by_device["visitor_id"] == by_device["visitor_id"].shift()
    again = (
        same_device
        & (by_device["action"].shift() == LINK)
        & (by_device["user_id"] == by_device["user_id"].shift())
        & (by_device["source"] == "event")
    )
    links = links.drop(index=by_device.index[again.to_numpy()])
    return links.reset_index(drop=True)


def ids_seen(*frames: pd.DataFrame) -> pd.DataFrame:
    """visitor_id, user_id and ts of several logs' rows (events, decisions): each may carry a link."""
    columns = ["visitor_id", "user_id", "ts"]
    return pd.concat([frame.reindex(columns=columns) for frame in frames], ignore_index=True)


def device_timeline(links: pd.DataFrame) -> pd.DataFrame:
    """(visitor_id, ts, person, first_person): each device's owner from each link record on ("" when
    anonymous after an unlink), and the first person it was ever linked to."""
    rows, owner, first = [], {}, {}
    for ts, action, device, person in links[["ts", "action", "visitor_id", "user_id"]].itertuples(index=False):
        if action == LINK:
            if owner.get(device) == person:
                continue  # the same link again: nothing changes
            owner[device] = person
            first.setdefault(device, person)
        elif owner.get(device) == person:  # an unlink of the pair that holds the device now
            owner[device] = ""
        else:
            continue
        rows.append((device, float(ts), owner[device]))
    timeline = pd.DataFrame(rows, columns=["visitor_id", "ts", "person"])
    timeline["first_person"] = timeline["visitor_id"].map(first)
    return timeline


def person_keys(frame: pd.DataFrame, links: pd.DataFrame) -> np.ndarray:
    """Each row's person key (frame: visitor_id, user_id, ts), by the rule in this module's docstring."""
    visitors = frame["visitor_id"].astype(object).to_numpy()
    named = frame["user_id"].to_numpy(dtype=object) if "user_id" in frame else np.full(len(frame), None)
    keys = np.where(pd.notna(named) & (named != ""), named, visitors).astype(object)
    if not len(frame) or not len(links):
        return keys
    timeline = device_timeline(links)
    anonymous = ~(pd.notna(named) & (named != "")) & pd.Series(visitors).isin(timeline["visitor_id"]).to_numpy()
    if not anonymous.any():
        return keys
    rows = pd.DataFrame(
        {"row": np.flatnonzero(anonymous), "visitor_id": visitors[anonymous], "ts": frame["ts"].to_numpy()[anonymous]}
    )
    rows["ts"] = rows["ts"].astype(float)
    matched = pd.merge_asof(
        rows.sort_values("ts", kind="stable"),
        timeline.sort_values("ts", kind="stable"),
        on="ts",
        by="visitor_id",
        direction="backward",
    )
    first = matched["visitor_id"].map(timeline.groupby("visitor_id")["first_person"].first())
    person = matched["person"].where(matched["person"].notna(), first)  # before the first link: the first person
    person = person.where(person.notna() & (person != ""), matched["visitor_id"])  # unlinked: the device itself
    keys[matched["row"].to_numpy()] = person.to_numpy(dtype=object)
    return keys


def _link_row(record: dict) -> dict:
    action = record["action"]
    if action not in (LINK, UNLINK):
        raise ValueError(f"unknown action {action!r}")
    return {
        "ts": float(record["ts"]),
        "action": action,
        "visitor_id": checked_id(record["visitor_id"]),
        "user_id": checked_id(record["user_id"]),
        "source": "identify",
    }


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=LINK_COLUMNS)
    frame["ts"] = frame["ts"].astype(float)
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)

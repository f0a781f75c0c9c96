"""Hillstrom's MineThatData e-mail test: one randomised offer decision per customer, with its outcomes.

Source: `hillstrom/hillstrom.csv`, one row per customer: context (recency, history_segment,
history, mens, womens, zip_code, newbie, channel), the randomised arm `segment` (Mens E-Mail,
Womens E-Mail, No E-Mail: 1/3 each) and the two weeks' outcomes `visit`, `conversion`, `spend`.

Mapping (config/journeys/hillstrom.yaml), customer `hs-<row>` (0-based data row):
- decision (decisions/decisions.jsonl): placement `email_campaign`, one item, the arm
  (`mens_email`, `womens_email` or `no_email`, position 0, propensity 1/3), policy `random`,
  reward [visit], candidates the three arms, context and profile the customer's attributes (the
  journey map declares them as profile features, so the models and `evaluate` read them).
- `email_received` (awareness, channel email): for the two e-mail arms only; the control
  group received nothing, so it has no touchpoint until it visits.
- `visit` (consideration, channel web) when visit = 1; `purchase` (conversion, value = spend)
  when conversion = 1. Both are outcomes of the map and carry the decision id and the arm.
- profile (profiles.jsonl): the context columns as they are (`channel` is the customer's past
  purchase channel, not a touchpoint's), plus `interests` [mens] / [womens] from the
  mens/womens flags (bought that merchandise in the past year).

Time is synthetic (the data has none): customer k is decided at 2008-03-01T00:00:00Z + k x 10
minutes (file order), the e-mail arrives then, the visit one hour later and the purchase two
hours later, all inside the default 24-hour reward window. Written as JSON Lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.importers.parse import choice, csv_chunks, missing, number, require_file
from training.importers.report import BadRows, ImportReport
from training.importers.writers import EventWriter, JsonLinesWriter, event_frame, iso_utc, profile_records

EVENT_TYPES = ("email_received", "visit", "purchase")
HORIZON_DAYS = 14.0
ARMS = {"Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email", "No E-Mail": "no_email"}
PROPENSITY = 1 / 3
PLACEMENT = "email_campaign"
PROFILE_COLUMNS = ["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel"]
COLUMNS = [*PROFILE_COLUMNS, "segment", "visit", "conversion", "spend"]
START = pd.Timestamp("2008-03-01", tz="UTC").timestamp()
CUSTOMER_SPACING_S = 600.0


def run(source: Path, out: Path, report: ImportReport, bad: BadRows) -> None:
    """Write decisions, outcome events and profiles, chunk by chunk."""
    file = require_file(source if source.is_file() else source / "hillstrom.csv", "hillstrom.csv")
    with (
        EventWriter(out / "events" / "events.jsonl", "jsonl") as writer,
        JsonLinesWriter(out / "decisions" / "decisions.jsonl") as decision_log,
        JsonLinesWriter(out / "profiles.jsonl") as profile_log,
    ):
        for chunk, lines in csv_chunks(file, COLUMNS):
            report.read(file, len(chunk))
            customers = _checked(chunk, lines, file, bad)
            writer.write(events(customers))
            decision_log.write(decision_records(customers))
            profile_log.write(profile_records(customers["visitor_id"], customer_profiles(customers)))
    report.events_written = writer.rows
    report.decisions_written = decision_log.rows
    report.profiles_written = profile_log.rows
    report.written += ["events/events.jsonl", "decisions/decisions.jsonl", "profiles.jsonl"]


def _checked(chunk: pd.DataFrame, lines: np.ndarray, file: Path, bad: BadRows) -> pd.DataFrame:
    """Valid customers of the chunk, numbers parsed, with their synthetic decision time and ids."""
    parsed = {}
    problems = choice(chunk, "segment", ARMS)
    for column, kwargs in {
        "recency": {"integer": True, "minimum": 0},
        "history": {"minimum": 0},
        "mens": {"integer": True, "minimum": 0, "maximum": 1},
        "womens": {"integer": True, "minimum": 0, "maximum": 1},
        "newbie": {"integer": True, "minimum": 0, "maximum": 1},
        "visit": {"integer": True, "minimum": 0, "maximum": 1},
        "conversion": {"integer": True, "minimum": 0, "maximum": 1},
        "spend": {"minimum": 0},
    }.items():
        parsed[column], column_problems = number(chunk, column, **kwargs)
        problems += column_problems
    problems += [missing(chunk, c) for c in ("history_segment", "zip_code", "channel")]
    keep = bad.keep(file, "line", lines, problems)
    row = lines - 2
    customers = chunk.assign(**parsed, row=row, arm=chunk["segment"].map(ARMS))
    customers["visitor_id"] = "hs-" + pd.Series(row, dtype=np.int64).astype(str).astype(object)
    customers["ts"] = START + row * CUSTOMER_SPACING_S
    return customers.loc[keep].reset_index(drop=True)


def events(customers: pd.DataFrame) -> pd.DataFrame:
    """email_received for the e-mail arms, visit and purchase where they happened, each with its decision id."""
    frames = []
    for kind, mask, delay, channel, value in (
        ("email_received", customers["arm"] != "no_email", 0.0, "email", None),
        ("visit", customers["visit"] == 1, 3600.0, "web", None),
        ("purchase", customers["conversion"] == 1, 7200.0, None, customers["spend"]),
    ):
        chosen = customers.loc[mask.to_numpy()]
        frames.append(
            event_frame(
                len(chosen),
                event_id=(chosen["visitor_id"] + f"-{kind}").to_numpy(dtype=object),
                visitor_id=chosen["visitor_id"].to_numpy(dtype=object),
                type=kind,
                ts=chosen["ts"].to_numpy() + delay,
                channel=channel,
                item_id=chosen["arm"].to_numpy(dtype=object),
                value=None if value is None else value.loc[chosen.index].to_numpy(),
                decision_id=chosen["visitor_id"].to_numpy(dtype=object),
            )
        )
    return pd.concat(frames, ignore_index=True)


def customer_profiles(customers: pd.DataFrame) -> pd.DataFrame:
    """The context columns as a profile, whole numbers as ints, with interests from the mens/womens flags."""
    profile = customers[PROFILE_COLUMNS].copy()
    for column in ("recency", "mens", "womens", "newbie"):
        profile[column] = profile[column].astype(np.int64).astype(object)
    profile["history"] = profile["history"].astype(object)
    mens, womens = customers["mens"].to_numpy() == 1, customers["womens"].to_numpy() == 1
    profile["interests"] = [[name for name, flag in (("mens", m), ("womens", w)) if flag] for m, w in zip(mens, womens)]
    return profile


def decision_records(customers: pd.DataFrame):
    """One decision record per customer, in the service's decision-log shape."""
    stamps = iso_utc(customers["ts"].to_numpy())
    contexts = customer_profiles(customers).drop(columns="interests")
    for (visitor_id, ts, arm), stamp, context in zip(
        customers[["visitor_id", "ts", "arm"]].itertuples(index=False, name=None),
        stamps,
        profile_records(customers["visitor_id"], contexts),
    ):
        yield {
            "decision_id": visitor_id,
            "visitor_id": visitor_id,
            "user_id": None,
            "placement": PLACEMENT,
            "stage": None,
            "items": [{"item_id": arm, "position": 0, "propensity": PROPENSITY, "score": None}],
            "policy": "random",
            "model_version": None,
            "candidates": list(ARMS.values()),
            "reward": ["visit"],
            "ts": float(ts),
            "timestamp": stamp,
            "channel": "email",
            "context": context["profile"],
            "profile": context["profile"],
        }

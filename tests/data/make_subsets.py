"""Rebuild the small data set subsets in tests/data from the shared data folder (see tests/data/NOTICE).

    .venv/bin/python tests/data/make_subsets.py [--data ../shared/data]

Rows are picked, never changed, and kept in file order; the tests' exact expectations
(counts, known rows) are about these subsets.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def pathdata(data: Path) -> None:
    """The first 300 paths that stand for at most 20 journeys each (row 0 among them)."""
    paths = pd.read_csv(data / "pathdata/PathData.csv", sep=";", dtype=str)
    journeys = paths["total_conversions"].astype(int) + paths["total_null"].astype(int)
    _write_csv(paths[journeys <= 20].head(300), "pathdata/PathData.csv", sep=";")


def hillstrom(data: Path) -> None:
    """The first 300 customers: all three arms, visits and a few conversions."""
    _write_csv(pd.read_csv(data / "hillstrom/hillstrom.csv", dtype=str).head(300), "hillstrom/hillstrom.csv")


def open_bandit(data: Path) -> None:
    """Per policy: the first 120 impressions and every clicked one among the first 3,000, all columns."""
    for policy in ("random", "bts"):
        folder = data / "open_bandit" / policy / "all"
        rows = pd.read_csv(folder / "all.csv", dtype=str, keep_default_na=False, nrows=3000)
        chosen = rows[(rows.index < 120) | (rows["click"] == "1")]
        _write_csv(chosen.rename(columns={"Unnamed: 0": ""}), f"open_bandit/{policy}/all/all.csv")
        shutil.copy(folder / "item_context.csv", HERE / "open_bandit" / policy / "all" / "item_context.csv")


def yoochoose(data: Path) -> None:
    """The first 250 clicks of the training file (whole sessions) and the first 120 of the test file."""
    for name, count in (("train_full", 250), ("test", 120)):
        file = f"yoochoose/yoochoose-clicks-100k_{name}.txt"
        clicks = pd.read_csv(data / file, sep="\t", dtype=str)
        last_session = clicks["SessionId"].iloc[count - 1]
        end = clicks.index[clicks["SessionId"] == last_session].max()
        _write_csv(clicks.loc[:end], file, sep="\t")


def online_shoppers(data: Path) -> None:
    """Every 41st session (about 300, across the months)."""
    file = "online_shoppers/online_shoppers_intention.csv"
    _write_csv(pd.read_csv(data / file, dtype=str, keep_default_na=False).iloc[::41], file)


def complete_journey(data: Path) -> None:
    """Six households with demographics, campaigns and redemptions: their first three baskets, the baskets of
    their first redemption day, and their campaigns, redemptions and demographics."""
    folder = data / "complete_journey"
    table = {name: pd.read_parquet(folder / f"{name}.parquet") for name in _CJ_TABLES}
    redeemed = set(table["coupon_redemptions"]["household_id"])
    targeted = set(table["campaigns"]["household_id"])
    households = sorted(set(table["demographics"]["household_id"]) & redeemed & targeted)[:6]
    lines = table["transactions"][table["transactions"]["household_id"].isin(households)]
    first_baskets = lines.drop_duplicates("basket_id").groupby("household_id")["basket_id"].head(3)
    redemptions = table["coupon_redemptions"][table["coupon_redemptions"]["household_id"].isin(households)]
    first_day = redemptions.groupby("household_id")["redemption_date"].min()
    on_first_day = lines["transaction_timestamp"].dt.normalize() == lines["household_id"].map(first_day)
    lines = lines[lines["basket_id"].isin(first_baskets) | on_first_day]
    subset = {
        "transactions": lines,
        "campaigns": table["campaigns"][table["campaigns"]["household_id"].isin(households)],
        "campaign_descriptions": table["campaign_descriptions"],
        "coupon_redemptions": redemptions,
        "demographics": table["demographics"][table["demographics"]["household_id"].isin(households)],
    }
    (HERE / "complete_journey").mkdir(parents=True, exist_ok=True)
    for name, frame in subset.items():
        frame.to_parquet(HERE / "complete_journey" / f"{name}.parquet", index=False)


_CJ_TABLES = ("transactions", "campaigns", "campaign_descriptions", "coupon_redemptions", "demographics")


def _write_csv(frame: pd.DataFrame, relative: str, sep: str = ",") -> None:
    path = HERE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep=sep, index=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(HERE.parents[2] / "shared" / "data"))
    data = Path(parser.parse_args().data)
    for build in (pathdata, hillstrom, open_bandit, yoochoose, online_shoppers, complete_journey):
        build(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())

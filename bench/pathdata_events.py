"""PathData (ChannelAttribution, GPL-3.0-or-later) as canonical events and a journey map, for `training analyze`.

    .venv/bin/python bench/pathdata_events.py --out var/pathdata
    .venv/bin/python -m training analyze --events var/pathdata/events.jsonl \\
        --journey var/pathdata/journey.yaml --out var/pathdata/report

A stop-gap until `python -m training import` reads this data set. Each CSV row is a path of
channels ("eta > iota > alpha") with how many journeys took it and converted
(total_conversions) or not (total_null): each such journey becomes one visitor whose
touches are `touch_<channel>` events on that channel, followed by a `purchase` for the
converting ones (its value: the row's conversion value per conversion; no channel, the data
does not say). The data has no timestamps, only order: touches are placed a minute apart and
journeys start on different days of 2020, so times in stage say nothing here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

SOURCE = Path("/work/shared/data/pathdata/PathData.csv")
START = pd.Timestamp("2020-01-01", tz="UTC").timestamp()


def convert(source: Path, out: Path, limit: int | None = None) -> dict:
    """Write out/events.jsonl and out/journey.yaml; returns counts to check the analysis against."""
    paths = pd.read_csv(source, sep=";")
    if limit:
        paths = paths.head(limit)
    per_row = paths["total_conversions"] + paths["total_null"]
    journeys = paths.loc[paths.index.repeat(per_row)].copy()
    journeys["copy"] = journeys.groupby(level=0).cumcount()
    journeys["converted"] = journeys["copy"] < journeys["total_conversions"]
    journeys["visitor_id"] = "pd-" + journeys.index.astype(str) + "-" + journeys["copy"].astype(str)
    journeys["start"] = START + (np.arange(len(journeys)) % 366) * 86_400.0
    journeys = journeys.reset_index(drop=True)

    touches = journeys.assign(channel=journeys["path"].str.split(" > ")).explode("channel")
    touches["step"] = touches.groupby("visitor_id", sort=False).cumcount()
    touches = pd.DataFrame(
        {
            "visitor_id": touches["visitor_id"],
            "type": "touch_" + touches["channel"],
            "channel": touches["channel"],
            "ts": touches["start"] + touches["step"] * 60.0,
            "value": np.nan,
        }
    )
    buyers = journeys[journeys["converted"]]
    last = touches.groupby("visitor_id", sort=False)["ts"].max()
    purchases = pd.DataFrame(
        {
            "visitor_id": buyers["visitor_id"],
            "type": "purchase",
            "channel": None,
            "ts": last.reindex(buyers["visitor_id"]).to_numpy() + 60.0,
            "value": (buyers["total_conversion_value"] / buyers["total_conversions"]).round(4),
        }
    )
    events = pd.concat([touches, purchases], ignore_index=True).sort_values(["ts", "visitor_id"], kind="stable")
    events.insert(0, "event_id", "pd-e" + pd.Series(np.arange(len(events)), index=events.index).astype(str))
    out.mkdir(parents=True, exist_ok=True)
    events.to_json(out / "events.jsonl", orient="records", lines=True)
    channels = sorted(set(touches["channel"]))
    journey = {
        "stages": ["awareness", "conversion"],
        "events": {**{f"touch_{c}": "awareness" for c in channels}, "purchase": "conversion"},
        "lapse_after_days": 180,
    }
    header = "# PathData journey map: every channel touch builds awareness; a conversion converts.\n"
    (out / "journey.yaml").write_text(header + yaml.safe_dump(journey, sort_keys=False))
    return {"journeys": len(journeys), "conversions": int(journeys["converted"].sum()), "events": len(events)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=str(SOURCE))
    parser.add_argument("--out", default="var/pathdata")
    parser.add_argument("--limit", type=int, help="only the first N paths of the CSV")
    args = parser.parse_args()
    counts = convert(Path(args.source), Path(args.out), args.limit)
    journeys, converting = counts["journeys"], counts["conversions"]
    print(f"wrote {counts['events']:,} events of {journeys:,} journeys ({converting:,} converting) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

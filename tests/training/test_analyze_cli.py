"""`python -m training analyze`: report.html and report.json from an event file, as a marketer runs it."""

import itertools
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests import journey_log
from training.__main__ import main
from training.importers import import_dataset
from training.readers import read_events

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
JOURNEYS = ROOT / "config" / "journeys"
SECTIONS = [
    "Where the real journey departs from the map",
    "Stage flow: the real journey over the designed map",
    "Transition matrix",
    "Funnel",
    "Time spent in each stage",
    "Most common paths",
    "Channel mix per stage",
    "Touchpoints associated with converting",
    "Event types the journey map does not know",
]
KEYS = {
    "summary",
    "stages",
    "conversion_stage",
    "transitions",
    "funnel",
    "paths",
    "channels",
    "touchpoints",
    "unknown_event_types",
    "gaps",
    "findings",
}


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def small_log(tmp_path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in journey_log.api_events()))
    return path


def test_demo_events_give_a_full_report(capsys, tmp_path, demo_events):
    out = tmp_path / "report"
    code, printed, _ = run(capsys, "analyze", "--events", str(demo_events), "--out", str(out))
    assert code == 0
    figures = json.loads((out / "report.json").read_text())
    assert set(figures) == KEYS
    assert figures["summary"]["events"] == len(read_events(demo_events))
    assert figures["summary"]["visitors"] == 600
    # the simulator sends visitors back from intent to consideration; the map has no such move
    assert any(m["from"] == "intent" and m["to"] == "consideration" for m in figures["gaps"]["unmapped_frequent"])
    page = (out / "report.html").read_text()
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert page.count("<svg") >= 3 + len(figures["stages"])  # flow, funnel, channel mix, one per stage's times
    assert not re.search(r"""(src|href)=|<script|<link|@import""", page)  # one file, nothing fetched
    assert "Where the real journey departs from the map:" in printed and str(out / "report.html") in printed


def test_handcrafted_log_findings_and_filters(capsys, tmp_path, small_log):
    out = tmp_path / "report"
    code, printed, _ = run(capsys, "analyze", "--events", str(small_log), "--out", str(out), "--json")
    assert code == 0
    answer = json.loads(printed)
    assert answer["summary"]["visitors"] == 3 and answer["summary"]["converting"] == 2  # c and d are u1's
    assert [f["kind"] for f in answer["findings"]][:3] == ["late_entry", "skip", "back"]
    assert set(answer["seconds"]) == {"read_s", "analyze_s", "total_s"}

    since, until = "2026-05-04T10:00:00+00:00", "2026-05-04T14:00"  # a zone-less time is UTC
    code, printed, _ = run(
        capsys, "analyze", "--events", str(small_log), "--out", str(out), "--json", "--since", since, "--until", until
    )
    summary = json.loads(printed)["summary"]
    assert (summary["events"], summary["filters"]["until"]) == (6, "2026-05-04T14:00:00Z")

    segment = tmp_path / "segment.txt"
    segment.write_text("visitor_id\na\n\nd\n")
    code, printed, _ = run(
        capsys,
        "analyze",
        *("--events", str(small_log), "--out", str(out), "--json", "--segment", str(segment), "--journeys", "device"),
    )
    assert json.loads(printed)["summary"] | {"filters": None} == {
        "events": 6,
        "journeys_by": "device",
        "visitors": 2,
        "persons": 2,
        "devices": 2,
        "stitched_journeys": 0,
        "visitors_with_stage": 1,
        "visitors_without_stage": 1,
        "converting": 1,
        "conversion_rate": 0.5,
        "first_event": "2026-05-04T08:00:00Z",
        "last_event": "2026-05-04T15:00:00Z",
        "filters": None,
    }

    code, printed, _ = run(capsys, "analyze", "--events", str(small_log), "--out", str(out), "--channel", "store")
    assert code == 0 and "3 events, 2 journeys, 2 converting" in printed


def test_conversion_stage_from_the_journey_yaml(capsys, tmp_path, small_log, journey):
    import yaml

    path = tmp_path / "journey.yaml"
    path.write_text(yaml.safe_dump({**journey.to_dict(), "conversion_stage": "intent"}))
    code, printed, _ = run(
        capsys, "analyze", "--events", str(small_log), "--journey", str(path), "--out", str(tmp_path), "--json"
    )
    assert code == 0 and json.loads(printed)["summary"]["converting"] == 2  # b and c reached intent


def test_the_report_escapes_what_the_data_says(capsys, tmp_path):
    events = tmp_path / "events.csv"
    pd.DataFrame(
        {
            "visitor_id": ["v1", "v1"],
            "type": ["page_view", "<script>alert(1)</script>"],
            "timestamp": ["2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z"],
            "channel": ["web", "<b>web</b>"],
        }
    ).to_csv(events, index=False)
    code, _, _ = run(capsys, "analyze", "--events", str(events), "--out", str(tmp_path / "r"))
    assert code == 0
    page = (tmp_path / "r" / "report.html").read_text()
    assert "<script>" not in page and "<b>web" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--journey", "/nonexistent/journey.yaml"], "journey map not found"),
        (["--events", "/nonexistent/events.jsonl"], "no such file or directory"),
        (["--segment", "/nonexistent/ids.txt"], "cannot read the segment file"),
    ],
)
def test_bad_inputs_say_what_is_wrong(capsys, tmp_path, small_log, argv, message):
    args = {"--events": str(small_log), "--out": str(tmp_path)}
    args.update(dict(zip(argv[::2], argv[1::2])))
    code, _, err = run(capsys, "analyze", *[part for pair in args.items() for part in pair])
    assert code == 2 and message in err


def test_a_bad_time_is_refused_by_the_parser(capsys, tmp_path, small_log):
    with pytest.raises(SystemExit):
        main(["analyze", "--events", str(small_log), "--out", str(tmp_path), "--since", "last tuesday"])
    assert "not an ISO-8601 date or time" in capsys.readouterr().err


# -- on what the importers write (the bundled subsets of the public data sets, tests/data) ---------


def test_imported_pathdata_journeys_and_conversions_match_the_csv(capsys, tmp_path):
    """PathData imported, then analysed: every journey and conversion counted in the CSV is in the report."""
    import_dataset("pathdata", DATA / "pathdata" / "PathData.csv", tmp_path / "imported")
    out = tmp_path / "report"
    events, journey = tmp_path / "imported" / "events", JOURNEYS / "pathdata.yaml"
    code, printed, _ = run(
        capsys, "analyze", "--events", str(events), "--journey", str(journey), "--out", str(out), "--json"
    )
    assert code == 0
    csv = pd.read_csv(DATA / "pathdata" / "PathData.csv", sep=";")
    conversions = int(csv["total_conversions"].sum())
    journeys = conversions + int(csv["total_null"].sum())
    summary = json.loads(printed)["summary"]
    assert (summary["visitors"], summary["converting"]) == (journeys, conversions) == (1149, 289)
    figures = json.loads((out / "report.json").read_text())
    awareness = figures["funnel"][0]
    assert (awareness["stage"], awareness["visitors"], awareness["ended_here"]) == (
        "awareness",
        journeys,
        journeys - conversions,
    )
    # a journey's touchpoint path collapses repeats: "iota > iota" is the path "touch_iota"
    collapsed = csv["path"].str.split(" > ").map(lambda steps: " > ".join(k for k, _ in itertools.groupby(steps)))
    by_path = csv.groupby(collapsed)["total_conversions"].sum()
    top = figures["paths"]["touchpoints"]["to_conversion"][0]
    assert (top["path"], top["conversions"]) == ("touch_eta", by_path.max()) == ("touch_eta", 34)
    assert figures["unknown_event_types"] == []


def test_imported_complete_journey_departs_from_its_map(capsys, tmp_path):
    """The Complete Journey subset (six households), imported then analysed: figures checked against its tables.

    Its map says campaign received -> first basket -> repeat baskets; four of the six households
    shopped before their first campaign, so their journeys start at conversion (a late entry).
    """
    source = DATA / "complete_journey"
    import_dataset("complete-journey", source, tmp_path / "imported")
    out = tmp_path / "report"
    events, journey = tmp_path / "imported" / "events", JOURNEYS / "complete-journey.yaml"
    code, _, _ = run(capsys, "analyze", "--events", str(events), "--journey", str(journey), "--out", str(out))
    assert code == 0
    figures = json.loads((out / "report.json").read_text())

    lines = pd.read_parquet(source / "transactions.parquet")
    campaigns = pd.read_parquet(source / "campaigns.parquet").merge(
        pd.read_parquet(source / "campaign_descriptions.parquet")[["campaign_id", "start_date"]], on="campaign_id"
    )
    redemptions = pd.read_parquet(source / "coupon_redemptions.parquet")
    households, baskets = lines["household_id"].nunique(), lines["basket_id"].nunique()
    first_basket = lines.groupby("household_id")["transaction_timestamp"].min()
    first_campaign = campaigns.groupby("household_id")["start_date"].min().reindex(first_basket.index)
    campaign_first = int((first_campaign < first_basket).sum())
    assert (households, baskets, len(campaigns), len(redemptions), campaign_first) == (6, 23, 50, 69, 2)

    summary = figures["summary"]
    assert summary["events"] == baskets + len(campaigns) + len(redemptions) == 142
    assert (summary["visitors"], summary["converting"]) == (households, households)  # every household has a basket
    assert (figures["stages"], figures["conversion_stage"]) == (["awareness", "conversion", "loyalty"], "conversion")
    funnel = {row["stage"]: (row["visitors"], row["reached_at_least"], row["skipped"]) for row in figures["funnel"]}
    assert funnel == {stage: (6, 6, 0) for stage in ("awareness", "conversion", "loyalty")}
    per_stage = {row["stage"]: row["events"] for row in figures["channels"]["per_stage"]}
    assert per_stage == {"awareness": len(campaigns), "conversion": households, "loyalty": baskets - households}
    entries = figures["transitions"]["counts"]["entry"]
    assert (entries["awareness"], entries["conversion"]) == (campaign_first, households - campaign_first)
    late = next(f for f in figures["findings"] if f["kind"] == "late_entry")
    assert late["count"] == 4 and "start at conversion" in late["text"]
    to_conversion = {row["path"]: row["journeys"] for row in figures["paths"]["touchpoints"]["to_conversion"]}
    assert to_conversion == {"": households - campaign_first, "campaign_received": campaign_first}
    assert figures["unknown_event_types"] == []  # coupon_redemption is an outcome of the map

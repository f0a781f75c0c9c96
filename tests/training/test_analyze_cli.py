"""`python -m training analyze`: report.html and report.json from an event file, as a marketer runs it."""

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests import journey_log
from training.__main__ import main
from training.readers import read_events

ROOT = Path(__file__).resolve().parents[2]
PATHDATA = Path("/work/shared/data/pathdata/PathData.csv")
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
    assert answer["summary"]["visitors"] == 4 and answer["summary"]["converting"] == 2
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
        capsys, "analyze", "--events", str(small_log), "--out", str(out), "--json", "--segment", str(segment)
    )
    assert json.loads(printed)["summary"] | {"filters": None} == {
        "events": 6,
        "visitors": 2,
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


@pytest.mark.skipif(not PATHDATA.exists(), reason="the shared PathData set is not here")
def test_pathdata_journeys_and_conversions_match_the_csv(tmp_path):
    """The real PathData set (first 300 paths): every journey and conversion in the CSV is in the report."""
    subprocess.run(
        [sys.executable, "bench/pathdata_events.py", "--out", str(tmp_path), "--limit", "300"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    command = [sys.executable, "-m", "training", "analyze", "--events", str(tmp_path / "events.jsonl")]
    command += ["--journey", str(tmp_path / "journey.yaml"), "--out", str(tmp_path / "report"), "--json"]
    summary = json.loads(subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    csv = pd.read_csv(PATHDATA, sep=";").head(300)
    assert summary["summary"]["visitors"] == int((csv["total_conversions"] + csv["total_null"]).sum())
    assert summary["summary"]["converting"] == int(csv["total_conversions"].sum())
    figures = json.loads((tmp_path / "report" / "report.json").read_text())
    # a journey's touchpoint path collapses repeats: "iota > iota" is the path "touch_iota"
    collapsed = csv["path"].str.split(" > ").map(lambda steps: " > ".join(k for k, _ in itertools.groupby(steps)))
    by_path = csv.groupby(collapsed)["total_conversions"].sum()
    top = figures["paths"]["touchpoints"]["to_conversion"][0]
    assert top["conversions"] == by_path.max()
    assert top["path"] == " > ".join(f"touch_{c}" for c in by_path.idxmax().split(" > "))

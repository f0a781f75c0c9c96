"""`python -m training lift`: the table, lift.html and lift.json from the service's logs, as a marketer runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lift_log import hand_made_log
from training.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
WINDOW = ["--since", "2026-03-02T00:00:00Z", "--until", "2026-03-03"]


def test_the_command_prints_the_table_and_writes_the_page_and_the_figures(tmp_path):
    data_dir = hand_made_log(tmp_path / "var")
    out = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "training", "lift", "--data-dir", str(data_dir), *WINDOW, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "  * home_hero adds +20.0 pts of response rate (95% CI +5.2 to +33.4) overall; by stage: adds" in run.stdout
    overall = next(line for line in lines if line.strip().startswith("all stages"))
    assert overall.split()[2:4] == ["70/80", "70/80"]
    assert "80.0% vs 60.0% +20.0 [+5.2,+33.4]*" in overall and "20.0% vs 10.0% +10.0 [-1.5,+21.9]" in overall
    assert overall.endswith("20.00 vs 10.00 +10.00 [-1.64,+21.64]")
    assert run.stdout.rstrip().endswith(f"wrote {out / 'lift.html'} and {out / 'lift.json'}")
    figures = json.loads((out / "lift.json").read_text())
    assert figures["placements"][0]["overall"]["metrics"]["response_rate"]["ci"] == pytest.approx(
        [0.0524, 0.3339], abs=5e-5
    )
    page = (out / "lift.html").read_text()
    assert page.startswith("<!doctype html>") and "home_hero adds +20.0 pts of response rate" in page


def test_json_output_and_the_placement_filter(tmp_path, capsys):
    data_dir = hand_made_log(tmp_path)
    assert main(["lift", "--data-dir", str(data_dir), *WINDOW, "--placement", "home_hero", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["placement"] == "home_hero" and len(report["placements"]) == 1
    assert main(["lift", "--data-dir", str(data_dir), *WINDOW, "--placement", "email_block"]) == 0
    assert "note: no decisions of placement 'email_block'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--since", "last week"], "error: --since: 'last week' is not an ISO-8601 date or time"),
        (["--since", "2026-03-03", "--until", "2026-03-02"], "error: until must be later than since"),
    ],
)
def test_bad_windows_are_refused_with_the_reason(tmp_path, capsys, argv, message):
    assert main(["lift", "--data-dir", str(tmp_path), *argv]) == 2
    assert capsys.readouterr().err.startswith(message)

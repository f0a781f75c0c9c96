"""`python -m training batch-decide`: an audience decided in bulk, written, logged, held out per campaign."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from journal.decision_log import read_decision_log
from journal.profile_log import ProfileLog
from training.__main__ import main
from training.batch_decide import COLUMNS
from training.importers import import_dataset
from training.uplift import UpliftModel

ROOT = Path(__file__).resolve().parents[2]
JOURNEY = str(ROOT / "config" / "journeys" / "hillstrom.yaml")
SUBSET = ROOT / "tests" / "data" / "hillstrom" / "hillstrom.csv"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The bundled Hillstrom subset imported, and an uplift model fit on it by the command."""
    work = tmp_path_factory.mktemp("uplift")
    imported = work / "hillstrom"
    import_dataset("hillstrom", SUBSET, imported)
    model = work / "model.json"
    argv = ["uplift", "--decisions", str(imported / "decisions"), "--journey", JOURNEY, "--out", str(model)]
    assert main([*argv, "--learner", "t", "--quiet"]) == 0
    return imported, model


def _ids(imported: Path) -> list[str]:
    return [json.loads(line)["visitor_id"] for line in (imported / "profiles.jsonl").read_text().splitlines()]


def _batch(data_dir: Path, model: Path, out: Path, *extra: str) -> int:
    return main(
        ["batch-decide", "--quiet", "--data-dir", str(data_dir), "--placement", "email_campaign"]
        + ["--uplift-model", str(model), "--out", str(out), *extra]
    )


def test_the_uplift_command_saves_a_model_of_the_logged_arms(fitted):
    _, path = fitted
    model = UpliftModel.load(path)
    assert (model.arms_, model.control_) == (["mens_email", "womens_email"], "no_email")
    assert model.meta["placement"] == "email_campaign" and model.meta["channel"] == "email"
    assert model.meta["reward"] == ["visit"] and model.meta["rows"] == 300


def test_a_segment_of_the_profile_log_is_decided_into_parquet_and_logged_with_propensities(fitted, tmp_path, capsys):
    imported, model = fitted
    data_dir = tmp_path / "var"
    profiles = ProfileLog(data_dir / "profiles", fsync=False)
    for number, line in enumerate((imported / "profiles.jsonl").read_text().splitlines()[:60]):
        row = json.loads(line)
        segment = "spring" if number % 3 == 0 else ["autumn", "spring"] if number % 3 == 1 else "autumn"
        profiles.append(row["visitor_id"], {**row["profile"], "attributes": {"segment": segment}}, time.time())
    out = tmp_path / "spring.parquet"
    assert _batch(data_dir, model, out, "--segment", "spring", "--campaign", "spring-1", "--holdout-share", "0.3") == 0
    assert "campaign spring-1: 40 persons" in capsys.readouterr().out
    table = pq.read_table(out)
    assert table.schema == COLUMNS
    rows = table.to_pylist()
    assert len(rows) == 40 and len({r["decision_id"] for r in rows}) == 40
    held = [r for r in rows if r["policy"] == "holdout"]
    assert 0 < len(held) < 40
    assert all(r["action"] == "nothing" and r["item"] is None and r["channel"] is None for r in held)
    sent = [r for r in rows if r["action"] == "send"]
    assert sent and all(r["channel"] == "email" and r["propensity"] == 1.0 and r["policy"] == "uplift" for r in sent)
    assert all(r["item"] in ("mens_email", "womens_email") and r["expected_uplift"] > 0 for r in sent)
    log = read_decision_log(data_dir / "decisions")
    assert log.bad_lines == 0 and set(log.decisions["decision_id"]) == {r["decision_id"] for r in rows}
    assert dict(log.decisions["policy"].value_counts()) == {"uplift": 40 - len(held), "holdout": len(held)}
    impressions = log.impressions.set_index("decision_id")
    for row in rows:
        logged = impressions.loc[row["decision_id"]]
        assert logged["item_id"] == (row["item"] or "no_email") and logged["propensity"] == row["propensity"]
        assert logged["placement"] == "email_campaign" and logged["channel"] == "email"


def test_the_holdout_is_drawn_per_campaign_and_stays_put(fitted, tmp_path):
    imported, model = fitted
    ids = tmp_path / "ids.txt"
    ids.write_text("visitor_id\n" + "\n".join(_ids(imported)) + "\n\n")
    held = {}
    for run, campaign in enumerate(("march", "march", "april")):
        out = tmp_path / f"run{run}.jsonl"
        extra = ["--ids", str(ids), "--profiles", str(imported / "profiles.jsonl"), "--no-log"]
        assert _batch(tmp_path / "var", model, out, *extra, "--campaign", campaign, "--holdout-share", "0.3") == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == 300 and [r["visitor_id"] for r in rows] == _ids(imported)
        held[run] = {r["visitor_id"] for r in rows if r["policy"] == "holdout"}
    assert held[0] == held[1]  # the same campaign holds out the same persons
    assert held[0] != held[2]  # another campaign draws its own holdout
    assert all(50 < len(h) < 130 for h in held.values())
    assert not (tmp_path / "var" / "decisions").exists()  # --no-log logs nothing


def test_a_cost_above_every_uplift_sends_nothing_and_exploration_logs_its_propensities(fitted, tmp_path, capsys):
    imported, model = fitted
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(_ids(imported)[:200]) + "\n")
    source = ["--ids", str(ids), "--profiles", str(imported / "profiles.jsonl")]
    data_dir = tmp_path / "var"
    assert _batch(data_dir, model, tmp_path / "costly.jsonl", *source, "--cost-per-send", "1", "--no-log") == 0
    rows = [json.loads(line) for line in (tmp_path / "costly.jsonl").read_text().splitlines()]
    assert {r["action"] for r in rows} == {"nothing"} and {r["propensity"] for r in rows} == {1.0}
    capsys.readouterr()
    explore = ["--epsilon", "0.3", "--seed", "5", "--campaign", "explore", "--json"]
    assert _batch(data_dir, model, tmp_path / "explore.jsonl", *source, *explore) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["audience"] == summary["logged"] == 200 and summary["explored"] > 0
    rows = [json.loads(line) for line in (tmp_path / "explore.jsonl").read_text().splitlines()]
    # three actions: the greedy one with 0.7 + 0.3 / 3, each other with 0.3 / 3
    assert {r["propensity"] for r in rows} == {0.8, 0.1}
    # the campaign's log is what off-policy evaluation reads, as for web decisions
    events = tmp_path / "events.jsonl"
    now = time.time()
    visits = [  # an e-mail's link carries its decision id back (the visit is its outcome)
        {"event_id": f"v{n}", "visitor_id": r["visitor_id"], "type": "visit", "ts": now + 60, "channel": "web"}
        | {"decision_id": r["decision_id"], "item_id": r["item"]}
        for n, r in enumerate(rows[::4])
    ]
    events.write_text("".join(json.dumps(visit) + "\n" for visit in visits))
    evaluate = ["evaluate", "--model", "always:mens_email", "--decisions", str(data_dir / "decisions")]
    assert main([*evaluate, "--events", str(events), "--journey", JOURNEY, "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decisions"] == 200 and result["outcome_join"]["by_decision_id"] == 50
    assert result["ips"]["value"] > 0 and result["match_rate"] > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ids", "IDS", "--out-suffix", ".csv"], "name a .jsonl or .parquet file"),
        (["--ids", "MISSING"], "cannot read the ids file"),
        (["--segment", "nobody"], "nobody to decide for: no profile in segment nobody"),
        (["--ids", "IDS", "--holdout-share", "1.5"], "--holdout-share is a share"),
    ],
)
def test_mistakes_are_refused_with_the_fix(fitted, tmp_path, capsys, extra, message):
    imported, model = fitted
    ids = tmp_path / "ids.txt"
    ids.write_text("hs-1\n")
    suffix = ".jsonl"
    if "--out-suffix" in extra:
        suffix = extra[extra.index("--out-suffix") + 1]
        extra = extra[: extra.index("--out-suffix")]
    extra = [str(ids) if e == "IDS" else str(tmp_path / "missing.txt") if e == "MISSING" else e for e in extra]
    assert _batch(tmp_path / "var", model, tmp_path / f"out{suffix}", *extra) == 2
    assert message in capsys.readouterr().err


def test_lift_compares_a_campaign_with_its_holdout(fitted, tmp_path, capsys):
    imported, model = fitted
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(_ids(imported)) + "\n")
    data_dir = tmp_path / "var"
    source = ["--ids", str(ids), "--profiles", str(imported / "profiles.jsonl"), "--campaign", "c1"]
    assert _batch(data_dir, model, tmp_path / "c1.jsonl", *source, "--holdout-share", "0.3") == 0
    rows = [json.loads(line) for line in (tmp_path / "c1.jsonl").read_text().splitlines()]
    now = time.time()
    # every second person sent an e-mail visits, every tenth of the holdout: a lift of about 40 points
    visits = [
        {"event_id": f"v{n}", "visitor_id": r["visitor_id"], "type": "visit", "ts": now + 1, "channel": "web"}
        | {"decision_id": r["decision_id"]}
        for n, r in enumerate(rows)
        if n % (2 if r["policy"] == "uplift" else 10) == 0
    ]
    events = data_dir / "events"
    events.mkdir()
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    (events / f"{day}.jsonl").write_text("".join(json.dumps(visit) + "\n" for visit in visits))
    capsys.readouterr()
    lift = ["lift", "--data-dir", str(data_dir), "--placement", "email_campaign", "--journey", JOURNEY, "--json"]
    assert main([*lift, "--quiet"]) == 0
    overall = json.loads(capsys.readouterr().out)["placements"][0]["overall"]
    held = sum(r["policy"] == "holdout" for r in rows)
    assert overall["holdout"]["decisions"] == held and overall["personalized"]["decisions"] == 300 - held
    assert overall["metrics"]["response_rate"]["significant"]
    assert 0.25 < overall["metrics"]["response_rate"]["absolute_lift"] < 0.55
    # a second campaign to the same persons on the same placement: --campaign keeps each to its own
    again = ["--ids", str(ids), "--profiles", str(imported / "profiles.jsonl"), "--campaign", "c2"]
    assert _batch(data_dir, model, tmp_path / "c2.jsonl", *again, "--holdout-share", "0.3") == 0
    capsys.readouterr()
    assert main([*lift, "--quiet", "--campaign", "c1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["campaign"] == "c1" and report["placements"][0]["overall"] == overall
    assert main([*lift, "--quiet"]) == 0
    both = json.loads(capsys.readouterr().out)["placements"][0]["overall"]
    assert both["holdout"]["decisions"] + both["personalized"]["decisions"] == 600

"""The service's journal as a crash and a careless client leave it: every command still works and says
what it skipped.

Damage: a torn last line (a partial JSON record without its newline) at the end of the latest event
and decision day files, and a click and a dismiss that carry no decision id (joined by rule 2, the
last decision that showed the item).
"""

import json

import pytest

from journal.writer import DailyLog
from models.registry import Registry
from tests import logged_traffic
from training.__main__ import main

TORN = '{"event_id": "torn", "visitor_id": "v'


@pytest.fixture(scope="module")
def served_once(tmp_path_factory, trained_registry, embedded_redis):
    """A champion that has served 300 visitors with exploration (once for the module)."""
    root = tmp_path_factory.mktemp("served")
    return logged_traffic.served_once(root, trained_registry, f"unix://{embedded_redis.socket_file}", visitors=300)


@pytest.fixture
def damaged(served_once, model_settings, tmp_path):
    """A copy of the served champion's data dir, then two outcomes without a decision id and two torn tails."""
    model_settings = logged_traffic.copy_served(served_once, model_settings, tmp_path)
    decisions_dir = model_settings.data_dir / "decisions"
    events_dir = model_settings.data_dir / "events"
    records = [json.loads(line) for path in sorted(decisions_dir.glob("*.jsonl")) for line in path.open()]
    outcomes = []
    for kind, record in (("click", records[3]), ("dismiss", records[4])):
        outcomes.append(
            {
                "event_id": f"no-decision-{kind}",
                "visitor_id": record["visitor_id"],
                "type": kind,
                "ts": record["ts"] + 60.0,
                "channel": "web",
                "item_id": record["items"][0]["item_id"],
            }
        )
    DailyLog(events_dir).append(outcomes)
    for directory in (events_dir, decisions_dir):
        latest = sorted(directory.glob("*.jsonl"))[-1]
        with latest.open("a") as handle:
            handle.write(TORN)
    return model_settings


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_retrain_and_its_gate_skip_the_torn_lines_and_join_outcomes_without_a_decision_id(damaged, capsys):
    code, out, err = run(capsys, "--registry", damaged.registry, "retrain", "--data-dir", damaged.data_dir, "--json")
    assert code == 0, err
    outcome = json.loads(out)
    trained = outcome["trained"]
    assert trained["skipped"] == {"bad_event_lines": 1, "bad_decision_lines": 1}
    assert "skipped 1 bad event line and 1 bad decision line" in err
    assert outcome["promoted"] or "not promoted" in outcome["reason"]
    join = Registry(damaged.registry).manifest(trained["version"])["data"]["outcome_join"]
    assert join["by_last_shown"] >= 1


def test_gated_promote_reads_the_damaged_logs(damaged, capsys, demo_events):
    code, out, err = run(
        capsys, "--registry", damaged.registry, "train", "--events", demo_events, "--no-promote", "--json"
    )
    assert code == 0, err
    challenger = json.loads(out)["version"]
    code, out, err = run(
        capsys,
        "--registry",
        damaged.registry,
        "promote",
        challenger,
        "--data-dir",
        damaged.data_dir,
        "--margin",
        "1.0",  # any difference of two click rates passes: this checks the gate runs, not its verdict
    )
    assert code == 0, err
    assert "skipped 1 bad event line and 1 bad decision line" in out
    assert Registry(damaged.registry).current() == challenger


def test_evaluate_counts_what_it_skipped(damaged, capsys):
    code, out, err = run(
        capsys,
        "--registry",
        damaged.registry,
        "evaluate",
        "--model",
        "current",
        "--decisions",
        damaged.data_dir / "decisions",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["skipped"] == {"bad_event_lines": 1, "bad_decision_lines": 1}
    assert result["outcome_join"]["by_last_shown"] >= 1
    code, out, err = run(
        capsys,
        "--registry",
        damaged.registry,
        "evaluate",
        "--model",
        "uniform",
        "--decisions",
        damaged.data_dir / "decisions",
    )
    assert code == 0, err
    assert "skipped 1 bad event line and 1 bad decision line" in out


def test_train_on_the_journal_skips_a_torn_line_without_max_bad_rows(damaged, capsys):
    code, out, err = run(
        capsys,
        "--registry",
        damaged.registry,
        "train",
        "--events",
        damaged.data_dir / "events",
        "--decisions",
        damaged.data_dir / "decisions",
        "--no-promote",
    )
    assert code == 0, err
    assert "skipped 1 bad event line and 1 bad decision line" in out


def test_lift_and_analyze_say_what_they_skipped(damaged, capsys, tmp_path):
    code, out, err = run(
        capsys, "lift", "--data-dir", damaged.data_dir, "--since", "2025-12-01", "--until", "2027-01-01", "--json"
    )
    assert code == 0, err
    read = json.loads(out)["read"]
    assert (read["bad_decision_lines"], read["bad_event_lines"]) == (1, 1)
    code, out, err = run(capsys, "analyze", "--events", damaged.data_dir / "events", "--out", tmp_path / "report")
    assert code == 0, err
    assert "skipped 1 bad event line" in out
    code, out, err = run(
        capsys, "analyze", "--events", damaged.data_dir / "events", "--out", tmp_path / "report", "--json"
    )
    assert json.loads(out)["skipped"] == {"bad_event_lines": 1}


@pytest.fixture
def garbled(served_once, model_settings, tmp_path):
    """A copy of the served champion's data dir, then an event and a decision line as the service wrote them
    before it refused such text: a lone surrogate in a channel (valid JSON: the escape \\ud800), and a
    control character in an event's item id. Every other field is a real record's."""
    model_settings = logged_traffic.copy_served(served_once, model_settings, tmp_path)
    for log, changes in (
        ("events", [{"event_id": "garbled-1", "channel": "c\ud800"}, {"event_id": "garbled-2", "item_id": "a\u0001"}]),
        ("decisions", [{"decision_id": "garbled-d", "channel": "c\udfff"}]),
    ):
        latest = sorted((model_settings.data_dir / log).glob("*.jsonl"))[-1]
        real = json.loads(latest.read_text().splitlines()[-1])
        with latest.open("a") as handle:
            handle.writelines(json.dumps({**real, **change}) + "\n" for change in changes)
    return model_settings


def test_every_command_skips_and_counts_lines_of_text_the_api_refuses(garbled, capsys, tmp_path):
    data_dir = garbled.data_dir
    code, out, err = run(capsys, "analyze", "--events", data_dir / "events", "--out", tmp_path / "report", "--json")
    assert code == 0, err
    assert json.loads(out)["skipped"] == {"bad_event_lines": 2}
    code, out, err = run(capsys, "lift", "--data-dir", data_dir, "--since", "2025-12-01", "--until", "2027-01-01")
    assert code == 0, err
    assert "skipped 2 bad event lines and 1 bad decision line" in out
    code, out, err = run(
        capsys, "--registry", garbled.registry, "evaluate", "--model", "current", "--decisions", data_dir / "decisions"
    )
    assert code == 0, err
    assert "skipped 2 bad event lines and 1 bad decision line" in out
    code, out, err = run(capsys, "--registry", garbled.registry, "retrain", "--data-dir", data_dir, "--json")
    assert code == 0, err
    assert json.loads(out)["trained"]["skipped"] == {"bad_event_lines": 2, "bad_decision_lines": 1}
    assert "skipped 2 bad event lines and 1 bad decision line" in err

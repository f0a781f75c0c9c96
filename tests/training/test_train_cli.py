"""`python -m training train|list|promote|rollback` as a data scientist runs them."""

import json

import numpy as np
import pytest

from models.features import FeatureSpec
from training.__main__ import main
from training.event_checks import EventChecks
from training.readers import BadInput, read_events
from training.replay import next_stage_labels


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_json_and_human_summaries_and_registry_commands(capsys, tmp_path, demo_events):
    registry = str(tmp_path / "reg")
    code, out, _ = run(capsys, "--registry", registry, "train", "--events", str(demo_events), "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["current"] is True and summary["events"] > 1000
    for model, baselines in (("next_stage", {"markov_chain", "base_rate"}), ("content", {"popularity", "random"})):
        metrics = summary["metrics"][model]
        assert set(metrics["baselines"]) == baselines
        assert metrics["rows"]["train"] > metrics["rows"]["test"] > 0
    # The simulated journeys carry signal a base rate cannot see, so the model must beat it.
    ns = summary["metrics"]["next_stage"]
    assert ns["model"]["log_loss"] < ns["baselines"]["base_rate"]["log_loss"]
    ct = summary["metrics"]["content"]
    assert ct["model"]["auc"] > ct["baselines"]["random"]["auc"]
    first = summary["version"]

    # the same training, told for a person this time: the models beside their baselines
    code, out, _ = run(capsys, "--registry", registry, "train", "--events", str(demo_events), "--no-promote")
    assert code == 0
    for word in ("markov_chain", "base_rate", "popularity", "random", "beats baselines"):
        assert word in out
    code, out, _ = run(capsys, "--registry", registry, "list", "--json")
    listed = json.loads(out)
    second = listed[-1]["version"]
    assert second != first
    assert [(r["version"], r["current"]) for r in listed] == [(first, True), (second, False)]
    # with a champion and no logged traffic the gate refuses; forcing needs (and records) a reason
    assert run(capsys, "--registry", registry, "promote", second, "--data-dir", str(tmp_path / "none"))[0] == 2
    assert run(capsys, "--registry", registry, "promote", second, "--force", "--reason", "test")[0] == 0
    code, out, _ = run(capsys, "--registry", registry, "rollback")
    assert code == 0 and first in out


def test_unknown_version_is_a_clear_error(capsys, tmp_path):
    code, _, err = run(capsys, "--registry", str(tmp_path), "promote", "20260101T000000Z-abcdef")
    assert code == 2 and "not found" in err


@pytest.mark.parametrize(
    "content, max_bad, message",
    [
        ('{"visitor_id": "a", "type": "page_view"}\n', 0, "row 1: column timestamp"),
        ('{"type": "page_view", "timestamp": "2026-01-01T00:00:00Z"}\n', 0, "column visitor_id"),
        ("not json\n", 5, "line 1: not valid JSON"),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path, content, max_bad, message):
    path = tmp_path / "events.jsonl"
    path.write_text(content)
    with pytest.raises(BadInput, match=message):
        read_events(path, max_bad_rows=max_bad)


def test_bad_rows_are_skipped_up_to_the_limit(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("visitor_id,type,timestamp\na,page_view,2026-01-01T00:00:00Z\nb,page_view,never\n")
    events = read_events(path, max_bad_rows=1)
    assert list(events["visitor_id"]) == ["a"] and len(events.attrs["bad_rows"]) == 1


GOOD_ROW = {"visitor_id": "a", "type": "page_view", "channel": "web", "timestamp": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"type": "mystery_event"}, "row 2: type: not in the journey map's events or outcomes"),
        ({"channel": "carrier_pigeon"}, "row 2: channel: not one of the journey map's channels"),
        ({"timestamp": "1999-12-31T23:59:59Z"}, "row 2: timestamp: before the earliest accepted"),
        ({"timestamp": "2126-01-01T00:00:00Z"}, "row 2: timestamp: too far in the future"),
    ],
)
def test_file_events_get_the_apis_checks(tmp_path, journey, change, message):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(GOOD_ROW) + "\n" + json.dumps({**GOOD_ROW, **change}) + "\n")
    checks = EventChecks.from_settings(journey)
    with pytest.raises(BadInput, match=message):
        read_events(path, checks=checks)
    events = read_events(path, max_bad_rows=1, checks=checks)
    assert len(events) == 1 and events.attrs["bad_by_reason"] == {message.split(": ", 1)[1]: 1}


def test_a_map_that_counts_unknowns_as_other_keeps_them(tmp_path, journey):
    import dataclasses

    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({**GOOD_ROW, "type": "mystery_event", "channel": "carrier_pigeon"}) + "\n")
    checks = EventChecks.from_settings(dataclasses.replace(journey, unknowns="other"))
    assert len(read_events(path, checks=checks)) == 1


def test_train_skips_refused_rows_under_max_bad_rows_and_counts_them_by_reason(capsys, tmp_path, demo_events):
    events = tmp_path / "events.jsonl"
    rows = [json.loads(line) for line in demo_events.read_text().splitlines()]
    visitors = sorted({row["visitor_id"] for row in rows})[:300]  # half the demo: enough to train, quicker
    rows = [row for row in rows if row["visitor_id"] in set(visitors)]
    rows[5]["type"], rows[9]["channel"] = "mystery_event", "carrier_pigeon"
    events.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, _, err = run(capsys, "--registry", str(tmp_path / "reg"), "train", "--events", str(events))
    assert code == 2 and "2 bad rows" in err
    argv = ["--registry", str(tmp_path / "reg"), "train", "--events", str(events), "--max-bad-rows", "2", "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)["bad_rows_by_reason"] == {
        "type: not in the journey map's events or outcomes": 1,
        "channel: not one of the journey map's channels": 1,
    }


def test_next_stage_labels_are_point_in_time_with_exit_and_censoring(journey):
    import pandas as pd

    day = 86_400.0
    events = pd.DataFrame(
        {
            "visitor_id": ["a", "a", "a", "b", "c"],
            "type": ["page_view", "click", "add_to_cart", "page_view", "page_view"],
            "ts": [0.0, 1.0, 2 * day, 0.0, 99 * day],
        }
    )
    labels = next_stage_labels(events, FeatureSpec(journey), horizon_s=30 * day)
    classes = list(journey.next_stage_classes)
    intent, exit_ = classes.index("intent"), classes.index("exit")
    # a: page_view and click both lead to add_to_cart; add_to_cart has nothing after: exit.
    # b: nothing within 30 days and the data runs 99 days: exit. c: the data ends first: unknown (-1).
    assert list(labels) == [intent, intent, exit_, exit_, -1]
    assert np.issubdtype(labels.dtype, np.integer)


def test_max_choices_samples_the_content_choices_and_still_counts_every_touch(demo_events, journey):
    from training.replay import replay

    events = read_events(demo_events, checks=EventChecks.from_settings(journey))
    spec = FeatureSpec(journey)
    whole = replay(events, spec, {}, 86_400.0)
    sampled = replay(events, spec, {}, 86_400.0, max_choices=200)
    groups = len(np.unique(whole.content.group))
    assert groups > 1_000  # the demo log has more touches than the budget
    assert 120 < len(np.unique(sampled.content.group)) < 280  # about the budget, a uniform sample
    # contexts, generators and item stats still saw every touch
    assert sampled.item_stats.counts == whole.item_stats.counts
    assert sampled.item_stats.signals.out_total == whole.item_stats.signals.out_total
    assert len(sampled.next_stage.y) == len(whole.next_stage.y)


def test_train_records_max_choices_in_the_bundle(capsys, tmp_path, demo_events):
    argv = ["--registry", str(tmp_path / "reg"), "train", "--events", str(demo_events), "--json"]
    assert main([*argv, "--max-choices", "500", "--full-catalog-queries", "200"]) == 0
    manifest = json.loads(next((tmp_path / "reg").rglob("manifest.json")).read_text())
    assert manifest["feature_settings"]["max_choices"] == 500
    assert json.loads(capsys.readouterr().out)["rows"]["content"]["train"] < 500 * 8


@pytest.mark.parametrize("command", [["list"], ["rollback"], ["report"]])
def test_the_registry_is_accepted_after_every_command_as_before_it(tmp_path, capsys, command):
    from training.__main__ import main

    registry = str(tmp_path / "somewhere")
    after = main([*command, "--registry", registry])
    said_after = capsys.readouterr()
    before = main(["--registry", registry, *command])
    said_before = capsys.readouterr()
    assert after == before and said_after == said_before
    assert command == ["rollback"] or registry in said_after.out + said_after.err  # rollback names no path

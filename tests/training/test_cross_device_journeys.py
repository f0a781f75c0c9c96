"""Cross-device journeys (issue 14): people who configure a car on the web and buy in the app.

`python -m training simulate --cross-device SHARE` moves that share of the configuring journeys onto
a second device at intent (their web login in identities/ beside the events, the app's events with
user_id). Counted per device the report misleads: configuring looks like it lowers conversion and
consideration looks like a drop-off. Counted per person (the default) it reads as the journeys were.
"""

import json

import pytest

from training.__main__ import main

VISITORS, SEED = 400, 11


def _report(out, *argv) -> dict:
    assert main(["analyze", *argv, "--out", str(out), "--json"]) == 0
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The report of the split log per device and per person, and of the same journeys on one device each."""
    root = tmp_path_factory.mktemp("cross-device")
    split, single = root / "split" / "events.jsonl", root / "single" / "events.jsonl"
    assert (
        main(["simulate", "--out", str(split), "--visitors", str(VISITORS), "--seed", str(SEED), "--cross-device", "1"])
        == 0
    )
    assert main(["simulate", "--out", str(single), "--visitors", str(VISITORS), "--seed", str(SEED)]) == 0
    return {
        "device": _report(root / "by-device", "--events", str(split), "--journeys", "device"),
        "person": _report(root / "by-person", "--events", str(split)),
        "single": _report(root / "single-device", "--events", str(single)),
        "logins": sum(1 for path in (split.parent / "identities").glob("*.jsonl") for _ in path.open()),
        "no_links": _report(root / "no-links", "--events", str(split), "--identities-from", str(root / "none")),
    }


def _configure(figures: dict) -> dict:
    return next(row for row in figures["touchpoints"]["types"] if row["type"] == "configure_product")


def _ended_in(figures: dict, stage: str) -> int:
    return next(row["ended_here"] for row in figures["funnel"] if row["stage"] == stage)


def test_per_device_the_report_misleads(reports):
    device, single = reports["device"], reports["single"]
    assert _configure(device)["lift"] < 1 < _configure(single)["lift"]  # configuring looks like it hurts
    assert _ended_in(device, "consideration") > _ended_in(single, "consideration")  # a false drop-off
    assert device["summary"]["stitched_journeys"] == 0
    assert device["summary"]["visitors"] == device["summary"]["devices"] > VISITORS


def test_per_person_the_report_reads_as_the_journeys_were(reports):
    person, single = reports["person"], reports["single"]
    assert _configure(person)["lift"] > 1
    for key in ("transitions", "funnel", "touchpoints", "gaps"):
        assert person[key] == single[key], key
    assert person["paths"]["stages"] == single["paths"]["stages"]
    summary = person["summary"]
    assert summary["visitors"] == summary["persons"] == VISITORS
    assert summary["stitched_journeys"] == reports["logins"] > 0  # one web login per person who switched
    assert summary["devices"] == VISITORS + summary["stitched_journeys"]


def test_without_the_web_logins_only_the_app_device_is_known(reports):
    """The app's events carry user_id, but nothing ties the web device to it: the journeys stay split."""
    summary = reports["no_links"]["summary"]
    assert summary["stitched_journeys"] == 0
    assert summary["visitors"] == reports["device"]["summary"]["visitors"]

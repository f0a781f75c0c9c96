"""Journey analytics figures, checked against a log small enough to work out by hand (tests/journey_log.py)."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from journal.event_log import day_files, read_daily_log
from models.errors import ConfigError
from models.journey import JourneyMap
from reports.analytics import analyze_journeys, analyze_log
from tests import journey_log
from tests.journey_log import EXPECTED_COUNTS, EXPECTED_FUNNEL, HOUR, T0


@pytest.fixture(scope="module")
def figures(journey):
    """One journey per device, as the figures below were worked out (c and d are two of them)."""
    return analyze_journeys(journey_log.frame(), journey, by="device")


def test_summary_counts_journeys_and_conversions(figures):
    assert figures["summary"] | {"filters": None, "first_event": None, "last_event": None} == {
        "events": 15,
        "journeys_by": "device",
        "visitors": 4,
        "persons": 3,  # a, b, and u1 (devices c and d)
        "devices": 4,
        "stitched_journeys": 0,
        "visitors_with_stage": 3,
        "visitors_without_stage": 1,
        "converting": 2,
        "conversion_rate": 0.5,
        "filters": None,
        "first_event": None,
        "last_event": None,
    }
    assert figures["summary"]["first_event"] == "2026-05-04T08:00:00Z"
    assert figures["conversion_stage"] == "conversion"


def test_transition_matrix_counts_every_move_including_entry_and_exit(figures):
    counts = figures["transitions"]["counts"]
    nonzero = {source: {t: n for t, n in row.items() if n} for source, row in counts.items()}
    assert nonzero == EXPECTED_COUNTS
    probabilities = figures["transitions"]["probabilities"]
    assert probabilities["awareness"] == pytest.approx(
        {"awareness": 0.25, "consideration": 0.5, "intent": 0, "conversion": 0, "loyalty": 0, "exit": 0.25}
    )
    assert probabilities["loyalty"]["exit"] == 1.0


def test_moves_are_classified_against_the_designed_map(figures):
    kinds = {(m["from"], m["to"]): (m["kind"], m["in_map"]) for m in figures["transitions"]["moves"] if m["count"]}
    assert kinds == {
        ("entry", "awareness"): ("entry", True),
        ("entry", "consideration"): ("late_entry", False),
        ("awareness", "awareness"): ("stay", True),
        ("awareness", "consideration"): ("next", True),
        ("awareness", "exit"): ("exit", False),
        ("consideration", "intent"): ("next", True),
        ("consideration", "conversion"): ("skip", False),
        ("intent", "awareness"): ("back", False),
        ("intent", "conversion"): ("next", True),
        ("conversion", "loyalty"): ("next", True),
        ("conversion", "exit"): ("exit", False),
        ("loyalty", "exit"): ("exit", False),
    }
    out_of_awareness = {
        m["to"]: m["share_of_departures"] for m in figures["transitions"]["moves"] if m["from"] == "awareness"
    }
    assert out_of_awareness == {"awareness": None, "consideration": 0.6667, "exit": 0.3333}


def test_gaps_list_the_moves_the_map_lacks(figures):
    unmapped = [(m["from"], m["to"], m["share_of_departures"]) for m in figures["gaps"]["unmapped_frequent"]]
    assert unmapped == [
        ("entry", "consideration", 0.3333),
        ("consideration", "conversion", 0.3333),
        ("intent", "awareness", 0.5),
    ]
    assert figures["gaps"]["rare_expected"] == []


def test_funnel_reach_skips_drop_off_and_conversion_to_next(figures):
    got = [
        (r["stage"], r["visitors"], r["reached_at_least"], r["skipped"], r["ended_here"], r["conversion_to_next"])
        for r in figures["funnel"]
    ]
    assert got == EXPECTED_FUNNEL


def test_time_in_stage_counts_ended_stays_only(figures):
    times = {row["stage"]: row["time_in_stage"] for row in figures["funnel"]}
    # awareness: a stayed 3 h, b 2 h; b's second visit has not ended
    assert (times["awareness"]["stays"], times["awareness"]["still_in_stage"]) == (2, 1)
    assert times["awareness"]["median_s"] == 2.5 * HOUR
    assert times["awareness"]["p90_s"] == pytest.approx(2.9 * HOUR)
    assert {b["label"]: b["count"] for b in times["awareness"]["histogram"] if b["count"]} == {"1-6 h": 2}
    assert times["intent"]["median_s"] == 3.5 * HOUR  # b 6 h, c 1 h
    assert times["conversion"]["median_s"] == 47 * HOUR  # c: purchase to service booking
    assert times["loyalty"] | {"histogram": None} == {
        "stays": 0,
        "still_in_stage": 1,
        "median_s": None,
        "p90_s": None,
        "histogram": None,
    }


def test_paths_to_conversion_and_drop_off(figures):
    stages = figures["paths"]["stages"]
    assert stages["distinct_paths"] == 3
    assert [(p["path"], p["journeys"], p["conversions"], p["share"]) for p in stages["to_conversion"]] == [
        ("awareness > consideration", 1, 1, 0.5),
        ("consideration > intent", 1, 1, 0.5),
    ]
    assert [(p["steps"], p["drop_offs"], p["conversion_rate"]) for p in stages["to_drop_off"]] == [
        (["awareness", "consideration", "intent", "awareness"], 1, 0.0)
    ]
    touchpoints = figures["paths"]["touchpoints"]
    assert {p["path"] for p in touchpoints["to_conversion"]} == {
        "page_view > product_view",  # the repeated page view is one step
        "product_view > book_test_drive",
    }
    assert touchpoints["to_drop_off"][0]["path"] == "ad_click > product_view > add_to_cart > page_view"


def test_long_paths_keep_their_last_steps(journey):
    rows = [("v", hour, kind) for hour, kind in enumerate(["page_view", "product_view", "add_to_cart"] * 3)]
    events = pd.DataFrame(
        {
            "visitor_id": [r[0] for r in rows],
            "user_id": None,
            "type": [r[2] for r in rows],
            "ts": [float(r[1]) for r in rows],
            "channel": "web",
        }
    )
    path = analyze_journeys(events, journey, max_path_steps=4)["paths"]["stages"]["to_drop_off"][0]
    # awareness > consideration > intent, three times: only the last four steps are kept
    assert path["steps"] == ["...", "intent", "awareness", "consideration", "intent"]
    assert path["path"] == "... > intent > awareness > consideration > intent"


def test_channel_mix_first_touch_and_cross_channel_journeys(figures):
    per_stage = {row["stage"]: row["channels"] for row in figures["channels"]["per_stage"]}
    assert per_stage == {
        "awareness": {"web": 3, "ads": 1},
        "consideration": {"web": 2, "app": 1},
        "intent": {"web": 1, "store": 1},
        "conversion": {"store": 2},
        "loyalty": {"email": 1},
    }
    assert figures["channels"]["first_touch"] == {"web": 3, "ads": 1}
    assert figures["channels"]["cross_channel"] == {
        "converting_journeys": 2,
        "converting_multi_channel": 2,
        "converting_multi_channel_share": 1.0,
        "multi_channel_conversion_rate": 0.6667,  # a, b, c used several channels; two of them bought
        "single_channel_conversion_rate": 0.0,
        "converting_known_users": 1,  # c, whose user u1 also used device d
        "converting_multi_device": 1,
        "converting_multi_device_share": 1.0,
    }


def test_touchpoints_compare_journeys_with_and_without_them(figures):
    rows = {row["type"]: row for row in figures["touchpoints"]["types"]}
    assert "association" in figures["touchpoints"]["note"].lower()
    assert rows["book_test_drive"] | {"stage": None} == {
        "type": "book_test_drive",
        "stage": None,
        "journeys": 1,
        "conversion_rate_with": 1.0,
        "conversion_rate_without": 0.3333,
        "lift": 3.0,
    }
    assert (rows["page_view"]["conversion_rate_with"], rows["page_view"]["lift"]) == (0.5, 1.0)
    assert rows["product_view"]["lift"] is None  # every journey without it (d) failed: no ratio
    assert rows["click"]["journeys"] == 1  # a's click came after buying, so only d's counts
    assert "purchase" not in rows  # what happens at conversion cannot predict it
    assert [row["type"] for row in figures["touchpoints"]["types"]][:2] == ["book_test_drive", "page_view"]


def test_unknown_event_types_and_findings(figures):
    assert figures["unknown_event_types"] == [{"type": "mystery_event", "events": 1, "visitors": 1}]
    assert [(f["kind"], f["text"]) for f in figures["findings"]] == [
        ("late_entry", "33% of journeys (1 journey) start at consideration, not at awareness where the map begins."),
        (
            "skip",
            "33% of moves out of consideration jump straight to conversion (1 move), skipping intent: "
            "the map has no such step.",
        ),
        ("back", "50% of moves out of intent go back to awareness (1 move): the map has no way back."),
        ("unknown_types", "1 event type the map does not know (1 event in no stage): mystery_event (1)."),
        ("drop_off", "The biggest drop-off is in awareness: 1 of 3 journeys (33%) end there."),
        ("stall", "Customers stay longest in intent: median 3.5 h, 90th percentile 5.5 h before their next stage."),
    ]


def test_an_expected_step_rarely_taken_is_a_gap(journey):
    visitors = [f"v{n}" for n in range(5)]
    events = pd.DataFrame(
        {
            "visitor_id": visitors + ["v0"],
            "user_id": None,
            "type": ["page_view"] * 5 + ["product_view"],
            "ts": [0.0] * 5 + [HOUR],
            "channel": None,
        }
    )
    figures = analyze_journeys(events, journey)
    assert [(m["from"], m["to"], m["share_of_departures"]) for m in figures["gaps"]["rare_expected"]] == [
        ("consideration", "intent", 0.0),  # the one visitor in consideration left
        ("awareness", "consideration", 0.2),
    ]
    assert figures["findings"][0]["text"] == (
        "Only 20% of moves out of awareness go on to consideration, the map's next step; 80% of them leave the journey."
    )
    assert figures["channels"]["per_stage"][0]["channels"] == {"unknown": 5}


@pytest.mark.parametrize(
    "filters, visitors, events",
    [
        ({"since": T0 + dt.timedelta(hours=2), "until": T0 + dt.timedelta(hours=6)}, 3, 6),
        ({"since": (T0 + dt.timedelta(hours=2)).timestamp()}, 3, 11),  # a, b, and u1 (devices c and d)
        ({"channel": "store"}, 2, 3),
        ({"visitors": {"a", "d"}}, 2, 10),  # d is u1's device: u1's whole journey (c's events too)
    ],
)
def test_filters_select_time_channel_and_segment(journey, filters, visitors, events):
    summary = analyze_journeys(journey_log.frame(), journey, **filters)["summary"]
    assert (summary["visitors"], summary["events"]) == (visitors, events)


def test_conversion_stage_comes_from_the_map(journey):
    raw = journey.to_dict()
    assert "conversion_stage" not in raw  # existing maps keep their shape
    intent = JourneyMap.from_dict({**raw, "conversion_stage": "intent"})
    assert intent.conversion == "intent" and intent.to_dict()["conversion_stage"] == "intent"
    assert analyze_journeys(journey_log.frame(), intent)["summary"]["converting"] == 2  # b and c reached intent
    last = JourneyMap.from_dict({"stages": ["browse", "buy"], "events": {"page_view": "browse"}})
    assert last.conversion == "buy"
    with pytest.raises(ConfigError, match="conversion_stage 'sale' is not one of the stages"):
        JourneyMap.from_dict({**raw, "conversion_stage": "sale"})


def test_an_empty_log_is_an_answer_not_an_error(journey):
    figures = analyze_journeys(journey_log.frame().iloc[:0], journey)
    json.dumps(figures, allow_nan=False)
    assert figures["summary"]["visitors"] == 0 and figures["findings"] == []
    assert [row["reached_at_least"] for row in figures["funnel"]] == [0] * 5
    assert figures["paths"]["stages"]["to_conversion"] == []


def test_figures_are_plain_json(figures):
    text = json.dumps(figures, allow_nan=False)
    assert json.loads(text) == figures
    assert not any(isinstance(v, np.generic) for v in _leaves(figures))


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _write_day(directory, day, lines):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{day}.jsonl").write_text("".join(line + "\n" for line in lines))


def test_daily_log_reads_only_the_days_in_range(tmp_path):
    log = tmp_path / "events"
    for day in ("2026-05-03", "2026-05-04", "2026-05-05"):
        _write_day(log, day, [])
    (log / "notes.jsonl").write_text("not a day file\n")
    since = dt.datetime(2026, 5, 4, 23, tzinfo=dt.UTC).timestamp()
    until = dt.datetime(2026, 5, 5, 0, 30, tzinfo=dt.UTC).timestamp()
    assert [p.name for p in day_files(log, since, until)] == ["2026-05-04.jsonl", "2026-05-05.jsonl"]
    assert [p.name for p in day_files(log, until=since)] == ["2026-05-03.jsonl", "2026-05-04.jsonl"]
    assert day_files(tmp_path / "missing") == []


def test_daily_log_filters_by_time_skips_a_torn_line_and_drops_duplicates(tmp_path):
    log = tmp_path / "events"
    base = T0.timestamp()
    good = [
        json.dumps(
            {"event_id": f"e{n}", "visitor_id": "v", "type": "page_view", "ts": base + n * HOUR, "properties": {}}
        )
        for n in range(3)
    ]
    _write_day(log, "2026-05-04", [good[0], good[1], good[1], '{"event_id": "e9", "visi'])
    events = read_daily_log(log, since=base, until=base + 1.5 * HOUR)
    assert list(events["event_id"]) == ["e0", "e1"]
    assert events.attrs["bad_lines"] == 1
    assert list(events.columns) == [
        "event_id",
        "visitor_id",
        "user_id",
        "type",
        "ts",
        "channel",
        "item_id",
        "value",
        "decision_id",
    ]


def test_analyze_log_reads_the_service_log(tmp_path, journey):
    log = tmp_path / "events"
    by_day = {}
    for event in journey_log.api_events():
        stamp = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        by_day.setdefault(stamp.date().isoformat(), []).append(json.dumps({**event, "ts": stamp.timestamp()}))
    for day, lines in by_day.items():
        _write_day(log, day, lines)
    figures = analyze_log(log, journey, since=T0, until=T0 + dt.timedelta(days=7))
    assert figures["transitions"]["counts"] == analyze_journeys(journey_log.frame(), journey)["transitions"]["counts"]
    assert figures["summary"]["events"] == 15

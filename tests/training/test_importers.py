"""`python -m training import`: each public data set's subset (tests/data) into canonical events, exactly."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.catalog import Catalog
from models.journey import JourneyMap
from training.__main__ import main
from training.decision_logs import read_impressions
from training.event_checks import EventChecks
from training.importers import KINDS, import_dataset, importer
from training.readers import COLUMNS, BadInput, read_events

DATA = Path(__file__).resolve().parents[1] / "data"
JOURNEYS = Path(__file__).resolve().parents[2] / "config" / "journeys"
SOURCES = {
    "open-bandit": DATA / "open_bandit",
    "hillstrom": DATA / "hillstrom" / "hillstrom.csv",
    "pathdata": DATA / "pathdata" / "PathData.csv",
    "complete-journey": DATA / "complete_journey",
    "yoochoose": DATA / "yoochoose",
    "online-shoppers": DATA / "online_shoppers" / "online_shoppers_intention.csv",
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """kind -> (report, out folder, events as the training reader reads them), each imported once."""
    cache = {}

    def get(kind: str):
        if kind not in cache:
            out = tmp_path_factory.mktemp(kind) / "out"
            report = import_dataset(kind, SOURCES[kind], out)
            cache[kind] = (report, out, read_events(out / "events"))
        return cache[kind]

    return get


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def by_id(events: pd.DataFrame) -> dict:
    return {row["event_id"]: row for row in events.to_dict("records")}


# -- what every importer promises ----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_events_are_canonical_and_their_types_are_in_the_journey_map(imported, kind):
    report, out, events = imported(kind)
    journey = JourneyMap.load(JOURNEYS / f"{kind}.yaml")
    known = set(journey.events) | set(journey.outcomes)
    assert set(events["type"]) <= known
    assert set(importer(kind).EVENT_TYPES) == known
    assert len(events) == report.events_written > 0
    assert events.attrs["bad_rows"] == []
    assert events["event_id"].is_unique
    assert events["visitor_id"].notna().all() and events["ts"].notna().all()
    assert report.total_read > 0 and sum(report.skipped.values()) == 0
    for file in (out / "events").rglob("*.jsonl"):
        for row in jsonl(file):
            assert ISO_UTC.match(row["timestamp"]), row
            stamp = pd.Timestamp(row["timestamp"]).timestamp()
            assert stamp == pytest.approx(row["ts"], abs=1e-6)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_imported_event_passes_the_apis_checks_under_its_own_map(imported, kind):
    """Training checks file events as the API does: each data set's map declares its types and channels."""
    _, _, events = imported(kind)
    refused = EventChecks.from_settings(JourneyMap.load(JOURNEYS / f"{kind}.yaml")).reasons(events)
    assert dict(zip(*np.unique(refused[refused != ""], return_counts=True))) == {}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_import_is_deterministic(imported, tmp_path, kind):
    _, _, first = imported(kind)
    import_dataset(kind, SOURCES[kind], tmp_path / "again")
    again = read_events(tmp_path / "again" / "events")
    pd.testing.assert_frame_equal(first, again)


def test_parquet_events_have_exactly_the_canonical_columns(imported):
    import pyarrow.parquet as pq

    _, out, _ = imported("pathdata")
    schema = pq.read_schema(out / "events" / "events.parquet")
    assert schema.names == COLUMNS  # event_id, visitor_id, user_id, type, ts, channel, item_id, value, decision_id
    assert str(schema.field("ts").type) == "double"


# -- one data set at a time -----------------------------------------------------------------------


def test_pathdata_counts_are_expanded_into_journeys(imported):
    report, _, events = imported("pathdata")
    paths = pd.read_csv(SOURCES["pathdata"], sep=";")
    journeys = paths["total_conversions"] + paths["total_null"]
    touches = (paths["path"].str.split(" > ").map(len) * journeys).sum()
    assert journeys.sum() == 1149 and paths["total_conversions"].sum() == 289
    assert report.events_written == touches + 289
    assert events["visitor_id"].nunique() == 1149
    assert (events["type"] == "purchase").sum() == 289
    # row 0: "eta > iota > alpha > eta", 1 conversion (value 0.244), 3 nulls -> four journeys
    events = events.set_index("event_id")
    for copy in range(4):
        journey = events[events["visitor_id"] == f"pd-0-{copy}"].sort_values("ts")
        expected = ["touch_eta", "touch_iota", "touch_alpha", "touch_eta"] + (["purchase"] if copy == 0 else [])
        assert journey["type"].tolist() == expected
        assert journey.index.tolist() == [f"pd-0-{copy}-{step}" for step in range(len(expected))]
        assert np.diff(journey["ts"]).tolist() == [3600.0] * (len(expected) - 1)
        assert journey["item_id"].iloc[:4].tolist() == ["eta", "iota", "alpha", "eta"]
    assert events.loc["pd-0-0-4", "value"] == pytest.approx(0.244)
    assert JourneyMap.load(JOURNEYS / "pathdata.yaml").stage_of("touch_eta") == "awareness"


def test_hillstrom_is_one_random_decision_per_customer_with_its_outcomes(imported):
    report, out, events = imported("hillstrom")
    assert report.decisions_written == report.profiles_written == 300
    assert (events["type"] == "email_received").sum() == 214  # 107 + 107: the control group got nothing
    assert (events["type"] == "visit").sum() == 35 and (events["type"] == "purchase").sum() == 2
    decisions = {d["decision_id"]: d for d in jsonl(out / "decisions" / "decisions.jsonl")}
    first = decisions["hs-0"]  # Womens E-Mail, no visit
    assert first["items"] == [
        {"item_id": "womens_email", "position": 0, "propensity": pytest.approx(1 / 3), "score": None}
    ]
    assert first["placement"] == "email_campaign" and first["policy"] == "random"
    assert first["context"]["history"] == 142.44 and first["timestamp"] == "2008-03-01T00:00:00Z"
    assert decisions["hs-1"]["items"][0]["item_id"] == "no_email"
    assert not (events["visitor_id"] == "hs-1").any()  # control group, no visit: no touchpoint at all
    outcomes = events[events["type"].isin(["visit", "purchase"])]
    assert (outcomes["decision_id"] == outcomes["visitor_id"]).all()
    shown = {d: decisions[d]["items"][0]["item_id"] for d in outcomes["decision_id"]}
    assert (outcomes["item_id"] == outcomes["decision_id"].map(shown)).all()
    buyers = outcomes[outcomes["type"] == "purchase"]
    spend = pd.read_csv(SOURCES["hillstrom"])["spend"]
    assert buyers["value"].tolist() == [spend[int(v[3:])] for v in buyers["visitor_id"]]
    profiles = {p["visitor_id"]: p["profile"] for p in jsonl(out / "profiles.jsonl")}
    assert profiles["hs-0"]["recency"] == 10 and profiles["hs-0"]["interests"] == ["mens"]
    stage = JourneyMap.load(JOURNEYS / "hillstrom.yaml").stage_of
    assert [stage(t) for t in ("email_received", "visit", "purchase")] == ["awareness", "consideration", "conversion"]


def test_open_bandit_carries_the_logged_propensities(imported):
    report, out, events = imported("open-bandit")
    assert report.decisions_written == 128 + 134
    for policy, clicks in (("random", 8), ("bts", 14)):
        source = pd.read_csv(DATA / "open_bandit" / policy / "all" / "all.csv", index_col=0)
        decisions = jsonl(out / "decisions" / f"{policy}-all.jsonl")
        assert len(decisions) == len(source)
        for row, (decision, (_, logged)) in enumerate(zip(decisions, source.iterrows())):
            assert decision["decision_id"] == f"ob-{policy}-all-{row}" and decision["policy"] == policy
            assert decision["items"][0]["item_id"] == str(logged["item_id"])
            assert decision["items"][0]["position"] == logged["position"] - 1
            assert decision["items"][0]["propensity"] == logged["propensity_score"]
            assert len(decision["candidates"]) == 80
        clicked = events[(events["type"] == "click") & events["visitor_id"].str.startswith(f"ob-{policy}-")]
        assert len(clicked) == clicks
        shown = {d["decision_id"]: d["items"][0]["item_id"] for d in decisions}
        assert (clicked["item_id"] == clicked["decision_id"].map(shown)).all()
    bts = {d["decision_id"]: d for d in jsonl(out / "decisions" / "bts-all.jsonl")}
    assert bts["ob-bts-all-0"]["items"][0]["propensity"] == 0.087125  # varies under Thompson sampling
    impressions = read_impressions(out / "decisions")
    assert len(impressions) == 262 and impressions["propensity"].notna().all()


def test_yoochoose_train_and_test_stay_apart(imported):
    report, out, _ = imported("yoochoose")
    train = read_events(out / "events" / "train_full")
    test = read_events(out / "events" / "test")
    assert (len(train), len(test)) == (251, 122)  # every data line of each file
    assert train["visitor_id"].nunique() == 72 and test["visitor_id"].nunique() == 28
    assert train["visitor_id"].str.startswith("yc-train_full-").all()
    assert test["visitor_id"].str.startswith("yc-test-").all()
    assert not set(train["visitor_id"]) & set(test["visitor_id"])
    assert train["ts"].max() < test["ts"].min()  # the test file holds later days
    first = train.set_index("event_id").loc["yc-train_full-2"]
    assert (first["visitor_id"], first["item_id"], first["ts"]) == ("yc-train_full-3", "214716935", 1396437466.94)
    assert report.written == ["events/test/events.parquet", "events/train_full/events.parquet"]


def test_online_shoppers_sessions_have_page_touchpoints_and_no_page_values(imported):
    report, out, events = imported("online-shoppers")
    sessions = pd.read_csv(SOURCES["online-shoppers"])
    pages = sessions[["Administrative", "Informational", "ProductRelated"]].sum().sum()
    assert report.events_written == len(sessions) + pages + sessions["Revenue"].sum()
    assert (events["type"] == "purchase").sum() == 45
    first = events[events["visitor_id"] == "os-0"].sort_values("ts")  # Feb, one product page, no revenue
    assert first["type"].tolist() == ["session_start", "product_page"]
    assert pd.Timestamp(first["ts"].iloc[0], unit="s").month == 2
    profiles = jsonl(out / "profiles.jsonl")
    assert len(profiles) == 301
    assert all("PageValues" not in p["profile"] for p in profiles)
    assert profiles[0]["profile"]["VisitorType"] == "Returning_Visitor"
    written = pd.read_parquet(out / "events" / "events.parquet")
    assert "PageValues" not in written.columns
    assert not any("PageValues" in line for line in (out / "profiles.jsonl").read_text().splitlines())
    assert JourneyMap.load(JOURNEYS / "online-shoppers.yaml").stage_of("product_page") == "consideration"


def test_complete_journey_households_baskets_campaigns_and_redemptions(imported):
    report, out, events = imported("complete-journey")
    lines = pd.read_parquet(DATA / "complete_journey" / "transactions.parquet")
    assert report.rows_read[str(DATA / "complete_journey" / "transactions.parquet")] == len(lines) == 411
    baskets = events[events["type"].isin(["purchase", "repeat_purchase"])]
    assert len(baskets) == lines["basket_id"].nunique() == 23
    assert (events["type"] == "purchase").sum() == 6  # each household's first basket
    assert (events["type"] == "campaign_received").sum() == 50
    assert (events["type"] == "coupon_redemption").sum() == 69
    events = by_id(events)
    basket = lines[lines["basket_id"] == 31225571268]
    event = events["cj-b-31225571268"]
    assert event["type"] == "purchase" and event["visitor_id"] == "hh-40" and event["channel"] == "store"
    assert event["value"] == pytest.approx(basket["sales_value"].sum())
    assert event["item_id"] == str(basket.sort_values("sales_value").iloc[-1]["product_id"])
    assert event["ts"] == pd.Timestamp("2017-01-02 17:54:40", tz="UTC").timestamp()
    redemptions = pd.read_parquet(DATA / "complete_journey" / "coupon_redemptions.parquet")
    first = redemptions.iloc[0]  # household 22, 2017-02-18
    redeemed = events[f"cj-r-{first.household_id}-{first.coupon_upc}-{first.campaign_id}-20170218"]
    same_day = lines[(lines["household_id"] == 22) & (lines["transaction_timestamp"].dt.normalize() == "2017-02-18")]
    assert redeemed["ts"] == pd.Timestamp(same_day["transaction_timestamp"].max(), tz="UTC").timestamp() + 1
    assert redeemed["item_id"] == "campaign-27"
    profiles = {p["visitor_id"]: p["profile"] for p in jsonl(out / "profiles.jsonl")}
    assert len(profiles) == 6 and "age" in profiles["hh-40"]
    journey = JourneyMap.load(JOURNEYS / "complete-journey.yaml")
    assert journey.stage_of("repeat_purchase") == "loyalty" and "coupon_redemption" in journey.outcomes


# -- end to end -----------------------------------------------------------------------------------


def test_imported_pathdata_trains_with_its_journey_map(imported, tmp_path):
    from training.train import train

    report, out, _ = imported("pathdata")
    summary = train(
        out / "events",
        tmp_path / "registry",
        JourneyMap.load(JOURNEYS / "pathdata.yaml"),
        Catalog(items={}, placements={}),
        horizon_days=importer("pathdata").HORIZON_DAYS,
        progress=lambda _: None,
    )
    assert summary["current"] and summary["events"] == report.events_written
    ns = summary["metrics"]["next_stage"]
    assert ns["rows"]["train"] > ns["rows"]["test"] > 500
    # path length is signal a base rate cannot see: the model must beat it on held-out journeys
    assert ns["model"]["log_loss"] < ns["baselines"]["base_rate"]["log_loss"]
    assert summary["metrics"]["content"]["rows"]["test"] > 0


# -- bad input ------------------------------------------------------------------------------------


def _edit_csv(relative: str, sep: str = ",", drop: str | None = None, cells=()):
    """A mutation of a subset CSV: drop a column, or set (data row, column) cells to text."""

    def mutate(root: Path) -> None:
        path = root / relative
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
        if drop:
            frame = frame.drop(columns=drop)
        for row, column, text in cells:
            frame.loc[row, column] = text
        frame.to_csv(path, sep=sep, index=False)

    return mutate


def _edit_parquet(relative: str, drop: str):
    def mutate(root: Path) -> None:
        path = root / relative
        pd.read_parquet(path).drop(columns=drop).to_parquet(path, index=False)

    return mutate


def _header_only(relative: str):
    def mutate(root: Path) -> None:
        path = root / relative
        path.write_text(path.read_text().splitlines()[0] + "\n")

    return mutate


def _not_parquet(relative: str):
    def mutate(root: Path) -> None:
        (root / relative).write_text("not a parquet file\n")

    return mutate


HS = "hillstrom/hillstrom.csv"
PD = "pathdata/PathData.csv"
OB = "open_bandit/random/all/all.csv"
YC = "yoochoose/yoochoose-clicks-100k_train_full.txt"
OS = "online_shoppers/online_shoppers_intention.csv"
BAD_INPUT = [
    # kind, source, mutation, --max-bad-rows, the error (None: no error), skipped {reason: rows}
    ("hillstrom", HS, _edit_csv(HS, drop="segment"), 0, "missing column(s) 'segment'", {}),
    ("hillstrom", HS, _edit_csv(HS, drop="segment"), 10, "missing column(s) 'segment'", {}),
    (
        "hillstrom",
        HS,
        _edit_csv(HS, cells=[(3, "spend", "abc")]),
        0,
        "hillstrom.csv: line 5: column 'spend': not a number (got 'abc') (stopped at the first bad row",
        {},
    ),
    ("hillstrom", HS, _edit_csv(HS, cells=[(3, "spend", "abc")]), 1, None, {"bad spend: not a number": 1}),
    ("hillstrom", HS, _edit_csv(HS, cells=[(1, "segment", "Kids E-Mail")]), 0, "line 3: column 'segment': not one", {}),
    (
        "hillstrom",
        HS,
        _edit_csv(HS, cells=[(1, "visit", "2"), (7, "spend", "")]),
        1,
        "line 9: column 'spend': missing (got empty) (more than --max-bad-rows=1 bad rows)",
        {},
    ),
    ("pathdata", PD, _edit_csv(PD, sep=";", cells=[(2, "total_null", "1.5")]), 0, "line 4: column 'total_null'", {}),
    (
        "pathdata",
        PD,
        _edit_csv(PD, sep=";", cells=[(0, "path", "eta > omega")]),
        3,
        None,
        {"bad path: names a channel not in alpha, beta": 1},
    ),
    ("open-bandit", "open_bandit", _edit_csv(OB, cells=[(1, "propensity_score", "0")]), 0, "not above 0", {}),
    ("open-bandit", "open_bandit", _edit_csv(OB, drop="click"), 0, "all.csv: missing column(s) 'click'", {}),
    (
        "open-bandit",
        "open_bandit",
        _edit_csv(OB, cells=[(0, "timestamp", "yesterday"), (5, "timestamp", "")]),
        2,
        None,
        {"bad timestamp: not an ISO-8601 time": 1, "bad timestamp: missing": 1},
    ),
    ("yoochoose", "yoochoose", _edit_csv(YC, sep="\t", cells=[(4, "Time", "soon")]), 0, "line 6: column 'Time'", {}),
    ("online-shoppers", OS, _edit_csv(OS, drop="Revenue"), 0, "missing column(s) 'Revenue'", {}),
    ("online-shoppers", OS, _edit_csv(OS, cells=[(0, "Month", "Foo")]), 1, None, {"bad Month: not one of Jan, Feb": 1}),
    (
        "complete-journey",
        "complete_journey",
        _edit_parquet("complete_journey/transactions.parquet", drop="basket_id"),
        0,
        "transactions.parquet: missing column(s) 'basket_id'",
        {},
    ),
    (
        "complete-journey",
        "complete_journey",
        _not_parquet("complete_journey/campaigns.parquet"),
        0,
        "campaigns.parquet: cannot read as Parquet",
        {},
    ),
    ("pathdata", PD, _header_only(PD), 0, "PathData.csv: no data rows to import", {}),
    ("online-shoppers", OS, _header_only(OS), 5, "no data rows to import", {}),
    ("hillstrom", HS, _header_only(HS), 0, "no data rows to import", {}),
]


@pytest.mark.parametrize("kind, source, mutate, max_bad_rows, error, skipped", BAD_INPUT)
def test_bad_input_stops_with_file_line_and_column_or_is_skipped_and_counted(
    tmp_path, kind, source, mutate, max_bad_rows, error, skipped
):
    root = tmp_path / "data"
    shutil.copytree(DATA, root, ignore=shutil.ignore_patterns("*.py"))
    mutate(root)
    out = tmp_path / "out"
    if error is not None:
        with pytest.raises(BadInput) as caught:
            import_dataset(kind, root / source, out, max_bad_rows=max_bad_rows)
        assert error in caught.value.message
        assert not out.exists()  # nothing half-written stays behind
        return
    report = import_dataset(kind, root / source, out, max_bad_rows=max_bad_rows)
    reasons = {reason: rows for reason, rows in report.skipped.items() if reason.startswith("bad ")}
    # expected reasons are prefixes of the reported ones (which go on to list the allowed values)
    assert len(reasons) == len(skipped)
    for prefix, rows in skipped.items():
        assert [n for reason, n in reasons.items() if reason.startswith(prefix)] == [rows], (prefix, reasons)
    assert len(report.bad_examples) == sum(skipped.values())
    assert read_events(out / "events").attrs["bad_rows"] == []


@pytest.mark.parametrize("kind, source, column", [("online-shoppers", OS, "Month"), ("pathdata", PD, "total_null")])
def test_a_file_whose_rows_are_all_bad_and_skipped_imports_nothing_and_says_why(tmp_path, kind, source, column):
    root = tmp_path / "data"
    shutil.copytree(DATA, root, ignore=shutil.ignore_patterns("*.py"))
    rows = len(pd.read_csv(root / source, sep=";" if kind == "pathdata" else ",", dtype=str))
    _edit_csv(source, sep=";" if kind == "pathdata" else ",", cells=[(r, column, "?") for r in range(rows)])(root)
    report = import_dataset(kind, root / source, tmp_path / "out", max_bad_rows=rows)
    assert report.events_written == 0 and report.total_read == rows
    assert sum(n for reason, n in report.skipped.items() if reason.startswith(f"bad {column}")) == rows


def test_a_duplicate_click_is_skipped_and_counted(tmp_path):
    root = tmp_path / "yoochoose"
    shutil.copytree(DATA / "yoochoose", root)
    path = root / "yoochoose-clicks-100k_test.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:3], lines[2], *lines[3:]]) + "\n")
    report = import_dataset("yoochoose", root, tmp_path / "out")
    assert report.skipped == {"duplicate click (same session, item and time as the row before)": 1}
    assert report.events_written == 251 + 122


# -- the command line -----------------------------------------------------------------------------


def test_cli_prints_the_report_and_the_train_command(capsys, tmp_path):
    out = tmp_path / "hs"
    assert main(["import", "hillstrom", str(SOURCES["hillstrom"]), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rows read                 300" in printed and "decisions written         300" in printed
    assert f"--decisions {out}/decisions --profiles {out}/profiles.jsonl" in printed
    assert main(["import", "pathdata", str(SOURCES["pathdata"]), str(tmp_path / "pd"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows_read"] == 300 and report["rows_skipped"] == 0 and report["decisions_written"] == 0


def test_cli_refuses_a_non_empty_folder_and_names_bad_rows(capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["import", "pathdata", str(SOURCES["pathdata"]), str(out)]) == 2
    assert "not empty" in capsys.readouterr().err and (out / "keep.txt").read_text() == "mine"
    source = tmp_path / "PathData.csv"
    source.write_text("path;total_conversions;total_conversion_value;total_null\neta;x;0;1\n")
    assert main(["import", "pathdata", str(source), str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "PathData.csv: line 2: column 'total_conversions': not a number (got 'x')" in err


def test_two_yoochoose_files_of_one_split_are_refused(tmp_path):
    root = tmp_path / "yoochoose"
    shutil.copytree(DATA / "yoochoose", root)
    shutil.copy(root / "yoochoose-clicks-100k_test.txt", root / "other-clicks_test.txt")
    with pytest.raises(BadInput, match="are both the 'test' split"):
        import_dataset("yoochoose", root, tmp_path / "out")

"""GET /v1/reports/lift(.html): decisions and outcomes sent through the API, figures equal to the CLI's."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from models.policy import holdout_bucket
from training.__main__ import main

URL = "/v1/reports/lift"
PLACEMENT = "home_hero"
PER_GROUP = 36
CLICKS = {"personalized": 18, "holdout": 9}
BUYERS = {"personalized": 6, "holdout": 3}


def visitors(group: str) -> list[str]:
    """PER_GROUP visitor ids that the holdout hash puts in `group` at holdout_share 0.5."""
    chosen = (f"lv{i}" for i in range(10_000))
    if group == "holdout":
        return [v for v in chosen if holdout_bucket(v, PLACEMENT) < 0.5][:PER_GROUP]
    return [v for v in chosen if holdout_bucket(v, PLACEMENT) >= 0.5][:PER_GROUP]


def post_events(client, events: list[dict]) -> None:
    answer = client.post("/v1/events", json={"events": events})
    assert answer.status_code == 200 and answer.get_json()["accepted"] == len(events), answer.get_json()


@pytest.fixture
def logged(client):
    """Both groups decided through the API: half of each at awareness, half at consideration; clicks, purchases."""
    body = client.get(f"/v1/placements/{PLACEMENT}").get_json()
    answer = client.put(f"/v1/placements/{PLACEMENT}", json={**body, "holdout_share": 0.5, "exploration": {}})
    assert answer.status_code == 200, answer.get_json()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    groups = {group: visitors(group) for group in ("personalized", "holdout")}
    everyone = [v for members in groups.values() for v in members]
    post_events(client, [{"visitor_id": v, "type": "page_view"} for v in everyone])
    post_events(client, [{"visitor_id": v, "type": "product_view"} for v in everyone[::2]])
    decided = {}
    for group, members in groups.items():
        decided[group] = []
        for visitor in members:
            answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": PLACEMENT})
            assert answer.status_code == 200, answer.get_json()
            decision = answer.get_json()
            assert (decision["policy"] == "holdout") == (group == "holdout")
            decided[group].append(decision)
    outcomes = []
    for group, decisions in decided.items():
        for decision in decisions[: CLICKS[group]]:
            item = decision["items"][0]["item_id"]
            outcomes.append(
                {"visitor_id": decision["visitor_id"], "type": "click", "decision_id": decision["decision_id"]}
                | {"item_id": item}
            )
        for decision in decisions[-BUYERS[group] :]:
            outcomes.append({"visitor_id": decision["visitor_id"], "type": "purchase", "value": 1000.0})
    post_events(client, outcomes)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    return client, {"placement": PLACEMENT, "since": since.isoformat(), "until": until.isoformat()}


def test_the_report_counts_what_the_api_saw(logged):
    client, query = logged
    answer = client.get(URL, query_string=query)
    assert answer.status_code == 200
    report = answer.get_json()
    (entry,) = report["placements"]
    overall = entry["overall"]
    for group in ("personalized", "holdout"):
        counts = overall[group]
        assert counts["decisions"] == PER_GROUP and counts["impressions"] == PER_GROUP  # home_hero: 1 slot
        assert (counts["responses"], counts["conversions"]) == (CLICKS[group], BUYERS[group])
        assert counts["value"] == 1000.0 * BUYERS[group]
    response = overall["metrics"]["response_rate"]
    assert (response["personalized"], response["holdout"]) == (0.5, 0.25)
    assert response["absolute_lift"] == 0.25 and response["relative_lift"] == 1.0
    assert response["ci"][0] < 0.25 < response["ci"][1]
    assert [s["stage"] for s in entry["stages"]] == ["awareness", "consideration"]
    assert all(s["status"] == "insufficient_data" for s in entry["stages"])  # 18 a group at each stage
    assert entry["policies"]["holdout"] == PER_GROUP
    assert report["outcomes_joined"]["by_decision_id"] == CLICKS["personalized"] + CLICKS["holdout"]


def test_the_endpoint_and_the_cli_give_the_same_figures(logged, settings, capsys):
    client, query = logged
    served = client.get(URL, query_string=query).get_json()
    argv = ["lift", "--data-dir", str(settings.data_dir), "--since", query["since"], "--until", query["until"]]
    assert main([*argv, "--placement", PLACEMENT, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["placements"] == served["placements"]
    assert {k: v for k, v in printed.items() if k != "notes"} == {k: v for k, v in served.items() if k != "notes"}


def test_the_page_shows_the_headline_and_both_groups(logged):
    client, query = logged
    answer = client.get(f"{URL}.html", query_string=query)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    headline = client.get(URL, query_string=query).get_json()["placements"][0]["headlines"][0]
    assert headline.startswith("home_hero adds +25.0 pts of response rate (95% CI")
    assert headline in page.replace("&#x27;", "'") and page.count("<svg") == 2 and "<script" not in page


def test_an_unknown_placement_is_an_empty_report_with_a_note(logged):
    client, query = logged
    report = client.get(URL, query_string={**query, "placement": "no_such_slot"}).get_json()
    assert report["placements"] == [] and "no decisions of placement 'no_such_slot'" in report["notes"][0]


@pytest.mark.parametrize(
    "query, field, reason",
    [
        ({"since": "2026-03-02T00:00:00"}, "since", "Not a valid aware datetime."),
        ({"since": "yesterday"}, "since", "Not a valid datetime."),
        ({"until": "2026-13-01T00:00:00Z"}, "until", "Not a valid datetime."),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-02T00:00:00Z"}, "until", "must be later than since"),
        ({"since": "2026-03-03T00:00:00Z", "until": "2026-03-02T00:00:00Z"}, "until", "must be later than since"),
        ({"since": "2999-01-01T00:00:00Z"}, "since", "must be in the past when until is not given"),
        (
            {"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "since",
            "the window from since to until must be at most 366 days",
        ),
        ({"placement": ""}, "placement", "Length must be between 1 and 128."),
        ({"window_hours": "0"}, "window_hours", "Must be greater than 0 and less than or equal to 720."),
        ({"window_hours": "soon"}, "window_hours", "Not a valid number."),
        (
            {"conversion_window_days": "91"},
            "conversion_window_days",
            "Must be greater than 0 and less than or equal to 90.",
        ),
        (
            {"reward_types": "click,,dismiss"},
            "reward_types",
            "must be event types separated by commas, e.g. click,dismiss",
        ),
        (
            {"reward_types": "click dismiss"},
            "reward_types",
            "must be event types separated by commas, e.g. click,dismiss",
        ),
        ({"placment": "home_hero"}, "placment", "Unknown field."),
    ],
)
@pytest.mark.parametrize("path", [URL, f"{URL}.html"])
def test_bad_queries_get_422_with_field_and_reason(client, path, query, field, reason):
    answer = client.get(path, query_string=query)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["errors"] == {field: [reason]} and body["code"] == 422


def test_reward_types_and_window_from_the_query(logged):
    client, query = logged
    report = client.get(URL, query_string={**query, "reward_types": "purchase", "window_hours": "2"}).get_json()
    overall = report["placements"][0]["overall"]
    assert (overall["personalized"]["responses"], overall["holdout"]["responses"]) == (0, 0)  # purchases name no item
    assert report["reward_types"] == ["purchase"] and report["window_hours"] == 2.0


def test_both_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in (URL, f"{URL}.html"):
        parameters = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert parameters == {
            "placement",
            "campaign",
            "since",
            "until",
            "reward_types",
            "window_hours",
            "conversion_window_days",
        }
    assert "text/html" in paths[f"{URL}.html"]["get"]["responses"]["200"]["content"]

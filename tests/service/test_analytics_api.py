"""GET /v1/analytics/journeys: the journey figures from the service's own event log, through the HTTP API."""

import pytest

from service import create_app
from tests import journey_log
from tests.journey_log import EXPECTED_COUNTS, EXPECTED_FUNNEL

WINDOW = {"since": "2026-05-04T00:00:00Z", "until": "2026-05-11T00:00:00Z"}
URL = "/v1/analytics/journeys"


@pytest.fixture
def logged(other_settings):
    """The hand-counted log through the API; its mystery_event needs a map that keeps unknown types."""
    client = create_app(other_settings).test_client()
    answer = client.post("/v1/events", json={"events": journey_log.api_events()})
    assert answer.get_json()["accepted"] == len(journey_log.ROWS)
    return client


def test_figures_from_posted_events_match_the_hand_count(logged):
    answer = logged.get(URL, query_string=WINDOW)
    assert answer.status_code == 200
    figures = answer.get_json()
    assert figures["summary"]["events"] == 15 and figures["summary"]["converting"] == 2
    nonzero = {s: {t: n for t, n in row.items() if n} for s, row in figures["transitions"]["counts"].items()}
    assert nonzero == EXPECTED_COUNTS
    funnel = [
        (r["stage"], r["visitors"], r["reached_at_least"], r["skipped"], r["ended_here"], r["conversion_to_next"])
        for r in figures["funnel"]
    ]
    assert funnel == EXPECTED_FUNNEL
    assert figures["unknown_event_types"] == [{"type": "mystery_event", "events": 1, "visitors": 1}]
    assert figures["findings"][0]["kind"] == "late_entry"
    assert figures["summary"]["filters"]["since"] == "2026-05-04T00:00:00Z"


def test_the_api_and_the_models_agree(logged, journey):
    from reports.analytics import analyze_journeys

    served = logged.get(URL, query_string=WINDOW).get_json()
    direct = analyze_journeys(journey_log.frame(), journey)
    for key in ("transitions", "funnel", "paths", "channels", "touchpoints", "gaps", "findings"):
        assert served[key] == direct[key], key


@pytest.mark.parametrize(
    "query, visitors, events",
    [
        ({"since": "2026-05-04T10:00:00Z", "until": "2026-05-04T14:00:00Z"}, 3, 6),
        ({"since": "2026-05-04T12:00:00+02:00", "until": "2026-05-04T16:00:00+02:00"}, 3, 6),  # the same hours
        ({**WINDOW, "channel": "store"}, 2, 3),
        ({"since": "2026-05-06T00:00:00Z", "until": "2026-05-07T00:00:00Z"}, 1, 1),  # c's service booking
        ({"since": "2026-06-01T00:00:00Z", "until": "2026-06-02T00:00:00Z"}, 0, 0),
    ],
)
def test_window_and_channel_select_the_events(logged, query, visitors, events):
    summary = logged.get(URL, query_string=query).get_json()["summary"]
    assert (summary["visitors"], summary["events"]) == (visitors, events)


def test_an_empty_log_is_zero_visitors_not_an_error(client):
    answer = client.get(URL)
    assert answer.status_code == 200
    figures = answer.get_json()
    assert figures["summary"]["visitors"] == 0 and figures["findings"] == []
    assert figures["summary"]["filters"]["since"] < figures["summary"]["filters"]["until"]  # the last 30 days


@pytest.mark.parametrize(
    "query, field, reason",
    [
        ({"since": "2026-05-04T00:00:00"}, "since", "Not a valid aware datetime."),
        ({"since": "yesterday"}, "since", "Not a valid datetime."),
        ({"until": "2026-13-01T00:00:00Z"}, "until", "Not a valid datetime."),
        ({"since": "2026-05-04T00:00:00Z", "until": "2026-05-04T00:00:00Z"}, "until", "must be later than since"),
        ({"since": "2026-05-05T00:00:00Z", "until": "2026-05-04T00:00:00Z"}, "until", "must be later than since"),
        ({"since": "2999-01-01T00:00:00Z"}, "since", "must be in the past when until is not given"),
        ({"channel": ""}, "channel", "Length must be between 1 and 32."),
        ({"channel": "x" * 33}, "channel", "Length must be between 1 and 32."),
        ({"chanel": "web"}, "chanel", "Unknown field."),
    ],
)
def test_bad_queries_get_422_with_field_and_reason(client, query, field, reason):
    answer = client.get(URL, query_string=query)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["errors"] == {field: [reason]}
    assert body["code"] == 422


def test_the_endpoint_is_in_the_openapi_document(client):
    spec = client.get("/openapi.json").get_json()
    parameters = {p["name"] for p in spec["paths"][URL]["get"]["parameters"]}
    assert parameters == {"since", "until", "channel"}

# ruff: noqa: E501 -- the bad-input table keeps one case per line, as docs/api.md does
"""Every bad input is a clear 4xx in the one error shape, and a rejected request changes nothing.

Each row of the tables below is one row of the bad-input table in docs/api.md.
"""

import datetime as dt

import pytest

from config.settings import Settings
from service import create_app

JSON = {"Content-Type": "application/json"}
V = '"visitor_id":"v-bad"'
EVENT = V + ',"type":"page_view","channel":"web"'
DEEP = "[" * 990 + "]" * 990
ITEM = (
    '"id":"offer_x","kind":"offer","title":"Roof box","tags":["accessories"],'
    '"stages":["consideration","intent"],"value":2.5'
)
DATED_ITEM = {
    "id": "offer_roof_box",
    "kind": "offer",
    "title": "Roof box, half price",
    "tags": ["accessories"],
    "stages": ["consideration", "intent"],
    "value": 2.5,
    "caps": {"per_visitor_per_day": 3},
    "start": "2026-12-01T00:00:00Z",
    "end": "2027-01-01T00:00:00Z",
}

# (case, method, path, raw body, status, field, words of the reason)
BAD_INPUTS = [
    # 2. lone surrogates and invalid UTF-8: refused at body parsing, the field path named
    ("surrogate channel", "POST", "/v1/events", "{" + V + r',"type":"page_view","channel":"c\ud800"}', 400, "channel", "lone surrogate"),
    ("surrogate visitor_id", "POST", "/v1/events", r'{"visitor_id":"v\udfff","type":"page_view"}', 400, "visitor_id", "lone surrogate"),
    ("surrogate event_id", "POST", "/v1/events", "{" + EVENT + r',"event_id":"\ud800"}', 400, "event_id", "lone surrogate"),
    ("surrogate user_id", "POST", "/v1/events", "{" + EVENT + r',"user_id":"u\ud800"}', 400, "user_id", "lone surrogate"),
    ("surrogate item_id", "POST", "/v1/events", "{" + EVENT + r',"item_id":"i\ud800"}', 400, "item_id", "lone surrogate"),
    ("surrogate in batch", "POST", "/v1/events", '{"events":[{' + EVENT + r',"item_id":"\udc00"}]}', 400, "events.0.item_id", "lone surrogate"),
    ("surrogate property key", "POST", "/v1/events", "{" + EVENT + r',"properties":{"k\udc00":1}}', 400, "properties", "lone surrogate"),
    ("invalid UTF-8", "POST", "/v1/events", b'{"visitor_id":"v-bad\xff","type":"page_view"}', 400, "json", "UTF-8"),
    ("surrogate decision visitor", "POST", "/v1/decisions", r'{"visitor_id":"\ud800","placement":"home_hero"}', 400, "visitor_id", "lone surrogate"),
    ("surrogate decision user", "POST", "/v1/decisions", '{' + V + r',"user_id":"\ud800","placement":"home_hero"}', 400, "user_id", "lone surrogate"),
    ("surrogate decision channel", "POST", "/v1/decisions", '{' + V + r',"placement":"home_hero","context":{"channel":"c\ud800"}}', 400, "context.channel", "lone surrogate"),
    ("surrogate profile attribute", "PUT", "/v1/visitors/v-bad/profile", r'{"attributes":{"a":"\ud800"}}', 400, "attributes.a", "lone surrogate"),
    ("surrogate item title", "PUT", "/v1/catalog/items/offer_x", "{" + ITEM + r',"title":"\ud800"}', 400, "title", "lone surrogate"),
    # short strings and ids: no control characters
    ("control char channel", "POST", "/v1/events", "{" + V + r',"type":"page_view","channel":"w\u0000eb"}', 422, "channel", "control"),
    ("control char item title", "PUT", "/v1/catalog/items/offer_x", "{" + ITEM + r',"title":"a\u0007b"}', 422, "title", "control"),
    ("control char interest", "PUT", "/v1/visitors/v-bad/profile", r'{"interests":["pe\u001bts"]}', 422, "interests.0", "control"),
    ("control char in a query", "GET", "/v1/analytics/journeys?channel=w%01b", "", 422, "channel", "control"),
    ("query parameter twice", "GET", "/v1/reports/lift?placement=a&placement=b", "", 422, "placement", "more than once"),
    # expensive reads: bounded windows (one day file per day read)
    ("analytics window over a year", "GET", "/v1/analytics/journeys?since=2024-01-01T00:00:00Z&until=2025-01-02T00:00:01Z", "", 422, "since", "at most 366 days"),
    ("analytics since long ago", "GET", "/v1/analytics/journeys?since=2001-01-01T00:00:00Z", "", 422, "since", "at most 366 days"),
    ("lift window over a year", "GET", "/v1/reports/lift?since=2024-01-01T00:00:00Z&until=2025-01-02T00:00:01Z", "", 422, "since", "at most 366 days"),
    # 3. deep nesting: refused before parsing, without recursion
    ("deep event", "POST", "/v1/events", "{" + EVENT + ',"properties":{"a":' + DEEP + "}}", 400, "json", "deeper than 32"),
    ("deep batch", "POST", "/v1/events", DEEP, 400, "json", "deeper than 32"),
    ("deep decision", "POST", "/v1/decisions", "{" + V + ',"placement":"home_hero","context":{"a":' + DEEP + "}}", 400, "json", "deeper than 32"),
    ("deep profile", "PUT", "/v1/visitors/v-bad/profile", '{"attributes":{"a":' + DEEP + "}}", 400, "json", "deeper than 32"),
    ("deep item", "PUT", "/v1/catalog/items/offer_x", "{" + ITEM + ',"attributes":{"a":' + DEEP + "}}", 400, "json", "deeper than 32"),
    # 4. timestamps: between earliest_timestamp and now + future_margin_s
    ("year 9999 offset", "POST", "/v1/events", "{" + EVENT + ',"timestamp":"9999-12-31T23:59:59-01:00"}', 422, "timestamp", "between 2000-01-01T00:00:00Z and"),
    ("year 9999 Z", "POST", "/v1/events", "{" + EVENT + ',"timestamp":"9999-12-31T23:59:59Z"}', 422, "timestamp", "between"),
    ("next year", "POST", "/v1/events", "{" + EVENT + f',"timestamp":"{dt.date.today().year + 1}-06-01T00:00:00Z"' + "}", 422, "timestamp", "between"),
    ("before 2000", "POST", "/v1/events", "{" + EVENT + ',"timestamp":"1999-12-31T23:59:59Z"}', 422, "timestamp", "between"),
    ("year 1 offset", "POST", "/v1/events", "{" + EVENT + ',"timestamp":"0001-01-01T00:00:00+14:00"}', 422, "timestamp", "between"),
    ("item start 1990", "PUT", "/v1/catalog/items/offer_x", "{" + ITEM + ',"start":"1990-01-01T00:00:00Z"}', 422, "start", "between"),
    ("item end 9999", "PUT", "/v1/catalog/items/offer_x", "{" + ITEM + ',"end":"9999-12-31T23:59:59-01:00"}', 422, "end", "between"),
    # 5. NaN and Infinity are not JSON
    ("NaN property", "POST", "/v1/events", "{" + EVENT + ',"properties":{"a":NaN}}', 400, "json", "NaN"),
    ("Infinity property", "POST", "/v1/events", "{" + EVENT + ',"properties":{"a":Infinity}}', 400, "json", "Infinity"),
    ("-Infinity value", "POST", "/v1/events", "{" + EVENT + ',"value":-Infinity}', 400, "json", "Infinity"),
    ("1e400 value", "POST", "/v1/events", "{" + EVENT + ',"value":1e400}', 400, "json", "finite"),
    ("NaN attribute", "PUT", "/v1/visitors/v-bad/profile", '{"attributes":{"income":NaN}}', 400, "json", "NaN"),
    ("NaN decision context", "POST", "/v1/decisions", "{" + V + ',"placement":"home_hero","context":{"x":NaN}}', 400, "json", "NaN"),
    ("NaN item value", "PUT", "/v1/catalog/items/offer_x", '{"id":"offer_x","value":NaN}', 400, "json", "NaN"),
    # 6. profiles: never empty, bounded in size
    ("empty profile", "PUT", "/v1/visitors/v-bad/profile", "{}", 422, "_schema", "empty profile"),
    ("huge profile", "PUT", "/v1/visitors/v-bad/profile", '{"attributes":{"a":"%s"}}' % ("x" * 70_000), 413, "profile", "65536 bytes"),
    # 7. the journey map's event types, channels and stages
    ("unknown type", "POST", "/v1/events", "{" + V + ',"type":"teleport"}', 422, "type", "unknown event type"),
    ("unknown channel", "POST", "/v1/events", "{" + V + ',"type":"page_view","channel":"carrier_pigeon"}', 422, "channel", "unknown channel"),
    ("unknown type in batch", "POST", "/v1/events", '{"events":[{' + V + ',"type":"teleport"}]}', 422, "events.0.type", "unknown event type"),
    ("unknown decision channel", "POST", "/v1/decisions", "{" + V + ',"placement":"home_hero","context":{"channel":"fax"}}', 422, "context.channel", "unknown channel"),
    ("decision channel not text", "POST", "/v1/decisions", "{" + V + ',"placement":"home_hero","context":{"channel":7}}', 422, "context.channel", "string"),
    ("unknown item stage", "PUT", "/v1/catalog/items/offer_x", "{" + ITEM.replace('"intent"', '"nirvana"') + "}", 422, "stages", "not a journey stage"),
    ("unknown item channel", "PUT", "/v1/catalog/items/offer_x", "{" + ITEM + ',"channels":["fax"]}', 422, "channels", "unknown channel"),
    ("unknown item event", "PUT", "/v1/catalog/items/offer_x", "{" + ITEM + ',"event":"teleport"}', 422, "event", "unknown event type"),
    # path ids: bounded like body ids; one that breaks its pattern matches no route
    ("control char in path id", "PUT", "/v1/visitors/v%01x/profile", '{"interests":["pets"]}', 404, "path", "no route matches"),
    ("long path id", "PUT", "/v1/visitors/" + "v" * 129 + "/profile", '{"interests":["pets"]}', 404, "path", "1-128 characters"),
    ("item path id with a space", "PUT", "/v1/catalog/items/offer%20x", "{" + ITEM + "}", 404, "path", "1-64 of A-Z"),
    ("unknown placement reward", "PUT", "/v1/placements/p_x", '{"id":"p_x","reward":["teleport"]}', 422, "reward", "unknown event type"),
]  # fmt: skip


def _lines(settings: Settings) -> int:
    return sum(len(f.read_bytes().splitlines()) for f in settings.data_dir.glob("*/*.jsonl"))


def _world(client, settings) -> tuple:
    """Everything a rejected request must leave as it was: logs, the visitor, catalog, placements."""
    return (
        _lines(settings),
        client.get("/v1/visitors/v-bad").get_json(),
        client.get("/v1/catalog/items").get_json(),
        client.get("/v1/placements").get_json(),
    )


@pytest.mark.parametrize(
    "case, method, path, body, status, field, reason", BAD_INPUTS, ids=[row[0] for row in BAD_INPUTS]
)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    client, settings, case, method, path, body, status, field, reason
):
    client.post("/v1/events", json={"visitor_id": "v-bad", "type": "product_view", "channel": "web"})
    client.put("/v1/visitors/v-bad/profile", json={"consent": {"personalization": False}})
    before = _world(client, settings)
    answer = client.open(path, method=method, data=body, headers=JSON)
    payload = answer.get_json()
    assert answer.status_code == status, payload
    assert set(payload) == {"code", "status", "message", "errors"} and payload["code"] == status
    assert field in payload["errors"], payload
    assert reason in " ".join(payload["errors"][field]), payload  # every value a list of reasons
    assert _world(client, settings) == before


def test_a_dated_item_round_trips(client):
    answer = client.put("/v1/catalog/items/offer_roof_box", json=DATED_ITEM)
    assert answer.status_code == 200, answer.get_json()
    stored = client.get("/v1/catalog/items/offer_roof_box").get_json()
    assert answer.get_json() == stored
    assert (stored["start"], stored["end"]) == ("2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")
    listed = client.get("/v1/catalog/items")
    assert listed.status_code == 200 and stored in listed.get_json()


@pytest.mark.parametrize("stamp", ["2001-03-04T05:06:07Z", "2019-12-31T23:00:00-05:00", "now-10y", "now+1h"], ids=str)
def test_backfills_after_2000_and_small_clock_skew_are_accepted(client, stamp):
    now = dt.datetime.now(dt.UTC)
    stamp = {"now-10y": now - dt.timedelta(days=3650), "now+1h": now + dt.timedelta(hours=1)}.get(stamp, stamp)
    stamp = stamp.isoformat() if isinstance(stamp, dt.datetime) else stamp
    answer = client.post("/v1/events", json={"visitor_id": "v-old", "type": "page_view", "timestamp": stamp})
    assert answer.status_code == 200 and answer.get_json()["accepted"] == 1


def test_a_profile_put_without_consent_keeps_the_stored_consent(client):
    client.put("/v1/visitors/v-c/profile", json={"consent": {"personalization": False}, "interests": ["pets"]})
    answer = client.put("/v1/visitors/v-c/profile", json={"interests": ["cars"]})
    assert answer.status_code == 200
    profile = client.get("/v1/visitors/v-c").get_json()["profile"]
    assert profile == {"consent": {"personalization": False}, "interests": ["cars"]}
    client.put("/v1/visitors/v-c/profile", json={"consent": {"email": True}})
    profile = client.get("/v1/visitors/v-c").get_json()["profile"]
    assert profile == {"consent": {"personalization": False, "email": True}}


def test_a_map_with_unknowns_other_accepts_them(other_settings):
    client = create_app(other_settings).test_client()
    answer = client.post("/v1/events", json={"visitor_id": "v-o", "type": "teleport", "channel": "carrier_pigeon"})
    assert answer.status_code == 200 and answer.get_json()["accepted"] == 1
    visitor = client.get("/v1/visitors/v-o").get_json()
    assert visitor["events"] == 1
    assert visitor["counts"]["type"] == {"other": 1} and visitor["counts"]["channel"] == {"other": 1}
    decision = {"visitor_id": "v-o", "placement": "home_hero", "context": {"channel": "fax"}}
    assert client.post("/v1/decisions", json=decision).status_code == 200


def _schema(doc: dict, name: str) -> dict:
    return doc["components"]["schemas"][name]["properties"]


def test_the_openapi_document_states_the_constraints(client, journey):
    doc = client.get("/openapi.json").get_json()
    event = _schema(doc, "Event")
    assert event["visitor_id"]["maxLength"] == 128 and "pattern" in event["visitor_id"]
    assert "2000-01-01T00:00:00Z" in event["timestamp"]["description"]
    assert event["channel"]["enum"] == [*journey.channels, None]
    assert "page_view" in event["type"]["enum"]
    item = _schema(doc, "Item")
    assert item["kind"]["enum"] == ["content", "offer", "action"]
    assert item["stages"]["items"]["enum"] == list(journey.stages)
    decision = _schema(doc, "DecisionRequest")
    assert (decision["limit"]["minimum"], decision["limit"]["maximum"]) == (1, 50)
    assert decision["candidates"]["maxItems"] == 200
    profile = doc["components"]["schemas"]["Profile"]
    assert profile["minProperties"] == 1
    batch = _schema(doc, "EventBatch")["events"]
    # each event of a batch is checked on its own (bad ones listed in `rejected`, the rest kept): the
    # document does not promise that one bad event refuses the whole batch (schemathesis ST201)
    assert "$ref" not in batch["items"] and "rejected" in batch["items"]["description"]
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)
    for path, method, status in [
        ("/v1/events", "post", "400"),
        ("/v1/events", "post", "422"),
        ("/v1/decisions", "post", "404"),
        ("/v1/visitors/{visitor_id}/profile", "put", "413"),
        ("/v1/catalog/items/{item_id}", "put", "422"),
    ]:
        assert status in doc["paths"][path][method]["responses"], (path, method, status)


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    "body",
    [
        "{" + EVENT + r',"properties":{"emoji":"\ud83d\ude00 \u00e9"}}',  # an escaped surrogate pair is one character
        "{" + EVENT + ',"properties":{"text":"' + _nested(100) + '"}}',  # brackets inside strings do not nest
        "{" + EVENT + ',"properties":{"a":' + _nested(30) + "}}",  # 32 levels in all: the limit itself
        "{" + EVENT + ',"value":1e308,"properties":{"big":123456789012345678901234567890}}',
    ],
    ids=["surrogate pair", "brackets in a string", "32 levels", "large finite numbers"],
)
def test_good_input_at_the_edges_is_accepted(client, body):
    answer = client.post("/v1/events", data=body, headers=JSON)
    assert answer.status_code == 200 and answer.get_json()["accepted"] == 1, answer.get_json()


def test_one_level_past_the_limit_is_refused(client):
    answer = client.post("/v1/events", data="{" + EVENT + ',"properties":{"a":' + _nested(31) + "}}", headers=JSON)
    assert answer.status_code == 400 and "deeper than 32" in answer.get_json()["errors"]["json"][0]

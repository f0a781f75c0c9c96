"""The fast event load (models/event_check.py) accepts exactly what EventSchema accepts, and loads it the same."""

from __future__ import annotations

import datetime as dt
import math
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields

from models import events
from models.event_check import compile_loader
from models.events import EVENT_SCHEMA, FAST_LOAD, EventSchema, parse_event

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)

nasty_text = st.one_of(
    st.text(max_size=140),  # any code point: lone surrogates, control characters, newlines
    st.text(alphabet=st.characters(codec="ascii"), min_size=0, max_size=70),
    st.sampled_from(["", "a\n", "\n", "a\x00b", "a\x7f", "\ud800", "é" * 129, "x" * 128, "x" * 129, "web", "t" * 65]),
)
good_id = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_characters="\x7f"),
                  min_size=1, max_size=128)  # fmt: skip
good_name = st.from_regex(r"\A[A-Za-z0-9_.:\-]{1,64}\Z")
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), nasty_text
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=4)),
    max_leaves=30,
)
wrong_type = st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(json_scalar, max_size=2), st.just({}))
timestamps = st.one_of(
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.one_of(st.none(), st.timezones(), st.just(dt.UTC)),
    ).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-05-31T10:00:00Z", "2026-05-31T10:00:00+05:30", "2026-05-31", "", "now"]),
    st.just("9999-12-31T23:59:59Z"),
    nasty_text,
)
numbers = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 10**309, True, False, "1.5", None]),
)
properties = st.one_of(
    st.dictionaries(nasty_text, json_value, max_size=6),
    st.dictionaries(st.just("big"), st.text(min_size=7_990, max_size=8_010), max_size=1),
    wrong_type,
)
FIELDS = {
    "event_id": st.one_of(good_id, nasty_text, st.none(), wrong_type),
    "visitor_id": st.one_of(good_id, nasty_text, st.none(), wrong_type),
    "user_id": st.one_of(good_id, nasty_text, st.none(), wrong_type),
    "type": st.one_of(good_name, nasty_text, st.none(), wrong_type),
    "timestamp": st.one_of(timestamps, st.none(), wrong_type),
    "channel": st.one_of(good_id.map(lambda s: s[:32]), nasty_text, st.none(), wrong_type),
    "item_id": st.one_of(good_id, nasty_text, st.none()),
    "value": st.one_of(numbers, st.none(), wrong_type),
    "decision_id": st.one_of(good_id, nasty_text, st.none()),
    "properties": st.one_of(properties, st.none()),
}
OPTIONAL = {k: v for k, v in FIELDS.items() if k not in ("visitor_id", "type")}
raw_events = st.one_of(
    st.fixed_dictionaries({}, optional={**FIELDS, "extra": json_scalar, "Type": json_scalar, "": json_scalar}),
    st.fixed_dictionaries({"visitor_id": good_id, "type": good_name}, optional=OPTIONAL),
)


def schema_load(raw: dict) -> dict | None:
    try:
        return EVENT_SCHEMA.load(raw)
    except ValidationError:
        return None


def same(left, right) -> bool:
    """Equal, in the same key order, with the same types (1.0 is not 1; NaN inside properties equals itself)."""
    if isinstance(left, dict):
        return isinstance(right, dict) and list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, float) and math.isnan(left):
        return isinstance(right, float) and math.isnan(right)
    return type(left) is type(right) and left == right


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw_events)
@example({"visitor_id": "v", "type": "page_view"})
@example({"visitor_id": "v\n", "type": "page_view\n"})  # `$` matches before a final newline: both accept
@example({"visitor_id": "v", "type": "page_view", "value": 10**309})
@example({"visitor_id": "v", "type": "page_view", "value": True})
@example({"visitor_id": "v", "type": "page_view", "timestamp": "2026-05-31T10:00:00"})
@example({"visitor_id": "v", "type": "page_view", "properties": {"": 1}})
@example({"visitor_id": "v", "type": "page_view", "properties": {"k": [[[[[[[[[[{}]]]]]]]]]]}})
def test_fast_load_accepts_what_the_schema_accepts_and_loads_the_same(raw):
    fast, slow = FAST_LOAD(raw), schema_load(raw)
    if slow is None:
        assert fast is None, "the fast load accepted what the schema refuses"
    else:
        assert fast is None or same(fast, slow)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw_events)
def test_parse_event_accepts_refuses_and_explains_as_the_schema_alone(raw):
    fast = parse_or_errors(raw)
    with mock.patch.object(events, "FAST_LOAD", lambda raw: None):  # the reference: marshmallow for every event
        slow = parse_or_errors(raw)
    if "ts" in fast and "ts" in slow and not raw.get("event_id"):
        fast.pop("event_id"), slow.pop("event_id")  # a fresh uuid each
    assert same(fast, slow)


def parse_or_errors(raw: dict) -> dict:
    """The canonical event, or the error messages (their words and shape)."""
    try:
        return parse_event(raw, NOW)
    except ValidationError as error:
        return {"errors": error.messages}


@settings(max_examples=500, deadline=None)
@given(
    st.fixed_dictionaries(
        {"visitor_id": good_id, "type": good_name},
        optional={
            "event_id": good_id,
            "user_id": st.one_of(good_id, st.none()),
            "timestamp": st.sampled_from(["2026-05-31T10:00:00Z", "2026-05-31T10:00:00.5+05:30", None]),
            "channel": good_id.map(lambda s: s[:32]),
            "item_id": good_id,
            "value": st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False)),
            "properties": st.dictionaries(good_id, st.one_of(st.integers(), st.text(max_size=20)), max_size=5),
        },
    )
)
def test_well_formed_events_take_the_fast_load(raw):
    assert FAST_LOAD(raw) is not None


def test_a_schema_the_fast_load_cannot_reproduce_is_refused():
    class Wider(EventSchema):
        score = fields.Integer()

    with pytest.raises(TypeError, match="no fast load for score"):
        compile_loader(Wider())

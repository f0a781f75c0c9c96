"""The journey reducer: the same fold online and offline."""

import pytest

from models.context import apply_event, new_context


def event(kind, ts, item=None, channel="web", event_id=None):
    return {"event_id": event_id or f"{kind}-{ts}", "type": kind, "ts": ts, "item_id": item, "channel": channel}


def fold(journey, events, cap=50):
    ctx = new_context("v1")
    for e in events:
        apply_event(ctx, e, journey, cap)
    return ctx


def test_stage_follows_latest_stage_bearing_event(journey):
    ctx = fold(journey, [event("page_view", 1), event("configure_product", 2, "x5"), event("click", 3, "x5")])
    assert ctx["stage"] == "consideration"
    assert ctx["stage_since"] == 2
    assert ctx["stage_counts"] == {"awareness": 1, "consideration": 1}
    assert ctx["type_counts"]["click"] == 1
    assert ctx["last_item_by_type"] == {"configure_product": "x5", "click": "x5"}


def test_backward_moves_change_stage_but_not_max_stage(journey):
    ctx = fold(journey, [event("add_to_cart", 1), event("page_view", 2)])
    assert ctx["stage"] == "awareness"
    assert ctx["max_stage"] == "intent"


def test_late_event_is_counted_but_does_not_move_stage_back_in_time(journey):
    ctx = fold(journey, [event("purchase", 10, "x5"), event("page_view", 5)])
    assert ctx["stage"] == "conversion"
    assert ctx["last_ts"] == 10 and ctx["first_ts"] == 5
    assert [e["ts"] for e in ctx["recent"]] == [10, 5]
    assert ctx["n_events"] == 2


def test_purchase_marks_item_converted(journey):
    ctx = fold(journey, [event("purchase", 1, "x5"), event("purchase", 2, "x5")])
    assert ctx["converted_items"] == ["x5"]


def test_recent_is_capped_newest_first(journey):
    ctx = fold(journey, [event("page_view", t) for t in range(10)], cap=3)
    assert [e["ts"] for e in ctx["recent"]] == [9, 8, 7]
    assert ctx["n_events"] == 10


@pytest.mark.parametrize("channel, expected", [("web", {"web": 1}), (None, {})])
def test_channel_counts(journey, channel, expected):
    assert fold(journey, [event("page_view", 1, channel=channel)])["channel_counts"] == expected


def test_unknown_types_and_channels_are_counted_as_other(journey):
    import dataclasses

    lenient = dataclasses.replace(journey, unknowns="other")
    events = [event(f"made_up_{n}", n, item="x5", channel=f"chan_{n}") for n in range(2000)]
    ctx = fold(lenient, events, cap=5)
    assert ctx["type_counts"] == {"other": 2000}
    assert ctx["channel_counts"] == {"other": 2000}
    assert ctx["last_item_by_type"] == {"other": "x5"}
    assert len(ctx["recent"]) == 5


def test_every_field_is_bounded_by_the_map_and_the_cap(journey):
    import json

    types = sorted(journey.known_types)
    events = [
        event(types[n % len(types)], n, item=f"item-{n}", channel=journey.channels[n % len(journey.channels)])
        for n in range(3000)
    ] + [event("purchase", 5000 + n, item=f"bought-{n}") for n in range(100)]
    ctx = fold(journey, events, cap=10)
    assert set(ctx["type_counts"]) <= set(types) and set(ctx["last_item_by_type"]) <= set(types)
    assert set(ctx["channel_counts"]) <= set(journey.channels)
    assert set(ctx["stage_counts"]) <= set(journey.stages)
    assert len(ctx["converted_items"]) == 10 and len(ctx["recent"]) == 10
    assert len(json.dumps(ctx)) < 4000


def test_the_context_bytes_do_not_depend_on_the_arrival_order_of_counted_events(journey):
    """A late event without an item changes the same bytes whenever it arrives (not so a late item:
    `last_item_by_type` keeps the item of the latest event only, and `converted_items` arrival order)."""
    import json

    events = [
        event("product_view", 2, "x5", channel="app"),
        event("page_view", 3, channel="web"),
        event("ad_click", 1, channel="ads"),
        event("click", 0, channel="email"),
    ]
    as_arrived = json.dumps(fold(journey, events))
    in_time_order = json.dumps(fold(journey, sorted(events, key=lambda e: e["ts"])))
    assert as_arrived == in_time_order


def test_a_copied_context_folds_without_changing_the_original(journey):
    import json

    from models.context import copy_context

    ctx = fold(journey, [event("product_view", 1, "x5"), event("purchase", 2, "x5")])
    before = json.dumps(ctx)
    copy = copy_context(ctx)
    apply_event(copy, event("repeat_purchase", 3, "x3", channel="app"), journey)
    assert json.dumps(ctx) == before and copy["n_events"] == 3


def test_a_context_stored_before_a_field_existed_gains_it_in_order(journey):
    import json

    from models.context import from_json, new_context, to_json

    ctx = fold(journey, [event("click", 1, "x5")])
    old = {name: value for name, value in ctx.items() if name != "response_counts"}
    loaded = from_json(json.dumps(old), "v1")  # stored as JSON (format 1) by an older version
    assert list(loaded) == list(new_context("v1")) and loaded["response_counts"] == {}
    assert from_json(None, "v9") == new_context("v9")
    assert from_json(to_json(ctx), "v1") == ctx


def test_a_context_is_a_typed_record_whose_fields_are_the_declared_ones():
    from models.context import CONTEXT_FIELDS, CONTEXT_VERSION, VisitorContext, new_context

    assert tuple(new_context("v1")) == CONTEXT_FIELDS == tuple(VisitorContext.__annotations__)
    assert new_context("v1")["v"] == CONTEXT_VERSION


def test_a_newer_writers_fields_are_dropped_and_the_version_is_this_ones():
    import json

    from models.context import CONTEXT_VERSION, from_json, new_context

    newer = {**new_context("v1"), "v": CONTEXT_VERSION + 1, "n_events": 3, "a_field_from_the_future": [1, 2]}
    loaded = from_json(json.dumps(newer), "v1")
    assert "a_field_from_the_future" not in loaded
    assert loaded["v"] == CONTEXT_VERSION and loaded["n_events"] == 3

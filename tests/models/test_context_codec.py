"""The context's stored form (models.context_codec): compact, and decoding to exactly what was encoded."""

import datetime as dt
import json
import uuid

import pytest

from models import context_codec
from models.context import apply_event, from_json, new_context, to_json
from models.features import FeatureSpec

GOLDEN = bytes.fromhex(
    "028b564acfcf4901a50fb0e350c3199963ac636a6460000e4c020187a20f1238a0f40a9280a474100b1eb204031729f96086343023"
    "e5c75798c6e7c61717e48393275ac0635100370d431218491862885843245042b184128278a20596f121d9191625984e262c02d467"
    "686e6662666c6c660001863a0640680114b13485f0cd0c8ccdcd4c4d4c740c62630116fd2706d0d840d1a4fcfd8f2b1e8f5c7c9e66"
    "79742540de944be07fc1f90ae70f8fad5bd9cb469fa16570867728950e"
)
"""A context stored in format 2 when the format was made: whatever changes, it must still decode (GOLDEN_DICT)."""
GOLDEN_DICT = {
    "v": 1,
    "visitor_id": "golden",
    "user_id": None,
    "stage": "conversion",
    "stage_since": 1764633600.000001,
    "max_stage": "conversion",
    "first_ts": 1764547200.123456,
    "last_ts": 1764633600.000001,
    "n_events": 3,
    "value_total": 52000.0,
    "stage_counts": {"awareness": 1, "consideration": 1, "conversion": 1},
    "channel_counts": {"app": 1, "store": 1, "web": 1},
    "response_counts": {},
    "type_counts": {"page_view": 1, "product_view": 1, "purchase": 1},
    "last_item_by_type": {
        "page_view": "hero_x5_m_sport",
        "product_view": "hero_x5_m_sport",
        "purchase": "hero_x5_m_sport",
    },
    "converted_items": ["hero_x5_m_sport"],
    "recent": [
        {
            "event_id": "16fd2706d0d840d1a4fcfd8f2b1e8f5c",
            "type": "purchase",
            "ts": 1764633600.000001,
            "stage": "conversion",
            "channel": "store",
            "item_id": "hero_x5_m_sport",
        },
        {
            "event_id": "7c9e6679742540de944be07fc1f90ae7",
            "type": "product_view",
            "ts": 1764547260.5,
            "stage": "consideration",
            "channel": "app",
            "item_id": "hero_x5_m_sport",
        },
        {
            "event_id": "0f8fad5bd9cb469fa16570867728950e",
            "type": "page_view",
            "ts": 1764547200.123456,
            "stage": "awareness",
            "channel": "web",
            "item_id": "hero_x5_m_sport",
        },
    ],
}


def exact(ctx) -> str:
    """The context with its types and order: 1 and 1.0, or two orders of keys, differ here."""
    return json.dumps(ctx)


@pytest.fixture(scope="module")
def simulated_contexts(journey):
    """Reduced contexts of simulated journeys (training.simulate), at every step, with the simulator's ids and
    with server-made ones (uuid4 hex), at the default cap and at a cap of 5 (full contexts)."""
    from training.simulate import simulate

    contexts = []
    for cap in (50, 5):
        for server_ids in (False, True):
            by_visitor = {}
            for raw in simulate(visitors=40, seed=5):
                event = {**raw, "ts": dt.datetime.fromisoformat(raw["timestamp"]).timestamp()}
                if server_ids:
                    event["event_id"] = uuid.uuid4().hex
                ctx = by_visitor.setdefault(raw["visitor_id"], new_context(raw["visitor_id"]))
                apply_event(ctx, event, journey, cap)
                contexts.append(json.loads(json.dumps(ctx)))
    return contexts


def test_simulated_contexts_decode_to_exactly_what_was_encoded(simulated_contexts, journey):
    spec = FeatureSpec(journey)
    assert len(simulated_contexts) > 500
    for ctx in simulated_contexts:
        stored = to_json(ctx)
        loaded = from_json(stored, "someone-else")
        assert exact(loaded) == exact(ctx)
        assert to_json(loaded) == stored
        now = ctx["last_ts"] + 3600.0
        assert spec.context_row(loaded, now, "web") == spec.context_row(ctx, now, "web")


def test_the_stored_form_is_a_fraction_of_the_json(simulated_contexts):
    full = [ctx for ctx in simulated_contexts if len(ctx["recent"]) >= 5]
    compact = sum(len(to_json(ctx)) for ctx in full)
    as_json = sum(len(json.dumps(ctx, separators=(",", ":"))) for ctx in full)
    assert compact * 3 < as_json


def test_a_context_stored_as_json_decodes_to_the_same_dict(simulated_contexts):
    for ctx in simulated_contexts[::7]:
        stored_before = json.dumps(ctx, separators=(",", ":"))  # format 1, what older versions wrote
        assert exact(from_json(stored_before, "x")) == exact(ctx)
        assert exact(from_json(stored_before.encode(), "x")) == exact(ctx)


def test_a_context_stored_in_format_2_when_it_was_made_still_decodes():
    assert exact(from_json(GOLDEN, "x")) == exact(GOLDEN_DICT)
    assert exact(from_json(to_json(GOLDEN_DICT), "x")) == exact(GOLDEN_DICT)


@pytest.mark.parametrize(
    "times",
    [
        (1764547200.1234567, 1764547100.5),  # finer than a microsecond: kept as it is
        (100, 5),  # ints (tests, hand-made contexts) stay ints
        (1e-7, 0.0),
        (1764547200.123456, 1764547200.123456),  # two at one instant
        (5.5, 9.25),  # a late event placed after a newer one
    ],
)
def test_any_timestamps_come_back_exactly(journey, times):
    ctx = new_context("t")
    for n, ts in enumerate(times):
        apply_event(ctx, {"event_id": f"e{n}", "type": "page_view", "ts": ts, "channel": "web"}, journey)
    assert exact(from_json(to_json(ctx), "t")) == exact(ctx)


@pytest.mark.parametrize(
    "ids",
    [
        ["0F8FAD5BD9CB469FA16570867728950E"],  # upper case: would come back lower case if packed
        ["0f8fad5bd9cb469fa16570867728950e", "a-client-id"],  # packed only when all are
        ["0f8fad5b d9cb469fa16570867728950e"],  # bytes.fromhex skips spaces
        ["é" * 32],
    ],
)
def test_event_ids_that_are_not_server_hex_are_kept_as_they_are(journey, ids):
    ctx = new_context("t")
    for n, event_id in enumerate(ids):
        apply_event(ctx, {"event_id": event_id, "type": "page_view", "ts": float(n), "item_id": None}, journey)
    assert exact(from_json(to_json(ctx), "t")) == exact(ctx)


def test_an_empty_context_and_odd_values_round_trip():
    ctx = new_context("ünïcode \u2603 visitor")
    assert exact(from_json(to_json(ctx), "x")) == exact(ctx)
    ctx.update(user_id="u-1", value_total=12.75, converted_items=["a", "b"])
    assert exact(from_json(to_json(ctx), "x")) == exact(ctx)


def test_a_record_of_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="format 2"):
        context_codec.decode(b"\x07abc")

"""Resume rules and consent, on contexts built by the real reducer."""

from pathlib import Path

import pytest

from models.context import apply_event, new_context
from models.rules import Rules

RULES = Rules.load(Path(__file__).resolve().parents[2] / "config" / "rules.yaml")


def context_after(journey, *steps):
    ctx = new_context("v")
    for ts, (kind, item) in enumerate(steps):
        apply_event(ctx, {"event_id": str(ts), "type": kind, "ts": float(ts), "item_id": item}, journey)
    return ctx


def test_configured_product_brings_back_the_test_drive(journey):
    ctx = context_after(journey, ("page_view", None), ("configure_product", "hero_x5_m_sport"), ("page_view", None))
    [resumption] = RULES.resumptions(ctx)
    assert resumption.item_id == "action_book_test_drive"
    assert "hero_x5_m_sport" in resumption.reason


def test_resumption_stops_once_completed(journey):
    ctx = context_after(journey, ("configure_product", "x5"), ("book_test_drive", "action_book_test_drive"))
    assert RULES.resumptions(ctx) == []


def test_abandoned_cart_shows_the_item_itself(journey):
    ctx = context_after(journey, ("add_to_cart", "accessory_pet_pack"))
    assert [r.item_id for r in RULES.resumptions(ctx)] == ["accessory_pet_pack"]


@pytest.mark.parametrize(
    "profile, require, allowed",
    [
        ({}, False, True),
        ({}, True, False),
        ({"consent": {"personalization": False}}, False, False),
        ({"consent": {"personalization": True}}, True, True),
    ],
)
def test_consent(profile, require, allowed):
    assert Rules(require_consent=require).consent_given(profile) is allowed

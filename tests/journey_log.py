"""A four-visitor event log small enough to work out every journey figure by hand (see EXPECTED_*).

With config/journey.yaml (awareness > consideration > intent > conversion > loyalty):
  a: awareness, awareness, consideration, then purchase: skips intent; a click after buying.
  b: awareness, consideration, intent, then back to awareness; an event type the map lacks; never buys.
  c: enters at consideration, intent, purchase, then loyalty two days later; known user u1.
  d: only a click (an outcome, no stage), on another device of user u1.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

T0 = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)
ROWS = [
    # visitor, hours after T0, type, channel, user_id
    ("a", 0, "page_view", "web", None),
    ("a", 1, "page_view", "web", None),
    ("a", 3, "product_view", "app", None),
    ("a", 5, "purchase", "store", None),
    ("a", 6, "click", "web", None),
    ("b", 0, "ad_click", "ads", None),
    ("b", 2, "product_view", "web", None),
    ("b", 4, "add_to_cart", "web", None),
    ("b", 10, "page_view", "web", None),
    ("b", 11, "mystery_event", "web", None),
    ("c", 1, "product_view", "web", "u1"),
    ("c", 2, "book_test_drive", "store", None),
    ("c", 3, "purchase", "store", None),
    ("c", 50, "service_booking", "email", None),
    ("d", 7, "click", "web", "u1"),
]
HOUR = 3600.0


def api_events() -> list[dict]:
    """The log as POST /v1/events bodies."""
    events = []
    for number, (visitor, hours, kind, channel, user) in enumerate(ROWS):
        event = {
            "event_id": f"e{number}",
            "visitor_id": visitor,
            "type": kind,
            "channel": channel,
            "timestamp": (T0 + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
        }
        if user:
            event["user_id"] = user
        events.append(event)
    return events


def frame() -> pd.DataFrame:
    """The log as canonical events (what training.readers.read_events returns), sorted by time."""
    events = pd.DataFrame(
        {
            "event_id": [f"e{n}" for n in range(len(ROWS))],
            "visitor_id": [r[0] for r in ROWS],
            "user_id": [r[4] for r in ROWS],
            "type": [r[2] for r in ROWS],
            "ts": [T0.timestamp() + r[1] * HOUR for r in ROWS],
            "channel": [r[3] for r in ROWS],
            "item_id": None,
            "value": float("nan"),
            "decision_id": None,
        }
    )
    return events.sort_values(["ts", "visitor_id"], kind="stable").reset_index(drop=True)


EXPECTED_COUNTS = {
    "entry": {"awareness": 2, "consideration": 1},
    "awareness": {"awareness": 1, "consideration": 2, "exit": 1},
    "consideration": {"intent": 2, "conversion": 1},
    "intent": {"awareness": 1, "conversion": 1},
    "conversion": {"loyalty": 1, "exit": 1},
    "loyalty": {"exit": 1},
}
"""Non-zero cells of the transition matrix (from -> to -> moves)."""

EXPECTED_FUNNEL = [
    # stage, visited, reached it or a later stage, skipped, ended there, went on to the next
    ("awareness", 2, 3, 1, 1, 1.0),
    ("consideration", 3, 3, 0, 0, 1.0),
    ("intent", 2, 3, 1, 0, 0.6667),
    ("conversion", 2, 2, 0, 1, 0.5),
    ("loyalty", 1, 1, 0, 1, None),
]

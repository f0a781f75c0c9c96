"""The one point-in-time replay: a decision sees the events before it, never those of its own instant or
later, and each event is seen before and after it is folded, as the service's reducer folds it."""

import pandas as pd

from journal.replay import AFTER_EVENT, BEFORE_EVENT, DECISION, point_in_time
from models.context import apply_event, new_context
from tests import journey_log

HOUR = 3600.0
T0 = journey_log.T0.timestamp()


def test_each_decision_sees_the_context_as_it_was_then(journey):
    events = journey_log.frame()
    decisions = [
        {"ts": T0 + 3 * HOUR, "who": "a"},  # at a's product_view: before it
        {"ts": T0 + 5.5 * HOUR, "who": "a"},  # after a's purchase
        {"ts": T0 + 99 * HOUR, "who": "nobody"},  # after every event, a visitor never seen
    ]
    seen = [
        (m.index, m.context["stage"], m.context["n_events"])
        for m in point_in_time(events, decisions, journey, recent_cap=50)
        if m.kind == DECISION
    ]
    assert seen == [(0, "awareness", 2), (1, "conversion", 4), (2, None, 0)]


def test_events_are_seen_before_and_after_folding_as_the_service_folds_them(journey):
    events = journey_log.frame()
    counts, replayed = [], None
    for m in point_in_time(events, [], journey, recent_cap=50):  # contexts are live: read them as they come
        if m.record["visitor_id"] == "b":
            counts.append((m.kind, m.context["n_events"]))
            replayed = m.context
    assert counts[:4] == [(BEFORE_EVENT, 0), (AFTER_EVENT, 1), (BEFORE_EVENT, 1), (AFTER_EVENT, 2)]
    served = new_context("b")
    for event in events.loc[events["visitor_id"] == "b"].to_dict("records"):
        apply_event(served, {**event, "value": None, "user_id": None}, journey, 50)
    assert replayed == served


def test_a_missing_value_is_none_as_in_serving(journey):
    events = pd.DataFrame(
        [{"event_id": "e1", "visitor_id": "v", "user_id": None, "type": "purchase", "ts": 1.0, "value": float("nan")}]
    )
    (before, after) = point_in_time(events, [], journey, recent_cap=50)
    assert before.record["value"] is None and after.context["value_total"] == 0.0

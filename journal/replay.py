"""The one point-in-time replay: each event and each decision, with the visitor's context as it was then.

Training (training/replay.py), off-policy evaluation and the gate (training/evaluate.py) fold events
only through here, with the service's reducer (models.context.apply_event), so what they see is what
serving saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import pandas as pd

from models.context import apply_event, new_context, profile_key
from models.journey import JourneyMap

BEFORE_EVENT = "before_event"
"""An event about to be folded: its context is as it was when the touchpoint happened."""
AFTER_EVENT = "after_event"
"""The same event, folded in: its context includes it."""
DECISION = "decision"
"""A decision: its context is as it was when the decision was made."""
EVENT_COLUMNS = ["event_id", "visitor_id", "user_id", "type", "ts", "channel", "item_id", "value"]


@dataclasses.dataclass
class Moment:
    kind: str
    index: int
    """The event's row in `events`, or the decision's position in `decisions`."""
    record: dict
    context: dict
    """The visitor's live context: read it before asking for the next moment."""


def point_in_time(
    events: pd.DataFrame,
    decisions: list[dict],
    journey: JourneyMap,
    recent_cap: int,
    who: Sequence[str] | None = None,
) -> Iterator[Moment]:
    """Fold `events` (sorted by time) in order; yield each before and after it is folded, and each of
    `decisions` (sorted by `ts`, each with `who`: its person key) at its moment.

    `who`, aligned with `events`, is whose context each event folds into: its person key
    (journal.identity.person_keys, so a linked device's events are the person's); without it, each
    event's models.context.profile_key (user, else visitor). A decision comes before the events of
    its own instant: it could not have seen them.
    """
    contexts: dict[str, dict] = {}
    next_decision = 0
    columns = [c for c in EVENT_COLUMNS if c in events]
    # a missing id or value is None, as in the service's events (pandas reads it as NaN: a NaN user
    # id would fold every anonymous visitor into one context, a NaN value poison value_total)
    rows = events[columns].astype(object)
    rows = rows.where(events[columns].notna(), None)
    for index, values in enumerate(rows.itertuples(index=False, name=None)):
        event = dict(zip(columns, values))
        while next_decision < len(decisions) and decisions[next_decision]["ts"] <= event["ts"]:
            decision = decisions[next_decision]
            yield Moment(
                DECISION, next_decision, decision, contexts.get(decision["who"]) or new_context(decision["who"])
            )
            next_decision += 1
        key = who[index] if who is not None else profile_key(event)
        context = contexts.get(key)
        if context is None:
            context = contexts[key] = new_context(key)
        yield Moment(BEFORE_EVENT, index, event, context)
        apply_event(context, event, journey, recent_cap)
        yield Moment(AFTER_EVENT, index, event, context)
    for position in range(next_decision, len(decisions)):
        decision = decisions[position]
        yield Moment(DECISION, position, decision, contexts.get(decision["who"]) or new_context(decision["who"]))

"""The journal's record shapes and their version: what a day file's line holds (see docs/journal.md).

Version 0: records written before the version field existed; version 1 adds `rv` and nothing else.
The readers accept both, and ignore fields they do not know, so a reader never needs the writer's
release to read its files.
"""

from __future__ import annotations

import re
from typing import TypedDict

RECORD_VERSION = 1
VERSION_FIELD = "rv"


class EventRecord(TypedDict, total=False):
    """A touchpoint as the service accepted it (models.events.canonical_event)."""

    rv: int
    event_id: str
    visitor_id: str
    user_id: str | None
    type: str
    timestamp: str
    ts: float
    """Epoch seconds: the order the reducer folds events in, and the day file the record goes to."""
    channel: str | None
    item_id: str | None
    value: float | None
    decision_id: str | None
    properties: dict


class ShownItem(TypedDict, total=False):
    item_id: str
    position: int
    propensity: float | None
    """The probability the policy had of showing this item here; None when it did not know."""


class DecisionRecord(TypedDict, total=False):
    """A decision as the service made it (service.decide): what could have been shown and what was."""

    rv: int
    decision_id: str
    visitor_id: str
    user_id: str | None
    placement: str
    stage: str | None
    policy: str
    model_version: str | None
    ts: float
    timestamp: str
    channel: str | None
    items: list[ShownItem]
    candidates: list[str]
    reward: list[str]
    """The placement's own response event types; empty: the journey map's outcomes."""
    shadow: dict
    context: dict | None
    """A snapshot of the visitor's context; None when the context store was unreachable."""
    profile: dict
    """The profile attributes the model read."""


def versioned(record: dict) -> dict:
    """The record as the writer writes it: with this release's record version first."""
    return {VERSION_FIELD: RECORD_VERSION, **record}


def record_version(record: dict) -> int:
    """A record's version; 0 for one written before versions (no `rv`)."""
    return int(record.get(VERSION_FIELD, 0))


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
"""What the API refuses in an id or a name (models.text): U+0000-U+001F and U+007F."""
ARROW_CONTROL_CHARACTERS = r"[\x00-\x1f\x7f]"
"""The same class, for pyarrow.compute's RE2 (journal.event_log.without_bad_text)."""


class NotText(ValueError):
    """A record holds a string the service refuses: not valid UTF-8 (a lone surrogate, escaped as
    \\ud800 in the line) anywhere, or a control character in an id. The readers skip the line and count
    it as a bad line, as they do a torn one: the strings would otherwise fail later, when encoded."""


def check_text(record: object) -> None:
    """NotText when any string of the record, key or value, at any depth, is not valid UTF-8."""
    pending = [record]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                raise NotText(f"not valid UTF-8 text at {error.start}") from None
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def checked_id(value: object) -> str:
    """`value` as a string, NotText when it holds a control character (the API refuses them in ids)."""
    text = str(value)
    if CONTROL_CHARACTERS.search(text):
        raise NotText("a control character in an id")
    return text

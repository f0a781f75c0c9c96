"""What a public key may ask beyond its endpoints: a public key is embedded in pages, so anyone has it.

With a public key, events may be only the types the journey map marks `client_side`, carry no `value`
and no `user_id`; decisions may not ask for `explain` nor name a `user_id` (which would read a known
customer's context). A request that oversteps is refused whole (403), naming each field, and changes
nothing. Server and admin keys are not limited here.
"""

from __future__ import annotations

from flask import g

from models.errors import Forbidden
from models.journey import JourneyMap

SERVER_ONLY_EVENT_FIELDS = {
    "value": "an outcome with a value is sent by the brand's back end: use a server key",
    "user_id": "a known customer's id is sent by the brand's back end (a page could name anyone's): use a server key",
}
SERVER_ONLY_DECISION_FIELDS = {
    "explain": "the trace of a decision is for the brand's back end: use a server key",
    "user_id": SERVER_ONLY_EVENT_FIELDS["user_id"],
}


def check_events(body: object, journey: JourneyMap) -> None:
    """403 when a public key's single event or batch holds anything only a server key may send."""
    if not _public():
        return
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        events = [(f"events.{i}.", event) for i, event in enumerate(body["events"])]
    else:
        events = [("", body)]
    errors: dict[str, list[str]] = {}
    for prefix, event in events:
        if not isinstance(event, dict):
            continue  # the ingestor refuses it as malformed
        kind = event.get("type")
        if isinstance(kind, str) and kind not in journey.client_side:
            errors[prefix + "type"] = [
                f"{kind[:64]!r} is not a client-side event type in the journey map ({', '.join(journey.client_side)})"
                ": use a server key"
            ]
        errors.update({prefix + f: [why] for f, why in SERVER_ONLY_EVENT_FIELDS.items() if event.get(f) is not None})
    if errors:
        raise Forbidden("a public key cannot send these events: see errors per field", errors)


def check_decision(request: dict) -> None:
    """403 when a public key's decision request asks for what only a server key may."""
    if not _public():
        return
    errors = {f: [why] for f, why in SERVER_ONLY_DECISION_FIELDS.items() if request.get(f)}
    if errors:
        raise Forbidden("a public key cannot ask for this: see errors per field", errors)


def _public() -> bool:
    key = g.get("api_key")
    return key is not None and key.scope == "public"

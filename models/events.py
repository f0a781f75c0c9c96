"""The touchpoint event contract (DESIGN.md section 1): one marshmallow schema for API and files."""

from __future__ import annotations

import datetime as dt
import math
import uuid

from marshmallow import RAISE, Schema, ValidationError, fields, validates

from config.settings import Settings
from models.event_check import compile_loader
from models.journey import JourneyMap
from models.strict import StrictFloat
from models.text import ID_PATTERN, NAME_PATTERN, ident, name, short_text

__all__ = ["ID_PATTERN", "TYPE_PATTERN", "EventSchema", "canonical_event", "parse_event", "time_bounds"]

TYPE_PATTERN = NAME_PATTERN
MAX_PROPERTIES_BYTES = 8_000
EARLIEST = dt.datetime.fromisoformat(Settings.earliest_timestamp)
FUTURE_MARGIN_S = Settings.future_margin_s


class EventSchema(Schema):
    """A touchpoint as clients send it. Loads into a canonical dict (see `canonical_event`)."""

    class Meta:
        unknown = RAISE

    event_id = fields.String(validate=ident(), load_default=None)
    visitor_id = fields.String(required=True, validate=ident())
    user_id = fields.String(validate=ident(), load_default=None, allow_none=True)
    type = fields.String(required=True, validate=name(), metadata={"description": "a type the journey map names"})
    timestamp = fields.AwareDateTime(
        load_default=None,
        format="iso",
        metadata={
            "description": f"ISO-8601 with zone, between settings.earliest_timestamp ({Settings.earliest_timestamp}) "
            f"and now + settings.future_margin_s ({FUTURE_MARGIN_S:g} s); default: the server's time"
        },
    )
    channel = fields.String(
        validate=short_text(32),
        load_default=None,
        allow_none=True,
        metadata={"description": "a channel the journey map names"},
    )
    item_id = fields.String(validate=ident(), load_default=None, allow_none=True)
    value = StrictFloat(load_default=None, allow_none=True, allow_nan=False)
    decision_id = fields.String(validate=ident(), load_default=None, allow_none=True)
    properties = fields.Dict(
        keys=fields.String(validate=short_text(128)),
        load_default=dict,
        metadata={"description": f"free-form, under {MAX_PROPERTIES_BYTES} bytes"},
    )

    @validates("properties")
    def _small_properties(self, value, **_):
        if len(repr(value)) > MAX_PROPERTIES_BYTES:
            raise ValidationError(f"must be under {MAX_PROPERTIES_BYTES} bytes")

    @validates("value")
    def _finite_value(self, value, **_):
        if value is not None and not math.isfinite(value):
            raise ValidationError("must be a finite number")


EVENT_SCHEMA = EventSchema()
FAST_LOAD = compile_loader(EVENT_SCHEMA)
"""EVENT_SCHEMA.load for a well-formed event at a tenth of the cost; None sends the event to the schema."""


def time_bounds(now: dt.datetime, earliest: dt.datetime = EARLIEST, future_margin_s: float = FUTURE_MARGIN_S):
    """(earliest, latest) instant an event may carry: history back to `earliest`, a little clock skew ahead."""
    return earliest, now + dt.timedelta(seconds=future_margin_s)


def canonical_event(loaded: dict, now: dt.datetime | None = None) -> dict:
    """Fill server-side defaults (id, time) and add `ts`, the epoch seconds the reducer orders by."""
    stamp = loaded.get("timestamp") or now or dt.datetime.now(dt.UTC)
    stamp = stamp.astimezone(dt.UTC)
    event = dict(loaded)
    event["event_id"] = loaded.get("event_id") or uuid.uuid4().hex
    event["timestamp"] = stamp.isoformat().replace("+00:00", "Z")
    event["ts"] = stamp.timestamp()
    return event


def parse_event(
    raw: object,
    now: dt.datetime | None = None,
    *,
    journey: JourneyMap | None = None,
    earliest: dt.datetime = EARLIEST,
    future_margin_s: float = FUTURE_MARGIN_S,
) -> dict:
    """Validate one raw event; raises marshmallow.ValidationError with per-field reasons.

    With a journey map, its event types and channels are checked too (JourneyMap.unknown_fields).
    The timestamp must lie between `earliest` and now + `future_margin_s`: a far-future event
    would freeze the visitor's stage for ever and open a day file per stray year.
    """
    if not isinstance(raw, dict):
        raise ValidationError({"_schema": ["an event must be a JSON object"]})
    loaded = FAST_LOAD(raw)
    if loaded is None:  # something to say, or something unusual: the schema decides, in its own words
        loaded = EVENT_SCHEMA.load(raw)
    errors = journey.unknown_fields(loaded["type"], loaded["channel"]) if journey else {}
    stamp = loaded["timestamp"]
    if stamp is not None:
        low, high = time_bounds(now or dt.datetime.now(dt.UTC), earliest, future_margin_s)
        if not low <= stamp <= high:  # aware comparisons: no conversion, no overflow
            errors["timestamp"] = [f"must be between {_iso(low)} and {_iso(high)} (now + {future_margin_s:g} s)"]
    if errors:
        raise ValidationError(errors)
    return canonical_event(loaded, now)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

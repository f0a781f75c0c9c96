"""The touchpoint event contract (DESIGN.md section 1): one marshmallow schema for API and files."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

ID_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")
TYPE_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
MAX_PROPERTIES_BYTES = 8_000

_id = validate.Regexp(ID_PATTERN, error="must be 1-128 printable characters")


class EventSchema(Schema):
    """A touchpoint as clients send it. Loads into a canonical dict (see `canonical_event`)."""

    class Meta:
        unknown = RAISE

    event_id = fields.String(validate=_id, load_default=None)
    visitor_id = fields.String(required=True, validate=_id)
    user_id = fields.String(validate=_id, load_default=None, allow_none=True)
    type = fields.String(
        required=True, validate=validate.Regexp(TYPE_PATTERN, error="must be 1-64 of A-Z a-z 0-9 _ . : -")
    )
    timestamp = fields.AwareDateTime(load_default=None, format="iso")
    channel = fields.String(validate=validate.Length(1, 32), load_default=None, allow_none=True)
    item_id = fields.String(validate=_id, load_default=None, allow_none=True)
    value = fields.Float(load_default=None, allow_none=True, allow_nan=False)
    decision_id = fields.String(validate=_id, load_default=None, allow_none=True)
    properties = fields.Dict(keys=fields.String(), load_default=dict)

    @validates("properties")
    def _small_properties(self, value, **_):
        if len(repr(value)) > MAX_PROPERTIES_BYTES:
            raise ValidationError(f"must be under {MAX_PROPERTIES_BYTES} bytes")

    @validates("value")
    def _finite_value(self, value, **_):
        if value is not None and not math.isfinite(value):
            raise ValidationError("must be a finite number")


EVENT_SCHEMA = EventSchema()


def canonical_event(loaded: dict, now: dt.datetime | None = None) -> dict:
    """Fill server-side defaults (id, time) and add `ts`, the epoch seconds the reducer orders by."""
    stamp = loaded.get("timestamp") or now or dt.datetime.now(dt.UTC)
    stamp = stamp.astimezone(dt.UTC)
    event = dict(loaded)
    event["event_id"] = loaded.get("event_id") or uuid.uuid4().hex
    event["timestamp"] = stamp.isoformat().replace("+00:00", "Z")
    event["ts"] = stamp.timestamp()
    return event


def parse_event(raw: object, now: dt.datetime | None = None) -> dict:
    """Validate one raw event; raises marshmallow.ValidationError with per-field reasons."""
    if not isinstance(raw, dict):
        raise ValidationError({"_schema": ["an event must be a JSON object"]})
    return canonical_event(EVENT_SCHEMA.load(raw), now)

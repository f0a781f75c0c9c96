"""Request and response schemas of the HTTP API (they also generate the OpenAPI document)."""

from __future__ import annotations

import datetime as dt

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from models.catalog import DISPLAY_FIELDS
from models.channel_choice import TIMEZONE_ATTRIBUTE, timezone_problem
from models.events import EventSchema
from models.journey import JourneyMap
from models.strict import StrictBoolean, StrictInteger
from models.text import ident, short_text

_id = ident()
_label = short_text(64)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ErrorSchema(Schema):
    """Every error answer: the HTTP status as `code`, its name, a message naming the fix, reasons per field."""

    code = fields.Integer(metadata={"description": "the HTTP status"})
    status = fields.String(metadata={"description": "the HTTP status's name"})
    message = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "field path (e.g. events.0.type, or json for the body) -> reasons"},
    )


class EventBatchSchema(StrictSchema):
    events = fields.List(fields.Nested(EventSchema), required=True, validate=validate.Length(1, 1000))


EVENTS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"oneOf": [{"$ref": "#/components/schemas/Event"}, {"$ref": "#/components/schemas/EventBatch"}]}
        }
    },
    "description": 'One event object, or {"events": [...]} with up to 1,000. Each is validated on its own: a batch '
    "keeps its good events (200, bad ones listed by index); when none is valid the answer is a 422.",
}


class RejectedEventSchema(Schema):
    index = fields.Integer()
    errors = fields.Dict()


class IngestResultSchema(Schema):
    accepted = fields.Integer(metadata={"description": "events applied (or spooled) now"})
    duplicates = fields.Integer(metadata={"description": "events whose event_id was seen before"})
    spooled = fields.Integer(metadata={"description": "accepted while Redis was down; replayed later"})
    rejected = fields.List(fields.Nested(RejectedEventSchema))


class ProfileSchema(StrictSchema):
    """A visitor's profile. A PUT replaces it, except consent, which merges per key (see docs/api.md)."""

    interests = fields.List(fields.String(validate=_label), validate=validate.Length(max=100))
    consent = fields.Dict(
        keys=fields.String(validate=_label),
        values=StrictBoolean(),
        metadata={"description": "merged per key into the stored consent; a PUT without it keeps the stored one"},
    )
    segment = fields.String(validate=_label, allow_none=True)
    status = fields.String(validate=_label, allow_none=True)
    attributes = fields.Dict(
        keys=fields.String(validate=short_text(128)),
        metadata={
            "description": "third-party and other attributes (the whole profile at most settings.max_profile_bytes)"
        },
    )

    @validates_schema
    def _known_timezone(self, data, **_):
        attributes = data.get("attributes") or {}
        if TIMEZONE_ATTRIBUTE in attributes:
            problem = timezone_problem(attributes[TIMEZONE_ATTRIBUTE])
            if problem:
                raise ValidationError(problem, f"attributes.{TIMEZONE_ATTRIBUTE}")

    @validates_schema
    def _not_empty(self, data, **_):
        if not data:
            raise ValidationError(
                "an empty profile would erase the stored one: send at least one of "
                "interests, consent, segment, status, attributes"
            )


class StoredProfileSchema(ProfileSchema):
    """The profile now stored: empty when a PUT sent only an empty consent and nothing was stored before."""


class RecentEventSchema(Schema):
    event_id = fields.String()
    type = fields.String()
    ts = fields.Float()
    stage = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    item_id = fields.String(allow_none=True)


class VisitorSchema(Schema):
    visitor_id = fields.String(metadata={"description": "the id asked about"})
    person = fields.String(
        metadata={"description": "whose context this is: the user id a linked device belongs to, else the id itself"}
    )
    devices = fields.List(
        fields.String(), metadata={"description": "every device (visitor id) ever linked to the person, at most 100"}
    )
    user_id = fields.String(allow_none=True)
    known = fields.Boolean(metadata={"description": "false for a visitor never seen (cold start)"})
    stage = fields.String(allow_none=True)
    stage_since = fields.String(allow_none=True)
    max_stage = fields.String(allow_none=True)
    lapsed = fields.Boolean()
    first_seen = fields.String(allow_none=True)
    last_seen = fields.String(allow_none=True)
    events = fields.Integer()
    counts = fields.Dict(metadata={"description": "touchpoints per stage, channel and type"})
    channel_preference = fields.Dict(
        metadata={
            "description": "per channel: responses (outcome events), impressions (items shown there) and "
            "response_rate, responses per impression capped at 1 (null where nothing was shown)"
        }
    )
    recent = fields.List(fields.Nested(RecentEventSchema))
    profile = fields.Dict()


class DecisionRequestSchema(StrictSchema):
    visitor_id = fields.String(required=True, validate=_id)
    user_id = fields.String(
        validate=_id, metadata={"description": "known customer: joins devices and channels into one context"}
    )
    explain = StrictBoolean(load_default=False, metadata={"description": "return the trace of the decision"})
    placement = fields.String(required=True, validate=_id)
    context = fields.Nested(
        "DecisionContextSchema", load_default=dict, metadata={"description": 'e.g. {"channel": "app", "page": "/x5"}'}
    )
    candidates = fields.List(fields.String(validate=_id), validate=validate.Length(max=200))
    limit = StrictInteger(validate=validate.Range(1, 50))
    include = fields.List(
        fields.String(validate=validate.OneOf(DISPLAY_FIELDS)),
        validate=validate.Length(max=len(DISPLAY_FIELDS)),
        metadata={"description": "display fields to return with each item, to render it without a second call"},
    )


class DecisionContextSchema(Schema):
    """Where the decision is made; keys beside channel are kept for the log, unread."""

    class Meta:
        unknown = INCLUDE

    channel = fields.String(validate=short_text(32), metadata={"description": "a channel the journey map names"})


class DecisionItemSchema(Schema):
    item_id = fields.String()
    score = fields.Float(allow_none=True)
    propensity = fields.Float(metadata={"description": "probability this policy shows the item here"})
    reasons = fields.List(fields.String())
    title = fields.String(metadata={"description": "with include: title"})
    url = fields.String(metadata={"description": "with include: url"})
    image = fields.String(metadata={"description": "with include: image"})
    attributes = fields.Dict(metadata={"description": "with include: attributes"})


class DecisionSchema(Schema):
    decision_id = fields.String()
    visitor_id = fields.String()
    placement = fields.String()
    stage = fields.String(allow_none=True)
    next_stage = fields.Dict(keys=fields.String(), values=fields.Float())
    items = fields.List(fields.Nested(DecisionItemSchema))
    policy = fields.String(
        metadata={"description": "model (personalized), holdout, default (no consent), capped, or fallback"}
    )
    model_version = fields.String(allow_none=True)
    user_id = fields.String(allow_none=True)
    channel = fields.String(
        allow_none=True,
        metadata={"description": "with a placement whose channel is choose: the channel to send on (docs/channels.md)"},
    )
    nothing = fields.String(
        metadata={"description": "with channel choose and no items: why nothing is sent (consent, contact policy)"}
    )
    explain = fields.Dict(
        metadata={"description": "candidates, removed (rule), boosts, pinned, caps, per-item contributions, branch"}
    )


class JourneySchema(Schema):
    stages = fields.List(fields.String())
    events = fields.Dict(keys=fields.String(), values=fields.String())
    outcomes = fields.List(fields.String())
    lapse_after_days = fields.Float()
    conversion_stage = fields.String(metadata={"description": "present when the map names its conversion stage"})
    client_side = fields.List(
        fields.String(), metadata={"description": "event types a public key may send (web pages, apps)"}
    )


class HealthSchema(Schema):
    status = fields.String()
    checks = fields.Dict()


ANALYTICS_DEFAULT_DAYS = 30
ANALYTICS_MAX_DAYS = 366
"""The longest window one analytics request may read (one event day file per day; as for lift)."""


class JourneyAnalyticsQuerySchema(StrictSchema):
    since = fields.AwareDateTime(
        format="iso",
        metadata={
            "description": f"ISO-8601 with zone; default: {ANALYTICS_DEFAULT_DAYS} days before until; "
            f"at most {ANALYTICS_MAX_DAYS} days before it"
        },
    )
    until = fields.AwareDateTime(format="iso", metadata={"description": "ISO-8601 with zone, excluded; default: now"})
    channel = fields.String(validate=short_text(32), metadata={"description": "only this channel's touchpoints"})

    @validates_schema
    def _until_after_since(self, data, **_):
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise ValidationError("must be later than since", "until")

    @post_load
    def _default_window(self, data, **_):
        until = data.get("until") or dt.datetime.now(dt.UTC)
        since = data.get("since") or until - dt.timedelta(days=ANALYTICS_DEFAULT_DAYS)
        if until <= since:  # only since given, and it lies in the future
            raise ValidationError("must be in the past when until is not given", "since")
        if until - since > dt.timedelta(days=ANALYTICS_MAX_DAYS):
            raise ValidationError(f"the window from since to until must be at most {ANALYTICS_MAX_DAYS} days", "since")
        return {"since": since, "until": until, "channel": data.get("channel")}


class JourneyAnalyticsSchema(Schema):
    """Every figure of the journey report (the same as report.json of `python -m training analyze`)."""

    summary = fields.Dict(metadata={"description": "events, visitors, converting, time range, filters"})
    stages = fields.List(fields.String())
    conversion_stage = fields.String()
    findings = fields.List(fields.Dict(), metadata={"description": "where the real journey departs from the map"})
    gaps = fields.Dict(metadata={"description": "expected moves rarely taken; frequent moves the map lacks"})
    transitions = fields.Dict(metadata={"description": "counts and probabilities from entry/stages to stages/exit"})
    funnel = fields.List(fields.Dict(), metadata={"description": "per stage: reached, skipped, time in stage"})
    paths = fields.Dict(metadata={"description": "commonest stage and touchpoint paths to conversion and drop-off"})
    channels = fields.Dict(metadata={"description": "channel mix per stage, first touch, cross-channel journeys"})
    touchpoints = fields.Dict(metadata={"description": "conversion with/without each touchpoint (association)"})
    unknown_event_types = fields.List(fields.Dict())


def document_journey(spec, journey: JourneyMap) -> None:
    """Write the journey map's names into the OpenAPI components as enums, so clients and fuzzers know them.

    Only a map that refuses unknown types and channels constrains them (`unknowns: other` accepts any).
    Also registers the two event body shapes EVENTS_BODY refers to.
    """
    spec.components.schema("Event", schema=EventSchema)
    spec.components.schema("EventBatch", schema=EventBatchSchema)
    schemas = spec.components.schemas
    # a batch's events are checked one by one: a bad one is listed in `rejected`, the good ones kept (200),
    # so the document must not promise that one bad event refuses the batch
    schemas["EventBatch"]["properties"]["events"]["items"] = {
        "description": "an Event (#/components/schemas/Event), checked on its own: a bad one is reported in "
        "`rejected` by its index and the others are kept"
    }
    schemas["Item"]["properties"]["stages"]["items"]["enum"] = list(journey.stages)
    schemas["Profile"]["minProperties"] = 1
    if journey.unknowns != "refuse":
        return
    types, channels = sorted(journey.known_types), list(journey.channels)
    schemas["Event"]["properties"]["type"]["enum"] = types
    schemas["Event"]["properties"]["channel"]["enum"] = [*channels, None]
    schemas["DecisionContext"]["properties"]["channel"]["enum"] = channels
    schemas["Item"]["properties"]["channels"]["items"]["enum"] = channels
    schemas["Item"]["properties"]["event"]["enum"] = [*types, None]
    schemas["Placement"]["properties"]["reward"]["items"]["enum"] = types


class ErasureSchema(Schema):
    """What DELETE /v1/visitors/<id> did (docs/privacy.md)."""

    erased_ids = fields.Integer(metadata={"description": "the id and every id linked to it, all erased"})
    redis_keys_deleted = fields.Integer(metadata={"description": "Redis keys of those ids that existed"})
    erased_at = fields.String(metadata={"description": "when, ISO-8601 UTC"})
    logs_compacted_by = fields.String(
        metadata={"description": "the logs hold no line of these ids after this (settings.erasure_compaction_days)"}
    )


class ExportSchema(Schema):
    """Everything stored about a person (GET /v1/visitors/<id>/export, docs/privacy.md)."""

    visitor_id = fields.String(metadata={"description": "the id asked about"})
    linked_ids = fields.List(fields.String(), metadata={"description": "it and every id seen with it, transitively"})
    erased_at = fields.String(allow_none=True, metadata={"description": "when it was erased; null: it was not"})
    visitors = fields.List(fields.Nested(VisitorSchema), metadata={"description": "each linked id's Redis state"})
    events = fields.List(fields.Dict(), metadata={"description": "event log records naming a linked id"})
    decisions = fields.List(fields.Dict(), metadata={"description": "decision log records naming a linked id"})
    profiles = fields.List(fields.Dict(), metadata={"description": "profile log records of a linked id"})
    max_lines = fields.Integer(metadata={"description": "records returned at most (settings.erasure_export_max_lines)"})
    truncated = fields.Boolean(metadata={"description": "true when max_lines stopped the export: there are more"})


class IdentifySchema(StrictSchema):
    """POST and DELETE /v1/identify: a device and the person it belongs to (docs/identity.md)."""

    visitor_id = fields.String(required=True, validate=_id, metadata={"description": "the device (cookie, app id)"})
    user_id = fields.String(required=True, validate=_id, metadata={"description": "the person: the customer id"})
    timestamp = fields.AwareDateTime(
        load_default=None, format="iso", metadata={"description": "when it happened; default: the server's time"}
    )


class IdentityResultSchema(Schema):
    link_id = fields.String(metadata={"description": "the identities log record's id"})
    action = fields.String(metadata={"description": "link or unlink"})
    visitor_id = fields.String()
    user_id = fields.String()
    at = fields.String(metadata={"description": "the instant the link or unlink counts from (ISO-8601)"})
    outcome = fields.String(
        metadata={
            "description": "merged (the device's first link: its anonymous history joined the person's), moved "
            "(linked before: nothing merged), unchanged (it was the person's already), unlinked, or not linked "
            "(the device was not this person's: nothing changed)"
        }
    )

"""Request and answer shapes of the key and audit endpoints."""

from __future__ import annotations

import datetime as dt

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from models.api_keys import ORIGIN, SCOPES, parse_origins
from models.errors import ConfigError
from models.text import short_text
from service.schemas import StrictSchema

MAX_ORIGINS = 50
MAX_AUDIT_DAYS = 366


class KeyRequestSchema(StrictSchema):
    scope = fields.String(required=True, validate=validate.OneOf(SCOPES))
    name = fields.String(load_default="", validate=short_text(128, min_length=0))
    origins = fields.List(
        fields.String(validate=validate.Regexp(ORIGIN.pattern, error="must look like https://shop.example.com")),
        load_default=list,
        validate=validate.Length(max=MAX_ORIGINS),
        metadata={"description": "public keys: the web origins pages using the key are served from"},
    )
    expires_at = fields.AwareDateTime(format="iso", load_default=None, metadata={"description": "ISO-8601 with zone"})

    @validates("expires_at")
    def _in_the_future(self, value, **_):
        if value is not None and value <= dt.datetime.now(dt.UTC):
            raise ValidationError("must be in the future")

    @post_load
    def _origins_only_for_public(self, data, **_):
        if data["origins"] and data["scope"] != "public":
            raise ValidationError(
                "only a public key has origins (server and admin keys are not for browsers)", "origins"
            )
        try:
            data["origins"] = parse_origins(data["origins"])
        except ConfigError as exc:
            raise ValidationError(exc.message, "origins") from exc
        return data


class KeySchema(Schema):
    id = fields.String()
    scope = fields.String()
    name = fields.String()
    origins = fields.List(fields.String())
    created_at = fields.String()
    expires_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)
    source = fields.String(metadata={"description": "created (CLI or API), demo (first start) or env (environment)"})


class NewKeySchema(KeySchema):
    token = fields.String(metadata={"description": "the key itself: shown once, stored only as a hash"})


class AuditQuerySchema(StrictSchema):
    since = fields.AwareDateTime(format="iso", metadata={"description": "default 7 days before until"})
    until = fields.AwareDateTime(format="iso", metadata={"description": "default now"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))

    @post_load
    def _window(self, data, **_):
        until = data.get("until") or dt.datetime.now(dt.UTC)
        since = data.get("since") or until - dt.timedelta(days=7)
        if until <= since:
            raise ValidationError("must be earlier than until", "since")
        if until - since > dt.timedelta(days=MAX_AUDIT_DAYS):
            raise ValidationError(f"the window must be at most {MAX_AUDIT_DAYS} days", "since")
        return {"since": since.timestamp(), "until": until.timestamp(), "limit": data["limit"]}


class AuditEntrySchema(Schema):
    ts = fields.Float()
    key_id = fields.String()
    key_name = fields.String()
    method = fields.String()
    route = fields.String()
    target = fields.Dict()
    status = fields.Integer()

"""GET /v1/reports/lift and /v1/reports/lift.html: is personalization adding lift over the holdout, and how surely.

Each request reads the decision and event logs' day files of the asked window (plus the
reward and conversion windows after it): a reporting call, not one for a page's hot path.
A placement with no logged decisions in the window is an empty answer with a note, not a
404: the logs, not today's catalog, say what was shown (a placement may have been removed).
"""

import datetime as dt

from flask import Response
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from models.events import TYPE_PATTERN
from models.text import short_text
from reports.lift import DEFAULT_CONVERSION_WINDOW_DAYS, DEFAULT_REPORT_DAYS, DEFAULT_WINDOW_HOURS, lift_from_log
from reports.lift_html import render_lift_html
from service.rate_limits import EXPENSIVE_COST
from service.views import services
from service.views.body import Blueprint

blp = Blueprint("reports", __name__, url_prefix="/v1", description="Business impact: lift over the holdout")

MAX_REPORT_DAYS = 366
"""The longest window one request may read (each day is one decision file and one event file)."""
_TYPES = f"{TYPE_PATTERN.pattern[1:-1]}(,{TYPE_PATTERN.pattern[1:-1]})*"


class LiftQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    placement = fields.String(validate=short_text(128), metadata={"description": "only this placement"})
    campaign = fields.String(
        validate=short_text(128), metadata={"description": "only this outbound campaign's decisions (batch-decide)"}
    )
    since = fields.AwareDateTime(
        format="iso",
        metadata={"description": f"first instant, ISO-8601 with zone; default {DEFAULT_REPORT_DAYS} days before until"},
    )
    until = fields.AwareDateTime(
        format="iso", metadata={"description": "end (excluded), ISO-8601 with zone; default now"}
    )
    reward_types = fields.String(
        validate=validate.Regexp(f"^{_TYPES}$", error="must be event types separated by commas, e.g. click,dismiss"),
        metadata={"description": "comma-separated outcome types that count as a response; default the map's outcomes"},
    )
    window_hours = fields.Float(
        validate=validate.Range(min=0, max=24 * 30, min_inclusive=False),
        metadata={"description": f"reward window after a decision, hours; default {DEFAULT_WINDOW_HOURS:g}"},
    )
    conversion_window_days = fields.Float(
        validate=validate.Range(min=0, max=90, min_inclusive=False),
        metadata={"description": f"conversion window, days; default {DEFAULT_CONVERSION_WINDOW_DAYS:g}"},
    )

    @validates_schema
    def _until_after_since(self, data, **_):
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise ValidationError("must be later than since", "until")

    @post_load
    def _defaults(self, data, **_):
        until = data.get("until") or dt.datetime.now(dt.UTC)
        since = data.get("since") or until - dt.timedelta(days=DEFAULT_REPORT_DAYS)
        if until <= since:  # only since given, and it lies in the future
            raise ValidationError("must be in the past when until is not given", "since")
        if until - since > dt.timedelta(days=MAX_REPORT_DAYS):
            raise ValidationError(f"the window from since to until must be at most {MAX_REPORT_DAYS} days", "since")
        reward_types = data.get("reward_types")
        return {
            **data,
            "since": since,
            "until": until,
            "reward_types": tuple(reward_types.split(",")) if reward_types else None,
        }


class LiftReportSchema(Schema):
    """Every figure of the lift report (the same as lift.json of `python -m training lift`)."""

    since = fields.String()
    until = fields.String()
    placement = fields.String(allow_none=True)
    campaign = fields.String(metadata={"description": "present when the report is of one campaign"})
    reward_types = fields.List(fields.String())
    window_hours = fields.Float()
    conversion_stage = fields.String()
    conversion_types = fields.List(fields.String())
    conversion_window_days = fields.Float()
    confidence = fields.Float()
    thresholds = fields.Dict(metadata={"description": "min_decisions per group, min_successes per metric"})
    definitions = fields.Dict(metadata={"description": "what each figure means, in words"})
    placements = fields.List(
        fields.Dict(),
        metadata={"description": "per placement: headlines, policies, overall and per-stage segments with metrics"},
    )
    notes = fields.List(fields.String())
    outcomes_joined = fields.Dict(metadata={"description": "outcomes joined by decision id or last shown; late, ..."})
    read = fields.Dict(metadata={"description": "day files read, lines skipped"})


@blp.route("/reports/lift", methods=["GET"])
@blp.scope("admin", cost=EXPENSIVE_COST)
@blp.arguments(LiftQuerySchema, location="query", unknown=RAISE)  # a misspelt filter is an error
@blp.response(200, LiftReportSchema)
def get_lift(query: dict):
    return _lift(query)


@blp.route("/reports/lift.html", methods=["GET"])
@blp.scope("admin", cost=EXPENSIVE_COST)
@blp.arguments(LiftQuerySchema, location="query", unknown=RAISE)
@blp.response(200, {"type": "string"}, content_type="text/html", description="the lift report as one page")
def get_lift_page(query: dict):
    return Response(render_lift_html(_lift(query)), mimetype="text/html")


def _lift(query: dict) -> dict:
    state = services()
    return lift_from_log(state.settings.data_dir, state.journey, **query)

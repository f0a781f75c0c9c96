"""POST /v1/events: one touchpoint or a batch."""

from flask import request

from models.errors import ValidationFailed
from service import metrics
from service.public_rules import check_events
from service.schemas import EVENTS_BODY, IngestResultSchema
from service.views import services
from service.views.body import Blueprint, json_body

blp = Blueprint("events", __name__, url_prefix="/v1", description="Touchpoints in")


@blp.route("/events", methods=["POST"])
@blp.scope("public")
@blp.doc(requestBody=EVENTS_BODY)
@blp.refuses(400, 413, 422, 503)
@blp.response(200, IngestResultSchema, description="Per-event result; bad events listed by index")
def post_events():
    body, state = json_body(request), services()
    check_events(body, state.journey)
    answer, status = state.ingestor.ingest(body)
    metrics.ingested(answer)
    if status == 422:
        batch = isinstance(body, dict) and "events" in body
        errors = (
            {f"events.{r['index']}": r["errors"] for r in answer["rejected"]}
            if batch
            else answer["rejected"][0]["errors"]
        )
        raise ValidationFailed("no event was valid: see errors per field", errors)
    return answer

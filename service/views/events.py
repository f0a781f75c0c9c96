"""POST /v1/events: one touchpoint or a batch."""

from flask import request
from flask_smorest import Blueprint

from service.schemas import EventBatchSchema, IngestResultSchema
from service.views import services
from service.views.body import json_body

blp = Blueprint("events", __name__, url_prefix="/v1", description="Touchpoints in")


@blp.route("/events", methods=["POST"])
@blp.doc(
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": EventBatchSchema}},
        "description": 'One event object, or {"events": [...]} with up to 1,000. Each is validated on its own.',
    }
)
@blp.response(200, IngestResultSchema, description="Per-event result; bad events listed by index")
@blp.alt_response(422, description="No event was valid")
def post_events():
    answer, status = services().ingestor.ingest(json_body(request))
    return IngestResultSchema().dump(answer), status

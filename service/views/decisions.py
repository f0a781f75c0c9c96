"""POST /v1/decisions: a personalized experience for a visitor and placement."""

from flask import g

from service import metrics
from service.public_rules import check_decision
from service.schemas import DecisionRequestSchema, DecisionSchema
from service.views import services
from service.views.body import Blueprint

blp = Blueprint("decisions", __name__, url_prefix="/v1", description="Personalized decisions")


@blp.route("/decisions", methods=["POST"])
@blp.scope("public")
@blp.arguments(DecisionRequestSchema)
@blp.response(200, DecisionSchema)
@blp.alt_response(404, response="NOT_FOUND", description="Unknown placement")
@blp.refuses(400, 409, 413, 422, 503)
def post_decision(decision_request: dict):
    check_decision(decision_request)
    decision = services().engine.decide(decision_request, rate_check=g.get("rate_check"))
    metrics.decided(decision)
    return decision

"""POST /v1/decisions: a personalized experience for a visitor and placement."""

from flask_smorest import Blueprint

from service.schemas import DecisionRequestSchema, DecisionSchema
from service.views import services

blp = Blueprint("decisions", __name__, url_prefix="/v1", description="Personalized decisions")


@blp.route("/decisions", methods=["POST"])
@blp.arguments(DecisionRequestSchema)
@blp.response(200, DecisionSchema)
@blp.alt_response(404, description="Unknown placement")
def post_decision(decision_request: dict):
    return services().engine.decide(decision_request)

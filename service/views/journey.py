"""GET /v1/journey: the journey map in force."""

from service.schemas import JourneySchema
from service.views import services
from service.views.body import Blueprint

blp = Blueprint("journey", __name__, url_prefix="/v1", description="The journey map")


@blp.route("/journey", methods=["GET"])
@blp.scope("public")
@blp.response(200, JourneySchema)
def get_journey():
    return services().journey.to_dict()

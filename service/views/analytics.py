"""GET /v1/analytics/journeys: the journey customers actually take, beside the designed map.

It reads the event log's day files in the asked window on each request (seconds per
million events): an analytics call, not one for a page's hot path.
"""

from marshmallow import RAISE

from reports.analytics import analyze_log
from service.rate_limits import EXPENSIVE_COST
from service.schemas import JourneyAnalyticsQuerySchema, JourneyAnalyticsSchema
from service.views import services
from service.views.body import Blueprint

blp = Blueprint("analytics", __name__, url_prefix="/v1", description="Journey analytics from the event log")


@blp.route("/analytics/journeys", methods=["GET"])
@blp.scope("admin", cost=EXPENSIVE_COST)
@blp.arguments(JourneyAnalyticsQuerySchema, location="query", unknown=RAISE)  # a misspelt filter is an error
@blp.response(200, JourneyAnalyticsSchema)
def get_journey_analytics(query: dict):
    state = services()
    return analyze_log(state.settings.data_dir / "events", state.journey, **query)

"""GET /healthz (the process is up) and GET /readyz (store reachable, model loaded)."""

from flask_smorest import Blueprint

from service.schemas import HealthSchema
from service.views import services

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/healthz", methods=["GET"])
@blp.response(200, HealthSchema)
def healthz():
    return {"status": "ok", "checks": {}}


@blp.route("/readyz", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="Store unreachable or no model loaded")
def readyz():
    state = services()
    bundle = state.models.get()
    checks = {
        "store": state.store.ping(),
        "model": bundle.version if bundle else None,
        "model_error": state.models.last_error,
        "spooled_events": state.ingestor.spool.pending(),
    }
    ready = checks["store"] and bundle is not None
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503

"""GET /healthz (the process is up) and GET /readyz (can this instance answer; docs/operations.md)."""

import os

from service.readiness import readiness
from service.schemas import HealthSchema
from service.views import services
from service.views.body import Blueprint

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/healthz", methods=["GET"])
@blp.scope("open")
@blp.response(200, HealthSchema)
def healthz():
    return {"status": "ok", "checks": {"worker": os.getpid()}}  # which worker answered: one per connection


@blp.route("/readyz", methods=["GET"])
@blp.scope("open")
@blp.response(200, HealthSchema, description="ready, or degraded: serving from its fallbacks")
@blp.alt_response(503, schema=HealthSchema, description="not ready: nothing useful can be answered")
def readyz():
    answer = readiness(services())
    return answer, 200 if answer["status"] != "not ready" else 503

"""GET /v1/visitors/<id> and PUT /v1/visitors/<id>/profile."""

import time

from flask_smorest import Blueprint

from service.schemas import ProfileSchema, VisitorSchema
from service.views import services
from service.visitors import visitor_view

blp = Blueprint("visitors", __name__, url_prefix="/v1", description="What Wayfinder knows of a visitor")


@blp.route("/visitors/<string:visitor_id>", methods=["GET"])
@blp.response(200, VisitorSchema)
def get_visitor(visitor_id: str):
    state = services()
    return visitor_view(state.store.read(visitor_id), state.journey, time.time())


@blp.route("/visitors/<string:visitor_id>/profile", methods=["PUT"])
@blp.arguments(ProfileSchema)
@blp.response(200, ProfileSchema)
def put_profile(profile: dict, visitor_id: str):
    services().store.put_profile(visitor_id, profile)
    return profile

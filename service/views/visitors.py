"""GET /v1/visitors/<id> and PUT /v1/visitors/<id>/profile."""

import time

from service.schemas import ProfileSchema, StoredProfileSchema, VisitorSchema
from service.views import services
from service.views.body import Blueprint
from service.visitors import replace_profile, visitor_view

blp = Blueprint("visitors", __name__, url_prefix="/v1", description="What Wayfinder knows of a visitor")


@blp.route("/visitors/<visitor_id:visitor_id>", methods=["GET"])
@blp.scope("server")
@blp.response(200, VisitorSchema)
def get_visitor(visitor_id: str):
    state = services()
    return visitor_view(state.store.read(visitor_id), state.journey, time.time())


@blp.route("/visitors/<visitor_id:visitor_id>/profile", methods=["PUT"])
@blp.scope("server")
@blp.arguments(ProfileSchema)
@blp.refuses(400, 413, 503)
@blp.response(200, StoredProfileSchema, description="the profile now stored")
def put_profile(profile: dict, visitor_id: str):
    state = services()
    return replace_profile(state.store, visitor_id, profile, state.settings.max_profile_bytes)

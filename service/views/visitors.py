"""GET /v1/visitors/<id>, PUT /v1/visitors/<id>/profile, DELETE /v1/visitors/<id> and GET .../export."""

import time

from flask import g

from service.rate_limits import EXPENSIVE_COST
from service.schemas import ErasureSchema, ExportSchema, ProfileSchema, StoredProfileSchema, VisitorSchema
from service.views import services
from service.views.body import Blueprint
from service.visitors import replace_profile, visitor_view

blp = Blueprint("visitors", __name__, url_prefix="/v1", description="What Wayfinder knows of a visitor")


@blp.route("/visitors/<visitor_id:visitor_id>", methods=["GET"])
@blp.scope("server")
@blp.response(200, VisitorSchema)
def get_visitor(visitor_id: str):
    """A visitor's context, profile and channels; a device linked to a person answers for the person (`person`),
    with every device linked to them (`devices`)."""
    state = services()
    return visitor_view(state.store.read(visitor_id), state.journey, time.time(), asked=visitor_id)


@blp.route("/visitors/<visitor_id:visitor_id>", methods=["DELETE"])
@blp.scope("admin")
@blp.refuses(503)
@blp.response(200, ErasureSchema, description="the id and every id linked to it are erased (docs/privacy.md)")
def erase_visitor(visitor_id: str):
    """Erase a person: a visitor or user id, with every id linked to it. Their Redis state goes at once; their
    log lines at compaction. Erasing again, or an unknown id, is fine."""
    return services().eraser.erase(visitor_id, by=g.api_key.id)


@blp.route("/visitors/<visitor_id:visitor_id>/export", methods=["GET"])
@blp.scope("admin", cost=EXPENSIVE_COST)
@blp.response(200, ExportSchema, description="everything stored about the person, bounded (docs/privacy.md)")
def export_visitor(visitor_id: str):
    """Everything stored about a person, for a subject-access request: Redis state and journal lines."""
    return services().eraser.export(visitor_id)


@blp.route("/visitors/<visitor_id:visitor_id>/profile", methods=["PUT"])
@blp.scope("server")
@blp.arguments(ProfileSchema)
@blp.refuses(400, 409, 413, 503)
@blp.response(200, StoredProfileSchema, description="the profile now stored")
def put_profile(profile: dict, visitor_id: str):
    state = services()
    return replace_profile(state.store, visitor_id, profile, state.settings.max_profile_bytes)

"""API keys (admin): list, create, rotate, revoke; and the audit record of admin changes."""

from flask import g

from models.api_keys import KeyConflict
from service.key_schemas import AuditEntrySchema, AuditQuerySchema, KeyRequestSchema, KeySchema, NewKeySchema
from service.views import services
from service.views.body import Blueprint

blp = Blueprint("keys", __name__, url_prefix="/v1", description="API keys and the audit record (admin)")


@blp.route("/keys", methods=["GET"])
@blp.scope("admin")
@blp.response(200, KeySchema(many=True))
def list_keys():
    return [key.describe() for key in services().keys.keys()]


@blp.route("/keys", methods=["POST"])
@blp.scope("admin")
@blp.arguments(KeyRequestSchema)
@blp.refuses(400, 409, 413, 422)
@blp.response(201, NewKeySchema, description="the new key; its token is shown this once")
def create_key(request: dict):
    key, token = services().keys.create(**request)
    return {**key.describe(), "token": token}


@blp.route("/keys/<name:key_id>/rotate", methods=["POST"])
@blp.scope("admin")
@blp.refuses(404, 409)
@blp.response(200, NewKeySchema, description="the new key (the old one is revoked); its token is shown this once")
def rotate_key(key_id: str):
    keys = services().keys
    _not_from_environment(keys, key_id)
    key, token = keys.rotate(key_id)
    return {**key.describe(), "token": token}


@blp.route("/keys/<name:key_id>", methods=["DELETE"])
@blp.scope("admin")
@blp.refuses(404, 409)
@blp.response(200, KeySchema, description="the revoked key")
def revoke_key(key_id: str):
    keys = services().keys
    _not_from_environment(keys, key_id)
    if g.api_key.id == key_id:
        raise KeyConflict("a key cannot revoke itself: use another admin key", {"key_id": ["the calling key"]})
    return keys.revoke(key_id).describe()


@blp.route("/audit", methods=["GET"])
@blp.scope("admin")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditEntrySchema(many=True))
def get_audit(query: dict):
    return services().audit.log.read(**query)


def _not_from_environment(keys, key_id: str) -> None:
    if any(key.id == key_id and key.source == "env" for key in keys.keys()):
        raise KeyConflict(
            f"key {key_id!r} comes from the environment (WAYFINDER_ADMIN_KEY or WAYFINDER_PUBLIC_KEY): change it there",
            {"key_id": ["set by the environment"]},
        )

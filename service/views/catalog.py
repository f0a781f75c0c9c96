"""GET/PUT/DELETE /v1/catalog/items/<id> and /v1/placements/<id>: content changes without a deploy.

Views return the Item and Placement objects: the response schema dumps them once.
"""

from flask import request

from models.catalog import (
    ItemBodySchema,
    ItemSchema,
    PlacementBodySchema,
    PlacementSchema,
    checked_item,
    checked_placement,
)
from models.errors import NotFound
from service.views import services
from service.views.body import Blueprint, json_body

blp = Blueprint("catalog", __name__, url_prefix="/v1", description="What can be shown, and where")


@blp.route("/catalog/items", methods=["GET"])
@blp.scope("server")
@blp.response(200, ItemSchema(many=True))
def list_items():
    return list(services().catalogs.latest().items.values())


@blp.route("/catalog/items/<name:item_id>", methods=["GET"])
@blp.scope("server")
@blp.refuses(404)
@blp.response(200, ItemSchema)
def get_item(item_id: str):
    item = services().catalogs.latest().items.get(item_id)
    if item is None:
        raise NotFound(f"no item {item_id!r}")
    return item


@blp.route("/catalog/items/<name:item_id>", methods=["PUT"])
@blp.scope("admin")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": ItemBodySchema}}})
@blp.refuses(400, 413, 422, 503)
@blp.response(200, ItemSchema)
def put_item(item_id: str):
    state = services()
    item = checked_item(_with_id(json_body(request), item_id), state.journey)
    return state.catalogs.put_item(item.to_dict())


@blp.route("/catalog/items/<name:item_id>", methods=["DELETE"])
@blp.scope("admin")
@blp.refuses(404, 409, 503)
@blp.response(204)
def delete_item(item_id: str):
    services().catalogs.delete_item(item_id)


@blp.route("/placements", methods=["GET"])
@blp.scope("server")
@blp.response(200, PlacementSchema(many=True))
def list_placements():
    return list(services().catalogs.latest().placements.values())


@blp.route("/placements/<name:placement_id>", methods=["GET"])
@blp.scope("server")
@blp.refuses(404)
@blp.response(200, PlacementSchema)
def get_placement(placement_id: str):
    placement = services().catalogs.latest().placements.get(placement_id)
    if placement is None:
        raise NotFound(f"no placement {placement_id!r}")
    return placement


@blp.route("/placements/<name:placement_id>", methods=["PUT"])
@blp.scope("admin")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": PlacementBodySchema}}})
@blp.refuses(400, 413, 422, 503)
@blp.response(200, PlacementSchema)
def put_placement(placement_id: str):
    state = services()
    placement = checked_placement(_with_id(json_body(request), placement_id), state.journey)
    return state.catalogs.put_placement(placement.to_dict())


@blp.route("/placements/<name:placement_id>", methods=["DELETE"])
@blp.scope("admin")
@blp.refuses(404, 503)
@blp.response(204)
def delete_placement(placement_id: str):
    services().catalogs.delete_placement(placement_id)


def _with_id(body: object, path_id: str) -> object:
    """The path names the id; a body that names another one is refused by the schema's check."""
    if isinstance(body, dict):
        if body.get("id", path_id) != path_id:
            return {**body, "id": None}
        return {**body, "id": path_id}
    return body

"""Reading a JSON request body with the API's errors (400 malformed, 413 too large)."""

from flask import Request

from models.errors import WayfinderError


def json_body(request: Request) -> object:
    if not request.is_json:
        raise WayfinderError("send a JSON body with Content-Type: application/json", {"json": ["not JSON"]}, 400)
    body = request.get_json(silent=True)
    if body is None:
        raise WayfinderError("malformed JSON body", {"json": ["Invalid JSON body."]}, 400)
    return body

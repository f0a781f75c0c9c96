"""Swagger UI's files for /docs, served from the swagger-ui-bundle package: /docs works offline."""

from flask import Blueprint, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

blp = Blueprint("docs-assets", __name__)

ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png"})
"""What the /docs page loads; nothing else of the package is served."""
URL = "/docs/assets/"


@blp.route(URL + "<name>", methods=["GET"])
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(str(swagger_ui_path), name, max_age=86_400)

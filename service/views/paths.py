"""Ids in URL paths, bounded like the ids in bodies: a path id that breaks its pattern matches no route (404).

The patterns reach the OpenAPI document's path parameters, so clients and fuzzers know them.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from werkzeug.routing import BaseConverter

from models.text import NAME_PATTERN

PATH_IDS = (
    "a visitor id in a path is 1-128 characters without control characters; "
    "an item or placement id 1-64 of A-Z a-z 0-9 _ . : -"
)


class VisitorIdConverter(BaseConverter):
    """`<visitor_id:...>`: 1-128 characters, none a control character (or a slash)."""

    regex = r"[^/\x00-\x1f\x7f]{1,128}"
    schema = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[^/\x00-\x1f\x7f]{1,128}$"}


class NameConverter(BaseConverter):
    """`<name:...>`: an item or placement id, 1-64 of A-Z a-z 0-9 _ . : -."""

    regex = NAME_PATTERN.pattern[1:-1]
    schema = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN.pattern}


def register_path_converters(app: Flask, api: Api) -> None:
    """Before the blueprints: their routes name these converters."""
    for key, converter in (("visitor_id", VisitorIdConverter), ("name", NameConverter)):
        app.url_map.converters[key] = converter
        api.register_converter(converter, lambda c: dict(c.schema))

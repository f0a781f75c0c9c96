"""JSON-typed fields: a number must be a JSON number and a boolean a JSON boolean, as the OpenAPI doc says.

marshmallow's own fields coerce ("1.5" to 1.5, 1 to True), so clients sending the wrong type went
unnoticed and fuzzers rightly flagged the API for accepting what its document forbids.
"""

from __future__ import annotations

from marshmallow import fields


class StrictFloat(fields.Float):
    """A finite JSON number (an integer is fine); not a string, not a boolean."""

    default_error_messages = {"invalid": "Not a valid number.", "too_large": "Number too large."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except OverflowError as exc:  # an integer literal beyond a float
            raise self.make_error("too_large") from exc


class StrictInteger(fields.Integer):
    """A JSON integer; not 1.0, not "1", not true."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false; not 1, not "yes"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value

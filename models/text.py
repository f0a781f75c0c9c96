"""The shapes of short strings every schema shares: ids, names and labels without control characters."""

from __future__ import annotations

import re

from marshmallow import validate

NO_CONTROL = r"[^\x00-\x1f\x7f]"
ID_PATTERN = re.compile(rf"^{NO_CONTROL}{{1,128}}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
"""Names the configuration declares (event types, item and placement ids): no spaces, no punctuation."""


def short_text(max_length: int, min_length: int = 1) -> list:
    """min..max characters, none of them a control character; maxLength and pattern reach the OpenAPI doc.

    Two validators, one reason each: a too-long id gets the length message only.
    """
    return [
        validate.Length(min_length, max_length),
        validate.Regexp(rf"^{NO_CONTROL}*$", error="must have no control characters (U+0000-U+001F, U+007F)"),
    ]


def ident(max_length: int = 128) -> list:
    """An id: 1..max characters, no control characters."""
    return short_text(max_length)


def name() -> list:
    """A configured name (event type, item or placement id): 1-64 of A-Z a-z 0-9 _ . : -."""
    return [validate.Length(1, 64), validate.Regexp(NAME_PATTERN, error="must be 1-64 of A-Z a-z 0-9 _ . : -")]

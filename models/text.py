"""The shapes of short strings every schema shares: ids, names and labels without control characters."""

from __future__ import annotations

import re

from marshmallow import validate

NO_CONTROL = r"[^\x00-\x1f\x7f]"
ID_PATTERN = re.compile(rf"^{NO_CONTROL}{{1,128}}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
"""Names the configuration declares (event types, item and placement ids): no spaces, no punctuation."""


def short_text(max_length: int, min_length: int = 1) -> validate.Regexp:
    """min..max characters, none of them a control character (so the pattern reaches the OpenAPI doc)."""
    return validate.Regexp(
        rf"^{NO_CONTROL}{{{min_length},{max_length}}}$",
        error=f"must be {min_length}-{max_length} characters with no control characters",
    )


def ident(max_length: int = 128) -> list:
    """An id: 1..max characters, no control characters; maxLength and pattern in the OpenAPI doc."""
    return [validate.Length(1, max_length), short_text(max_length)]


def name() -> list:
    """A configured name (event type, item or placement id): 1-64 of A-Z a-z 0-9 _ . : -."""
    return [validate.Length(1, 64), validate.Regexp(NAME_PATTERN, error="must be 1-64 of A-Z a-z 0-9 _ . : -")]

"""The body reader's two parsers agree: orjson's fast reading and the standard library's (which gives reasons)."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from flask import Flask

from service.json_provider import OrjsonProvider
from service.views.body import BadBody, _parse_with_reasons, parse_json

BODIES = [
    b'{"visitor_id":"v1","type":"page_view"}',
    b'{"events":[{"visitor_id":"v1","value":1.5},{"visitor_id":"v2","value":-0.0}]}',
    b'{"a":1,"a":2}',  # the last of repeated keys, in both
    b'{"a":"\\ud83d\\ude00 caf\xc3\xa9"}',  # a surrogate pair and UTF-8 text
    b'{"a":123456789012345678}',
    b'{"a":1234567890123456789012}',  # beyond 64 bits: an integer, as the standard library reads it
    b'{"a":-12345678901234567890.5}',
    b'{"a":1e-400,"b":1E5}',
    b' {"a":[]} ',
    b'{"a":"\\u0000"}',
    b'"just a string"',
    b"[" * 32 + b"]" * 32,
    # refused, each with the standard library's reason
    b'{"a":"c\\ud800"}',
    b'{"a":"\\udc00\\ud800"}',
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'{"a":1e400}',
    b'{"a":-1e400}',
    b"\xff{}",
    b"\xef\xbb\xbf{}",
    b'{"a":1}{',
    b'{"a":[1,]}',
    b'{"a":01}',
    b"[" * 33 + b"]" * 33,
    b"[" * 2000 + b"]" * 2000,
    b"",
]


def outcome(parse, data: bytes):
    try:
        return "ok", parse(data, 32)
    except BadBody as error:
        return "refused", error.message, error.errors


@pytest.mark.parametrize("data", BODIES, ids=[repr(b[:24]) for b in BODIES])
def test_fast_and_reasoned_parsers_agree(data):
    fast, reasoned = outcome(parse_json, data), outcome(_parse_with_reasons, data)
    assert fast == reasoned
    if fast[0] == "ok":  # the same types too: an integer stays an integer
        assert json.dumps(fast[1]) == json.dumps(reasoned[1])


def test_parsers_agree_on_random_bodies():
    """Seeded random documents of every JSON type, some mangled: same result, same reason."""
    rng = random.Random(15)
    atoms = ["null", "true", "false", "0", "-1", "3.25", "1e308", "1e309", "99999999999999999999", '"x"', '"\\ud800"']
    atoms += ['"\\u00e9"', '"\\n"', "NaN", '"a\\"b"']

    def value(depth: int) -> str:
        kind = rng.random()
        if depth > 4 or kind < 0.5:
            return rng.choice(atoms)
        if kind < 0.75:
            return "[" + ",".join(value(depth + 1) for _ in range(rng.randint(0, 3))) + "]"
        return "{" + ",".join(f'"k{rng.randint(0, 3)}":{value(depth + 1)}' for _ in range(rng.randint(0, 3))) + "}"

    refused = 0
    for _ in range(2000):
        text = value(0)
        if rng.random() < 0.1:  # mangle: cut it, or add a stray byte
            text = text[: rng.randint(0, len(text))] + rng.choice(["", ",", "}", "\x01"])
        data = text.encode("utf-8", "surrogatepass")
        fast, reasoned = outcome(parse_json, data), outcome(_parse_with_reasons, data)
        assert fast == reasoned, data
        refused += fast[0] == "refused"
    assert 100 < refused < 1900  # both kinds were tried


def test_answers_are_the_documents_flask_wrote():
    app = Flask(__name__)
    provider = OrjsonProvider(app)
    document = {
        "b": [1, 2.5, None, "é"],
        "a": {"z": True, "y": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)},
        "3": "x",
    }
    with app.app_context():
        ours = provider.response(document).get_data()
        flask_default = app.json.response(document).get_data()  # Flask's own provider
    assert json.loads(ours) == json.loads(flask_default)
    assert json.loads(ours)["a"]["y"] == "Fri, 02 Jan 2026 03:04:05 GMT"  # Flask's HTTP date, not ISO
    assert ours.index(b'"3"') < ours.index(b'"a"') < ours.index(b'"b"')  # sorted keys, as Flask sorts them
    assert ours.endswith(b"}\n")
    assert provider.response({"x": float("nan")}).get_data() == b'{"x":null}\n'
    assert provider.dumps({2: "b"}) == '{"2":"b"}'  # a number as a key is written as a string, as json.dumps does

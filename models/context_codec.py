"""The stored form of a visitor context: a compact, lossless encoding (docs/state.md, "The context's stored form").

Layout of format 2 (the first byte; a context stored as JSON, format 1, starts with `{`):

    byte 0      FORMAT (2)
    then        raw deflate, with the preset dictionary VOCABULARY, of a JSON array: the fields of
                BODY_FIELDS in order, then `recent` as columns (event ids, or null when packed below; types,
                stages, channels, item ids), then the times column (TIME_FIELDS and the ts of `recent`)
    the rest    the event ids of `recent`, newest first, 16 raw bytes each, when every one is 32 lowercase
                hex digits (the server's uuid4().hex); else nothing, and the ids are in the JSON

Times (the context's and those of `recent`) that are whole microseconds (what `datetime.timestamp()` gives) are
stored as microseconds, the first whole and each next one as the step back from the one before; any other
column is stored as it is. Decoding gives back exactly the dict that was encoded (floats included),
so training, which reads logged contexts, sees what serving saw.
"""

from __future__ import annotations

import zlib

import orjson

FORMAT = 2
BODY_FIELDS = (
    "visitor_id",
    "user_id",
    "stage",
    "max_stage",
    "n_events",
    "value_total",
    "stage_counts",
    "channel_counts",
    "response_counts",
    "type_counts",
    "last_item_by_type",
    "converted_items",
)
"""The context's fields in the body's order, but `v`, the times (TIME_FIELDS) and `recent`. Frozen for FORMAT 2:
a new field of the context needs a new format (and this one still decoded)."""
VOCABULARY = (
    b'"other","email","store","call_center","social","ads","push","sms","app","click","dismiss","ad_click",'
    b'"newsletter_open","compare_models","configure_product","brochure_download","add_to_cart","book_test_drive",'
    b'"apply_financing","dealer_visit","purchase","service_booking","repeat_purchase","referral","intent",'
    b'"conversion","loyalty",["web","web","web","web"],null,null,0.0,{},{},{},{},[],null,'
    b'{"awareness":1,"consideration":1},{"web":1},{"page_view":1,"product_view":1},{"page_view":"","product_view":""},[],'
    b'null,["product_view","page_view","product_view","page_view"],'
    b'["consideration","awareness","consideration","awareness"],["web","web","web","web"],["'
)
"""Deflate's preset dictionary for FORMAT 2: the demo journey map's names and the body's common shapes, so a
small context does not pay for spelling them out. Frozen: changing a byte changes what every stored context
decodes to (tests/models/test_context_codec.py keeps a stored context to catch that)."""
TIME_FIELDS = ("last_ts", "stage_since", "first_ts")
"""The context's times, stored with those of `recent` (between stage_since and first_ts), in the times column."""
_MICROS = 1_000_000
_ID_BYTES = 16
_HEADER = bytes((FORMAT,))


def encode(ctx: dict) -> bytes:
    """The stored bytes of a context (its fields as `models.context.new_context` makes them)."""
    recent = ctx["recent"]
    ids = [touch["event_id"] for touch in recent]
    packed = _packed_ids(ids)
    body = [ctx[name] for name in BODY_FIELDS]
    body += [
        None if packed else ids,
        [touch["type"] for touch in recent],
        [touch["stage"] for touch in recent],
        [touch["channel"] for touch in recent],
        [touch["item_id"] for touch in recent],
        _times([ctx["last_ts"], ctx["stage_since"], *(touch["ts"] for touch in recent), ctx["first_ts"]]),
    ]
    deflate = zlib.compressobj(6, zlib.DEFLATED, -12, 4, zdict=VOCABULARY)
    text = orjson.dumps(body)
    return _HEADER + deflate.compress(text) + deflate.flush() + packed


def decode(data: bytes) -> dict:
    """The fields a FORMAT 2 record holds (every field but `v`), in BODY_FIELDS order, then `recent`."""
    if data[:1] != _HEADER:
        raise ValueError(f"not a stored context of format {FORMAT}: it starts with {data[:1]!r}")
    inflate = zlib.decompressobj(-15, zdict=VOCABULARY)
    body = orjson.loads(inflate.decompress(data[1:]))
    ids, types, stages, channels, items, times = body[len(BODY_FIELDS) :]
    if ids is None:
        packed = inflate.unused_data
        ids = [packed[at : at + _ID_BYTES].hex() for at in range(0, len(packed), _ID_BYTES)]
    fields = dict(zip(BODY_FIELDS, body))
    last_ts, stage_since, *stamps, first_ts = _untimes(times)
    fields.update(last_ts=last_ts, stage_since=stage_since, first_ts=first_ts)
    fields["recent"] = [
        {"event_id": i, "type": t, "ts": ts, "stage": s, "channel": c, "item_id": item}
        for i, t, ts, s, c, item in zip(ids, types, stamps, stages, channels, items)
    ]
    return fields


def _packed_ids(ids: list[str]) -> bytes:
    """The ids as 16 raw bytes each, when all are 32 lowercase hex digits; else b'' (kept in the body)."""
    if not ids or any(type(i) is not str or len(i) != 2 * _ID_BYTES for i in ids):
        return b""
    joined = "".join(ids)
    try:
        raw = bytes.fromhex(joined)
    except ValueError:
        return b""
    return raw if raw.hex() == joined else b""


def _times(stamps: list) -> list:
    """Each time in microseconds, the first given whole, each next as the step back from the one before it (None
    stays None), when every time is None or a float of whole microseconds; else {"r": stamps}, as they are."""
    codes: list = []
    previous = None
    for ts in stamps:
        if ts is None:
            codes.append(None)
            continue
        if type(ts) is not float:
            return {"r": stamps}
        micros = round(ts * _MICROS)
        if micros / _MICROS != ts:
            return {"r": stamps}
        codes.append(micros if previous is None else previous - micros)
        previous = micros
    return codes


def _untimes(times: list) -> list:
    if isinstance(times, dict):
        return times["r"]
    out: list = []
    previous = None
    for code in times:
        if code is None:
            out.append(None)
            continue
        previous = code if previous is None else previous - code
        out.append(previous / _MICROS)
    return out

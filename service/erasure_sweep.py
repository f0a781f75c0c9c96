"""The safety net of erasure in Redis: delete the context of any erased id still there, by a scan.

DELETE /v1/visitors/<id> deletes the person's keys at once. Two cases can leave one behind: an event
checked a moment before the erasure and written just after it, and an erasure whose Redis step failed
(503) and was not retried. Each context holds its visitor and user ids (`data`), and each device link its
person's (service.identity_store), so a scan of the tenant's context and link keys finds them; the keys go
by their tag (models.keys.tag_keys). It reads every
context once (SCAN, pipelined HMGET per batch), so it runs with the compaction, not per request.
"""

from __future__ import annotations

import itertools

import redis

from journal.erasures import Erasures
from models import keys
from models.context import from_json

BATCH = 500


def sweep_erased(client: redis.Redis, tenant: str, erasures: Erasures) -> int:
    """Delete the keys of every context of an erased id; how many keys existed."""
    if not erasures.erased_keys():
        return 0
    return _sweep(client, tenant, keys.context_key_pattern(tenant), _context_erased, erasures) + _sweep(
        client, tenant, keys.link_key_pattern(tenant), _link_erased, erasures
    )


def _sweep(client: redis.Redis, tenant: str, pattern: str, erased, erasures: Erasures) -> int:
    """Delete the tag keys of every key matching `pattern` whose hash `erased` finds naming an erased id."""
    deleted = 0
    found = (k.decode() for k in client.scan_iter(match=pattern, count=1000))
    while batch := list(itertools.islice(found, BATCH)):
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.hgetall(key)
        gone = [key for key, fields in zip(batch, pipe.execute()) if erased(fields, erasures)]
        if gone:
            pipe = client.pipeline(transaction=False)
            for key in gone:
                pipe.delete(*keys.tag_keys(tenant, keys.tag_of(key)))
            deleted += sum(pipe.execute())
    return deleted


def _context_erased(fields: dict, erasures: Erasures) -> bool:
    data = fields.get(b"data")
    context = from_json(data, "") if data else {}
    return any(erasures.is_erased(context.get(field)) for field in ("visitor_id", "user_id"))


def _link_erased(fields: dict, erasures: Erasures) -> bool:
    """A device's link (service.identity_store) names its person and its first person."""
    return any(erasures.is_erased(fields.get(field, b"").decode() or None) for field in (b"person", b"first"))

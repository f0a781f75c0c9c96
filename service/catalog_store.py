"""The catalog and placements marketers edit at run time: in Redis, cached per worker by version."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time

import redis
from marshmallow import ValidationError

from models import keys
from models.catalog import Catalog, Item, Placement
from models.errors import NotFound, StoreUnavailable, ValidationFailed, WayfinderError
from service.catalog_log import CatalogLog

log = logging.getLogger(__name__)
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)

# Apply one edit only to a seeded catalog: after an empty restart, writing one field (and creating
# the version key) would leave every worker loading a catalog of that one entry.
APPLY_EDIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[2], ARGV[2]) else redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
redis.call('INCR', KEYS[3])
return 1
"""


class InUse(WayfinderError):
    status_code = 409
    code = "in_use"


class CatalogStore:
    """Items and placements as JSON in two Redis hashes; a version counter tells every worker when
    to reload. `current()` never touches Redis: the decision read pipeline fetches the version
    (`version_key`) and calls `sync(version)`; admin reads call `latest()` (one GET), so they see
    the last write whichever worker made it.

    Redis is a copy: every edit is first recorded durably in the CatalogLog, and whenever the
    seeded marker is missing (Redis restarted empty) or the YAML changed, Redis is rebuilt from
    the log (YAML seeds and API edits in order) before anything else is read or written.
    """

    def __init__(self, client: redis.Redis, tenant: str, seed: Catalog, edits: CatalogLog):
        self.client = client
        self.tenant = tenant
        self.edits = edits
        self.version_key = keys.catalog_version_key(tenant)
        self.seeded_key = keys.catalog_seeded_key(tenant)
        self.seed = seed
        self.fingerprint = _fingerprint(seed)
        self.reseeds = 0
        self._catalog = seed
        self._version: int | None = None
        self._lock = threading.Lock()
        self._apply_edit = client.register_script(APPLY_EDIT)
        try:
            self.ensure_seeded()
            self.reload()
        except REDIS_DOWN as exc:
            log.warning("catalog store unreachable, serving the YAML catalog: %s", exc)

    def current(self) -> Catalog:
        return self._catalog

    def sync(self, version: int | None) -> Catalog:
        """Reload when the version read alongside the visitor's context differs from ours;
        a missing version means Redis lost the catalog: rebuild it from the log first."""
        if version is None:
            try:
                self.ensure_seeded()
            except REDIS_DOWN as exc:
                log.warning("catalog re-seed failed, keeping version %s: %s", self._version, exc)
                return self._catalog
            return self.refresh()
        if version != self._version:
            return self.refresh()
        return self._catalog

    def latest(self) -> Catalog:
        """The catalog as of the last write by any worker (one GET); ours while Redis is down."""
        try:
            raw = self.client.get(self.version_key)
        except REDIS_DOWN as exc:
            log.warning("catalog version unreadable, answering from version %s: %s", self._version, exc)
            return self._catalog
        return self.sync(int(raw) if raw is not None else None)

    def reload(self) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self.version_key)
        pipe.hgetall(keys.catalog_items_key(self.tenant))
        pipe.hgetall(keys.catalog_placements_key(self.tenant))
        version, raw_items, raw_placements = pipe.execute()
        items = {k.decode(): Item.from_dict(json.loads(v)) for k, v in raw_items.items()}
        placements = {k.decode(): Placement.from_dict(json.loads(v)) for k, v in raw_placements.items()}
        with self._lock:
            self._catalog = Catalog(items=items, placements=placements)
            self._version = int(version or 0)

    def put_item(self, raw: dict) -> Item:
        item = _validated(Item.from_dict, raw)
        self._edit({"op": "put_item", "id": item.id, "value": item.to_dict()})
        return item

    def delete_item(self, item_id: str) -> None:
        self.reload_or_raise()
        if item_id not in self._catalog.items:
            raise NotFound(f"no item {item_id!r}")
        users = [p.id for p in self._catalog.placements.values() if item_id in p.default_items]
        if users:
            raise InUse(f"item {item_id!r} is a default item of placements {users}: change those first")
        self._edit({"op": "delete_item", "id": item_id})

    def put_placement(self, raw: dict) -> Placement:
        placement = _validated(Placement.from_dict, raw)
        self.reload_or_raise()
        missing = [i for i in placement.default_items if i not in self._catalog.items]
        if missing:
            raise ValidationFailed(
                f"default_items not in catalog: {missing}", {"default_items": [f"unknown {missing}"]}
            )
        self._edit({"op": "put_placement", "id": placement.id, "value": placement.to_dict()})
        return placement

    def delete_placement(self, placement_id: str) -> None:
        self.reload_or_raise()
        if placement_id not in self._catalog.placements:
            raise NotFound(f"no placement {placement_id!r}")
        self._edit({"op": "delete_placement", "id": placement_id})

    def refresh(self) -> Catalog:
        """Reload now if Redis answers; otherwise keep what we have."""
        try:
            self.reload()
        except REDIS_DOWN as exc:
            log.warning("catalog reload failed, keeping version %s: %s", self._version, exc)
        return self._catalog

    def reload_or_raise(self) -> None:
        try:
            self.ensure_seeded()
            self.reload()
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"catalog store unreachable: {exc}") from exc

    def ensure_seeded(self) -> bool:
        """Rebuild Redis's catalog from the log when the seeded marker is missing or names another
        YAML (Redis restarted empty, or the YAML files changed); True when it did."""
        if self.client.get(self.seeded_key) == self.fingerprint.encode():
            return False
        with self.edits.locked():
            if self.client.get(self.seeded_key) == self.fingerprint.encode():
                return False  # another worker rebuilt it while we waited
            if not self.edits.exists():
                self._adopt_redis_catalog()
            items, placements, fingerprint = self.edits.replay()
            if fingerprint != self.fingerprint:
                seed = _seed_record(self.seed, self.fingerprint)
                self.edits.append(seed)
                items.update(seed["items"])
                placements.update(seed["placements"])
            self._write_all(items, placements)
            self.edits.compact(items, placements, self.fingerprint)
        self.reseeds += 1
        log.warning(
            "seeded the catalog in Redis from %s: %d items, %d placements", self.edits.path, len(items), len(placements)
        )
        return True

    def _adopt_redis_catalog(self) -> None:
        """First start with a log: record what Redis already holds (edits made before the log existed)."""
        items = {k.decode(): json.loads(v) for k, v in self.client.hgetall(keys.catalog_items_key(self.tenant)).items()}
        placements = {
            k.decode(): json.loads(v) for k, v in self.client.hgetall(keys.catalog_placements_key(self.tenant)).items()
        }
        if items or placements:
            self.edits.append({"op": "snapshot", "items": items, "placements": placements, "fingerprint": None})

    def _write_all(self, items: dict[str, dict], placements: dict[str, dict]) -> None:
        items_key, placements_key = keys.catalog_items_key(self.tenant), keys.catalog_placements_key(self.tenant)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(items_key, placements_key)
        if items:
            pipe.hset(items_key, mapping={k: json.dumps(v) for k, v in items.items()})
        if placements:
            pipe.hset(placements_key, mapping={k: json.dumps(v) for k, v in placements.items()})
        pipe.set(self.seeded_key, self.fingerprint)
        # a fresh version (milliseconds) no worker can have cached from before Redis lost it
        pipe.set(self.version_key, max(int(time.time() * 1000), (self._version or 0) + 1))
        pipe.execute()

    def _edit(self, record: dict) -> None:
        """Record the edit durably, then apply it to Redis, under the log's lock (one order for both)."""
        key = keys.catalog_items_key(self.tenant) if record["op"].endswith("item") else None
        key = key or keys.catalog_placements_key(self.tenant)
        try:
            self.ensure_seeded()
            with self.edits.locked():
                self.edits.append(record)
                value = json.dumps(record["value"]) if record["op"].startswith("put") else ""
                applied = self._apply_edit(
                    keys=[self.seeded_key, key, self.version_key], args=[self.fingerprint, record["id"], value]
                )
            if not applied:  # Redis lost the catalog since we looked: rebuild it (the log has this edit)
                self.ensure_seeded()
            self.reload()
        except REDIS_DOWN as exc:
            raise StoreUnavailable(
                f"catalog store unreachable: {exc}; an edit already recorded on disk applies when Redis returns"
            ) from exc


def _fingerprint(catalog: Catalog) -> str:
    return hashlib.sha256(
        json.dumps(
            [[i.to_dict() for i in catalog.items.values()], [p.to_dict() for p in catalog.placements.values()]],
            sort_keys=True,
        ).encode()
    ).hexdigest()


def _seed_record(catalog: Catalog, fingerprint: str) -> dict:
    return {
        "op": "seed",
        "fingerprint": fingerprint,
        "items": {i.id: i.to_dict() for i in catalog.items.values()},
        "placements": {p.id: p.to_dict() for p in catalog.placements.values()},
    }


def _validated(build, raw: dict):
    try:
        return build(raw)
    except ValidationError as error:
        raise ValidationFailed("request body failed validation: see errors per field", error.messages) from error

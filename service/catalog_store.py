"""The catalog and placements marketers edit at run time: in Redis, cached per worker by version."""

from __future__ import annotations

import hashlib
import json
import logging
import threading

import redis
from marshmallow import ValidationError

from models import keys
from models.catalog import Catalog, Item, Placement
from models.errors import NotFound, StoreUnavailable, ValidationFailed, WayfinderError

log = logging.getLogger(__name__)
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


class InUse(WayfinderError):
    status_code = 409
    code = "in_use"


class CatalogStore:
    """Items and placements as JSON in two Redis hashes, seeded from YAML; a version counter
    tells every worker when to reload. `current()` never touches Redis: the decision read pipeline
    fetches the version (`version_key`) and calls `sync(version)`."""

    def __init__(self, client: redis.Redis, tenant: str, seed: Catalog):
        self.client = client
        self.tenant = tenant
        self.version_key = keys.catalog_version_key(tenant)
        self._catalog = seed
        self._version: int | None = None
        self._lock = threading.Lock()
        try:
            self._seed(seed)
            self.reload()
        except REDIS_DOWN as exc:
            log.warning("catalog store unreachable, serving the YAML catalog: %s", exc)

    def current(self) -> Catalog:
        return self._catalog

    def sync(self, version: int | None) -> Catalog:
        """Reload when the version read alongside the visitor's context differs from ours."""
        if version is not None and version != self._version:
            return self.refresh()
        return self._catalog

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
        self._write(keys.catalog_items_key(self.tenant), item.id, item.to_dict())
        return item

    def delete_item(self, item_id: str) -> None:
        self.reload_or_raise()
        users = [p.id for p in self._catalog.placements.values() if item_id in p.default_items]
        if users:
            raise InUse(f"item {item_id!r} is a default item of placements {users}: change those first")
        self._delete(keys.catalog_items_key(self.tenant), item_id, "item")

    def put_placement(self, raw: dict) -> Placement:
        placement = _validated(Placement.from_dict, raw)
        self.reload_or_raise()
        missing = [i for i in placement.default_items if i not in self._catalog.items]
        if missing:
            raise ValidationFailed(
                f"default_items not in catalog: {missing}", {"default_items": [f"unknown {missing}"]}
            )
        self._write(keys.catalog_placements_key(self.tenant), placement.id, placement.to_dict())
        return placement

    def delete_placement(self, placement_id: str) -> None:
        self._delete(keys.catalog_placements_key(self.tenant), placement_id, "placement")

    def refresh(self) -> Catalog:
        """Reload now if Redis answers; otherwise keep what we have."""
        try:
            self.reload()
        except REDIS_DOWN as exc:
            log.warning("catalog reload failed, keeping version %s: %s", self._version, exc)
        return self._catalog

    def reload_or_raise(self) -> None:
        try:
            self.reload()
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"catalog store unreachable: {exc}") from exc

    def _seed(self, catalog: Catalog) -> None:
        """Apply the YAML catalog when it is new or has changed since it was last applied.

        API edits stand until the YAML files change; then the YAML's items and placements are
        written over (items the API added and the YAML does not name are kept).
        """
        fingerprint = hashlib.sha256(
            json.dumps(
                [[i.to_dict() for i in catalog.items.values()], [p.to_dict() for p in catalog.placements.values()]],
                sort_keys=True,
            ).encode()
        ).hexdigest()
        seeded_key = keys.catalog_seeded_key(self.tenant)
        if self.client.get(seeded_key) == fingerprint.encode():
            return
        pipe = self.client.pipeline(transaction=True)
        for item in catalog.items.values():
            pipe.hset(keys.catalog_items_key(self.tenant), item.id, json.dumps(item.to_dict()))
        for placement in catalog.placements.values():
            pipe.hset(keys.catalog_placements_key(self.tenant), placement.id, json.dumps(placement.to_dict()))
        pipe.set(seeded_key, fingerprint)
        pipe.incr(self.version_key)
        pipe.execute()
        log.info("applied the YAML catalog: %d items, %d placements", len(catalog.items), len(catalog.placements))

    def _write(self, key: str, field: str, value: dict) -> None:
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(key, field, json.dumps(value))
            pipe.incr(self.version_key)
            pipe.execute()
            self.reload()
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"catalog store unreachable: {exc}") from exc

    def _delete(self, key: str, field: str, what: str) -> None:
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hdel(key, field)
            pipe.incr(self.version_key)
            removed, _ = pipe.execute()
            self.reload()
        except REDIS_DOWN as exc:
            raise StoreUnavailable(f"catalog store unreachable: {exc}") from exc
        if not removed:
            raise NotFound(f"no {what} {field!r}")


def _validated(build, raw: dict):
    try:
        return build(raw)
    except ValidationError as error:
        raise ValidationFailed("request body failed validation: see errors per field", error.messages) from error

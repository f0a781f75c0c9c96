"""Holds the serving model bundle and follows the registry's CURRENT pointer (hot reload)."""

from __future__ import annotations

import logging
import threading
import time

from models.bundle import ModelBundle
from models.errors import BundleError
from models.journey import JourneyMap
from models.registry import Registry

log = logging.getLogger(__name__)


class ModelHolder:
    """`get()` returns the current bundle or None. A new CURRENT is loaded fully and verified
    before it replaces the old one; a bundle that fails to load is refused and the old one serves."""

    def __init__(self, registry: Registry, journey: JourneyMap, check_interval_s: float = 2.0):
        self.registry = registry
        self.journey = journey
        self.check_interval_s = check_interval_s
        self.bundle: ModelBundle | None = None
        self.shadow: ModelBundle | None = None
        self.last_error: str | None = None
        self._stamp: object = object()
        self._shadow_stamp: object = object()
        self._next_check = 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def get(self) -> ModelBundle | None:
        if time.monotonic() >= self._next_check:
            self.refresh()
        return self.bundle

    def refresh(self, force: bool = False) -> None:
        """Look at CURRENT and SHADOW (a stat each); load and swap what changed."""
        if not self._lock.acquire(blocking=force):
            return  # another thread is already checking
        try:
            self._next_check = time.monotonic() + self.check_interval_s
            self._refresh_shadow(force)
            stamp = self.registry.current_stamp()
            if stamp == self._stamp and not force:
                return
            self._stamp = stamp
            version = self.registry.current()
            if version is None or (self.bundle is not None and self.bundle.version == version):
                return
            try:
                bundle = ModelBundle.load(self.registry.path(version), self.journey)
            except BundleError as error:
                self.last_error = error.message
                log.error("model %s refused, still serving %s: %s", version, self.version, error.message)
                return
            self.bundle, self.last_error = bundle, None
            log.info("serving model %s", version)
        finally:
            self._lock.release()

    def _refresh_shadow(self, force: bool) -> None:
        stamp = self.registry.shadow_stamp()
        if stamp == self._shadow_stamp and not force:
            return
        self._shadow_stamp = stamp
        version = self.registry.shadow()
        if version is None:
            self.shadow = None
        elif self.shadow is None or self.shadow.version != version:
            try:
                self.shadow = ModelBundle.load(self.registry.path(version), self.journey)
                log.info("shadowing model %s", version)
            except BundleError as error:
                self.shadow = None
                log.error("shadow model %s refused: %s", version, error.message)

    @property
    def version(self) -> str | None:
        return self.bundle.version if self.bundle else None

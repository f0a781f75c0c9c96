"""The keys a fresh service starts with: from the environment, or demo keys on a loopback address.

`WAYFINDER_ADMIN_KEY` and `WAYFINDER_PUBLIC_KEY` (e.g. from a Kubernetes secret) become the live
bootstrap keys, hashed like any other; changing a value revokes the previous one. Without them and
without any live key, a service on a loopback address creates a demo admin key and a demo public
key, prints them, and writes them (mode 0600) to `<data_dir>/keys/demo-keys.env`: the one place a
key is kept in plain text, for the developer's convenience. On any other address it refuses to start.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import sys
from pathlib import Path

from config.settings import Settings
from models.api_keys import KeyRing, parse_origins
from models.errors import ConfigError

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "::1", "[::1]"})
DEMO_KEYS_FILE = "demo-keys.env"


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.") or host.startswith("unix:")


def bootstrap_keys(ring: KeyRing, settings: Settings) -> None:
    """Make the environment's keys live; create demo keys on loopback when there are none; refuse otherwise."""
    origins = parse_origins(settings.public_origins)
    ring.directory.mkdir(parents=True, exist_ok=True)
    with open(ring.directory / ".bootstrap.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # workers starting together create the demo keys once
        if settings.admin_key:
            ring.replace_env_key("env-admin", "admin", settings.admin_key, ())
        if settings.public_key:
            ring.replace_env_key("env-public", "public", settings.public_key, origins)
        now = dt.datetime.now(dt.UTC)
        if any(key.active(now) for key in ring.keys()):
            return
        if not is_loopback(settings.host):
            raise ConfigError(
                f"refusing to serve on {settings.host} without API keys: set WAYFINDER_ADMIN_KEY and "
                "WAYFINDER_PUBLIC_KEY (for example from a secret), or create keys with `python -m training keys "
                f"create --scope admin --data-dir {settings.data_dir}` (docs/security.md)"
            )
        _create_demo_keys(ring, settings, origins)


def _create_demo_keys(ring: KeyRing, settings: Settings, origins: tuple[str, ...]) -> None:
    local = tuple(f"http://{host}:{settings.port}" for host in ("localhost", "127.0.0.1"))
    admin, admin_token = ring.create("admin", "demo admin", source="demo")
    public, public_token = ring.create("public", "demo public", tuple(dict.fromkeys(origins + local)), source="demo")
    path = ring.directory / DEMO_KEYS_FILE
    _write_private(path, f"WF_ADMIN_KEY={admin_token}\nWF_PUBLIC_KEY={public_token}\n")
    banner = (
        f"\nWayfinder: first start, demo keys created (also in {path}, mode 0600):\n"
        f"  admin  {admin.id}: {admin_token}\n"
        f"  public {public.id}: {public_token}  (origins: {', '.join(public.origins)})\n"
        f'  try: source {path} && curl -H "Authorization: Bearer $WF_ADMIN_KEY" '
        f"http://127.0.0.1:{settings.port}/v1/placements\n"
    )
    print(banner, file=sys.stderr, flush=True)
    log.warning("demo API keys created: %s (admin), %s (public); tokens in %s", admin.id, public.id, path)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)

"""API keys: scopes, the key format, and the key file every worker and the CLI share.

A key is `wf_<scope>_<random>`, 32 bytes of randomness. The file `<data_dir>/keys/keys.json`
holds each key's SHA-256, never the key itself (a key is high-entropy, so a plain hash cannot be
reversed; a slow hash would cost every request). Writers (the CLI, the admin API, the start-up
bootstrap) take an exclusive lock, rewrite the file to a temporary one and rename it over.
Readers look at the file's identity (inode, size, mtime) on each request and reload when it
changed, so a key revoked anywhere is refused on the next request in every worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from models.errors import ConfigError, NotFound, WayfinderError

SCOPES = ("public", "server", "admin")
"""Each scope includes the ones before it: admin can do what server can, and server what public can."""
OPEN = "open"
"""Endpoints that need no key (health, readiness, the OpenAPI document and its page)."""
KEY_FILE_VERSION = 1
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]{1,253}$")
"""A web origin: scheme, host and port, no path (what a browser sends in the Origin header)."""


class KeyConflict(WayfinderError):
    status_code = 409
    code = "conflict"


def covers(granted: str, needed: str) -> bool:
    """Whether a key of scope `granted` may call an endpoint that needs `needed`."""
    if needed == OPEN:
        return True
    return SCOPES.index(granted) >= SCOPES.index(needed)


def parse_origins(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Origins as `scheme://host[:port]`, no path; ConfigError naming a bad one."""
    origins = [o.strip().rstrip("/") for o in (raw.split(",") if isinstance(raw, str) else raw) if o.strip()]
    bad = [o for o in origins if not ORIGIN.match(o)]
    if bad:
        raise ConfigError(f"origins must look like https://shop.example.com (scheme, host, port; no path): {bad}")
    return tuple(dict.fromkeys(origins))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token(scope: str) -> str:
    return f"wf_{scope}_{secrets.token_urlsafe(32)}"


@dataclasses.dataclass(frozen=True)
class ApiKey:
    id: str
    scope: str
    name: str
    hash: str
    created_at: str
    origins: tuple[str, ...] = ()
    """Public keys: the web origins (scheme://host[:port]) pages using the key are served from."""
    expires_at: str | None = None
    revoked_at: str | None = None
    source: str = "created"
    """`created` (CLI or API), `demo` (first start on loopback) or `env` (WAYFINDER_ADMIN_KEY / _PUBLIC_KEY)."""

    def active(self, now: dt.datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or dt.datetime.fromisoformat(self.expires_at) > now

    def describe(self) -> dict:
        """What `list` shows: everything but the hash."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "hash"} | {"origins": list(self.origins)}

    @classmethod
    def from_dict(cls, raw: dict) -> ApiKey:
        return cls(**{**raw, "origins": tuple(raw.get("origins", ()))})


class KeyRing:
    """The keys of one data folder. `lookup` is the request path: one os.stat, then a dict lookup."""

    def __init__(self, data_dir: Path | str, max_keys: int = 1000):
        self.directory = Path(data_dir) / "keys"
        self.path = self.directory / "keys.json"
        self.max_keys = max_keys
        self._identity: tuple | None = None
        self._by_hash: dict[str, ApiKey] = {}
        self._keys: list[ApiKey] = []

    # --- reading ---------------------------------------------------------------------------------

    def keys(self) -> list[ApiKey]:
        self._refresh()
        return list(self._keys)

    def lookup(self, token: str) -> ApiKey | None:
        """The key this token is, active or not (the caller says why it is refused), or None."""
        self._refresh()
        return self._by_hash.get(token_hash(token))

    def public_origins(self, now: dt.datetime) -> frozenset[str]:
        """The union of the active public keys' origins: what a CORS preflight (which carries no key) may be told."""
        self._refresh()
        return frozenset(o for key in self._keys if key.scope == "public" and key.active(now) for o in key.origins)

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._identity, self._keys, self._by_hash = None, [], {}
            return
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if identity != self._identity:
            keys = _read(self.path)
            self._keys, self._by_hash, self._identity = keys, {k.hash: k for k in keys}, identity

    # --- writing ---------------------------------------------------------------------------------

    def create(
        self,
        scope: str,
        name: str = "",
        origins: tuple[str, ...] = (),
        expires_at: dt.datetime | None = None,
        token: str | None = None,
        source: str = "created",
        key_id: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its token: the only time the token exists outside the caller's hands."""
        if scope not in SCOPES:
            raise WayfinderError(f"scope must be one of {list(SCOPES)}, not {scope!r}", {"scope": ["unknown scope"]})
        token = token or new_token(scope)
        with self._locked() as keys:
            if len([k for k in keys if k.revoked_at is None]) >= self.max_keys:
                raise KeyConflict(
                    f"{self.max_keys} keys are live: revoke some first", {"scope": ["too many live keys"]}
                )
            key = ApiKey(
                id=key_id or "k_" + secrets.token_hex(6),
                scope=scope,
                name=name,
                hash=token_hash(token),
                created_at=_now().isoformat(timespec="seconds"),
                origins=tuple(origins),
                expires_at=expires_at.isoformat(timespec="seconds") if expires_at else None,
                source=source,
            )
            if any(k.id == key.id or k.hash == key.hash for k in keys if k.revoked_at is None):
                raise KeyConflict(f"a live key {key.id!r} or with this token exists", {"id": ["exists"]})
            keys.append(key)
        return key, token

    def revoke(self, key_id: str) -> ApiKey:
        with self._locked() as keys:
            at, key = self._find(keys, key_id)
            if key.revoked_at is None:
                keys[at] = key = dataclasses.replace(key, revoked_at=_now().isoformat(timespec="seconds"))
        return key

    def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        """A new token with the old key's scope, name, origins and expiry; the old one is revoked at once."""
        old = self.revoke(key_id)
        expires = dt.datetime.fromisoformat(old.expires_at) if old.expires_at else None
        return self.create(old.scope, old.name, old.origins, expires, source=old.source)

    def replace_env_key(self, key_id: str, scope: str, token: str, origins: tuple[str, ...]) -> ApiKey:
        """Make `token` the live key `key_id` (the bootstrap keys from the environment): a changed value
        revokes the previous one; an unchanged one is left as it is (its origins updated)."""
        wanted = token_hash(token)
        with self._locked() as keys:
            same = [k for k in keys if k.hash == wanted and k.revoked_at is None and k.id != key_id]
            if same:  # the value is already a live key (a demo key exported to the environment): keep that one
                return same[0]
            for at, key in enumerate(keys):
                if key.id != key_id or key.revoked_at is not None:
                    continue
                if key.hash == wanted:
                    keys[at] = key = dataclasses.replace(key, origins=tuple(origins), scope=scope)
                    return key
                keys[at] = dataclasses.replace(key, revoked_at=_now().isoformat(timespec="seconds"))
        return self.create(scope, f"{key_id} (environment)", origins, token=token, source="env", key_id=key_id)[0]

    @staticmethod
    def _find(keys: list[ApiKey], key_id: str) -> tuple[int, ApiKey]:
        live = [(at, k) for at, k in enumerate(keys) if k.id == key_id]
        if not live:
            raise NotFound(f"no key {key_id!r}: `python -m training keys list` shows them")
        return live[-1]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[ApiKey]]:
        """Read-modify-write under an exclusive lock; the new file replaces the old one atomically, mode 0600."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            keys = _read(self.path) if self.path.exists() else []
            yield keys
            _write(self.path, keys)
        self._identity = None


def _read(path: Path) -> list[ApiKey]:
    raw = json.loads(path.read_text())
    if raw.get("version") != KEY_FILE_VERSION:
        raise WayfinderError(f"{path}: unknown key file version {raw.get('version')!r}", status_code=500)
    return [ApiKey.from_dict(k) for k in raw["keys"]]


def _write(path: Path, keys: list[ApiKey]) -> None:
    body = {"version": KEY_FILE_VERSION, "keys": [{**dataclasses.asdict(k), "origins": list(k.origins)} for k in keys]}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(body, out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

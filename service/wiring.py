"""Builds the process-wide objects a Flask app needs from settings (kept on app.extensions)."""

from __future__ import annotations

import atexit
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

from config.settings import Settings
from journal.audit_log import AuditLog
from journal.erasures import Erasures
from journal.group_commit import BackgroundCommit, SharedCommit
from journal.identity import IDENTITIES_LOG
from journal.profile_log import ProfileLog
from journal.retention import RetentionTask
from journal.writer import DailyLog
from models.api_keys import KeyRing
from models.catalog import Catalog
from models.journey import JourneyMap
from models.registry import Registry
from models.rules import Rules
from service.access import Access
from service.audit import ApiAudit
from service.background import Background
from service.catalog_log import CatalogLog
from service.catalog_store import CatalogStore
from service.decide import DecisionEngine
from service.erasure import CompactionSchedule, Eraser
from service.identity import Identities
from service.ingest import Ingestor
from service.key_bootstrap import bootstrap_keys
from service.live_signals import LiveSignals
from service.model_holder import ModelHolder
from service.rate_limits import RateLimiter
from service.recovery import Recovery
from service.redis_client import EmbeddedRedis, connect
from service.spool import Spool
from service.store import ContextStore

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Services:
    settings: Settings
    journey: JourneyMap
    catalogs: CatalogStore
    store: ContextStore
    models: ModelHolder
    ingestor: Ingestor
    engine: DecisionEngine
    background: Background
    keys: KeyRing
    access: Access
    audit: ApiAudit
    embedded_redis: EmbeddedRedis | None = None
    recovery: Recovery | None = None
    live_signals: LiveSignals | None = None
    eraser: Eraser | None = None
    identities: Identities | None = None


def build_services(settings: Settings) -> Services:
    journey = JourneyMap.load(settings.config_dir / "journey.yaml")
    keys = KeyRing(settings.data_dir, settings.max_api_keys)
    bootstrap_keys(keys, settings)  # first: a node that must not serve refuses before it starts anything
    client, embedded_redis = connect(settings)
    if embedded_redis is not None:
        atexit.register(embedded_redis.stop)  # a no-op outside the process that supervises it
    catalogs = CatalogStore(
        client,
        settings.tenant,
        seed=Catalog.load(settings.config_dir),
        edits=CatalogLog(settings.data_dir / "catalog" / settings.tenant),
    )
    store = ContextStore(
        client,
        journey,
        tenant=settings.tenant,
        ttl_s=settings.context_ttl_days * 86_400,
        recent_cap=settings.recent_events_cap,
        dedup_window_s=settings.dedup_window_days * 86_400,
        popularity_half_life_s=settings.popularity_half_life_days * 86_400,
        catalog_ids=lambda: catalogs.current().items,
        profile_log=ProfileLog(settings.data_dir / "profiles", host=settings.journal_host),
    )
    erasures = Erasures(settings.data_dir, settings.erasure_secret).share()  # the readers in this process use it
    store.erasures = erasures
    recovery = Recovery(client, settings, journey, catalog_ids=lambda: catalogs.current().items)
    store.on_state_lost = recovery.notice  # a read that finds the journal sentinel gone starts the rebuild
    recovery.start()
    models = ModelHolder(Registry(settings.registry), journey, settings.reload_interval_s)
    # concurrent requests share one write and fsync; each is still on disk before its 2xx
    event_log = SharedCommit(DailyLog(settings.data_dir / "events", host=settings.journal_host))
    decision_log = decision_writer(DailyLog(settings.data_dir / "decisions", host=settings.journal_host), settings)
    spool = Spool(settings.data_dir / "spool", settings.spool_max_bytes)
    ingestor = Ingestor(
        store,
        event_log,
        spool,
        settings.max_batch,
        earliest=dt.datetime.fromisoformat(settings.earliest_timestamp),
        future_margin_s=settings.future_margin_s,
        erasures=erasures,
    )
    engine = DecisionEngine(
        store,
        catalogs,
        models,
        Rules.load(settings.config_dir / "rules.yaml"),
        decision_log,
        contact_limit=settings.contact_limit_per_week,
    )
    live = LiveSignals(models, settings.data_dir / "events", settings) if settings.live_signals_items > 0 else None
    eraser = Eraser(
        store,
        erasures,
        settings.data_dir,
        journey,
        embedded_redis=embedded_redis is not None,
        compaction_days=settings.erasure_compaction_days,
        export_max_lines=settings.erasure_export_max_lines,
    )
    retention = RetentionTask(settings.data_dir, settings.retention_days, settings.retention_archive_dir)
    tasks = upkeep(embedded_redis, spool, store, live, retention if settings.retention_days > 0 else None)
    compaction = CompactionSchedule(
        settings.data_dir, erasures, settings.erasure_compaction_days, sweep=eraser.sweep_redis
    )
    tasks.append(("erasure compaction", compaction))
    background = Background(settings.spool_drain_interval_s, tasks)
    log.info("%s model=%s", settings.summary(), models.version)
    access = Access(keys, settings, RateLimiter.from_settings(client, settings))
    audit = ApiAudit(AuditLog(settings.data_dir, settings.journal_host), hide_id=lambda v: "hmac:" + erasures.key(v))
    services = Services(
        settings,
        journey,
        catalogs,
        store,
        models,
        ingestor,
        engine,
        background,
        keys,
        access,
        audit,
        embedded_redis,
        recovery,
        live,
        eraser,
    )
    identity_log = DailyLog(settings.data_dir / IDENTITIES_LOG, host=settings.journal_host)
    services.identities = Identities(store, identity_log, settings.future_margin_s)
    background.start()
    return services


def decision_writer(log: DailyLog, settings: Settings) -> DailyLog | BackgroundCommit:
    """The decision log written in groups by a background thread (docs/journal.md, "Group commit"), or,
    with decision_log_flush_ms 0, each decision written and fsync'd before it is answered."""
    if settings.decision_log_flush_ms <= 0:
        return log
    return BackgroundCommit(log, settings.decision_log_flush_ms / 1000)


def upkeep(
    embedded_redis: EmbeddedRedis | None,
    spool: Spool,
    store: ContextStore,
    live: LiveSignals | None = None,
    retention: RetentionTask | None = None,
) -> list[tuple[str, Callable]]:
    """The periodic tasks off the request path (every spool_drain_interval_s): the Redis watchdog, the spool
    drain, the live candidate generators, the journal's retention (itself at most once an hour)."""
    tasks: list[tuple[str, Callable]] = []
    if embedded_redis is not None:
        tasks.append(("embedded Redis watchdog", embedded_redis.ensure_running))
    tasks.append(("spool drain", lambda: spool.has_pending() and spool.drain(store.record)))
    if live is not None:
        tasks.append(("live signals", live.refresh))
    if retention is not None:
        tasks.append(("journal retention", retention))
    return tasks

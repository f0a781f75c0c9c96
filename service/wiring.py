"""Builds the process-wide objects a Flask app needs from settings (kept on app.extensions)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from config.settings import Settings
from journal.profile_log import ProfileLog
from journal.writer import DailyLog
from models.catalog import Catalog
from models.journey import JourneyMap
from models.registry import Registry
from models.rules import Rules
from service.catalog_store import CatalogStore
from service.decide import DecisionEngine
from service.ingest import Ingestor
from service.model_holder import ModelHolder
from service.recovery import Recovery
from service.redis_client import connect
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
    recovery: Recovery | None = None


def build_services(settings: Settings) -> Services:
    journey = JourneyMap.load(settings.config_dir / "journey.yaml")
    client = connect(settings)
    catalogs = CatalogStore(client, settings.tenant, seed=Catalog.load(settings.config_dir))
    store = ContextStore(
        client,
        journey,
        tenant=settings.tenant,
        ttl_s=settings.context_ttl_days * 86_400,
        recent_cap=settings.recent_events_cap,
        dedup_window_s=settings.dedup_window_days * 86_400,
        popularity_half_life_s=settings.popularity_half_life_days * 86_400,
        catalog_ids=lambda: catalogs.current().items,
        profile_log=ProfileLog(settings.data_dir / "profiles"),
    )
    recovery = Recovery(client, settings, journey, catalog_ids=lambda: catalogs.current().items)
    store.on_state_lost = recovery.notice  # a read that finds the journal sentinel gone starts the rebuild
    recovery.start()
    models = ModelHolder(Registry(settings.registry), journey, settings.reload_interval_s)
    event_log = DailyLog(settings.data_dir / "events")
    decision_log = DailyLog(settings.data_dir / "decisions")
    ingestor = Ingestor(
        store,
        event_log,
        Spool(settings.data_dir / "spool"),
        settings.max_batch,
        earliest=dt.datetime.fromisoformat(settings.earliest_timestamp),
        future_margin_s=settings.future_margin_s,
    )
    engine = DecisionEngine(store, catalogs, models, Rules.load(settings.config_dir / "rules.yaml"), decision_log)
    log.info("%s model=%s", settings.summary(), models.version)
    return Services(settings, journey, catalogs, store, models, ingestor, engine, recovery)

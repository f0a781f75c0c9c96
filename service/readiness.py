"""What /readyz answers: ready, degraded (serving from fallbacks: keep me in rotation), or not ready.

A Redis outage is exactly when the fallbacks (popularity decisions, the event spool) should be
answering, so it makes the instance `degraded`, not unready; a probe that pulled it would turn a
degraded service into no service. `not ready` (503) is kept for what no fallback covers.
"""

from __future__ import annotations

import os

SPOOL_COUNT_LIMIT_BYTES = 64 << 20
"""Spools larger than this are reported in bytes only: counting their lines on every probe costs too much."""


def readiness(services) -> dict:
    """{"status": "ready" | "degraded" | "not ready", "checks": {...}} with the reasons in the checks."""
    bundle = services.models.get()
    spool = services.ingestor.spool
    store_up = services.store.ping()
    catalog = services.catalogs.current()
    spooled_bytes = spool.size()
    journal_dir = services.ingestor.event_log.directory
    checks = {
        "store": store_up,
        "model": bundle.version if bundle else None,
        "model_error": services.models.last_error,
        "placements": len(catalog.placements),
        "spooled_bytes": spooled_bytes,
        "spooled_events": spool.pending() if spooled_bytes <= SPOOL_COUNT_LIMIT_BYTES else None,
        "event_log_writable": os.access(journal_dir, os.W_OK),
    }
    if services.embedded_redis is not None:
        checks["embedded_redis_pid"] = services.embedded_redis.pid()
    blocking = []
    if not checks["event_log_writable"]:
        blocking.append(f"the event log directory {journal_dir} is not writable: events cannot be accepted")
    decision_log_failure = getattr(services.engine.decision_log, "failure", None)  # a group-committed log
    if decision_log_failure:
        checks["decision_log_failure"] = decision_log_failure
        blocking.append(f"the decision log cannot be written ({decision_log_failure}): decisions answer 503")
    if not store_up and (spool.refusing or spooled_bytes >= spool.max_bytes):
        blocking.append("Redis is down and the spool is full: events are refused")
    degraded = []
    if not catalog.placements:
        # an admin deleted them all: events are still accepted, so every instance stays in rotation
        degraded.append("no placements: decisions answer 404 until one is added; events are accepted")
    if not store_up:
        degraded.append("Redis unreachable: decisions fall back to popularity, events are spooled")
    if bundle is None:
        degraded.append("no model loaded: decisions use the fallback policy")
    if spooled_bytes and store_up:
        degraded.append("applying spooled events: some contexts are behind")
    if blocking:
        checks["not_ready_because"] = blocking
        return {"status": "not ready", "checks": checks}
    if degraded:
        checks["degraded_because"] = degraded
        return {"status": "degraded", "checks": checks}
    return {"status": "ready", "checks": checks}

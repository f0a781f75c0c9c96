"""The metrics themselves (import only after service.metrics.use_folder), and /metrics's text."""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("wayfinder_requests", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "wayfinder_request_seconds",
    "Time from the request's first hook to its answer",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
DECISIONS = Counter("wayfinder_decisions", "Decisions answered", ["placement", "policy"])
EVENTS = Counter("wayfinder_events", "Events by outcome: accepted, duplicate, spooled, rejected", ["outcome"])
REJECTED = Counter("wayfinder_events_rejected", "Rejected events by the field refused", ["field"])
MODEL = Gauge(
    "wayfinder_model_loaded", "1 for the model version each worker serves", ["version"], multiprocess_mode="liveall"
)
REDIS_ERRORS = Counter(
    "wayfinder_redis_errors", "Redis calls that failed (the answer fell back or spooled)", ["operation"]
)
REDIS_SECONDS = Histogram(
    "wayfinder_redis_seconds",
    "Redis round trips that answered (one pipeline each), by operation (docs/operations.md lists them)",
    ["operation"],
    buckets=(0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
MAX_REJECTED_FIELDS = 8
"""Label values per rejected event at most (field names come from the event schema: a bounded set)."""


def observe(response: Response) -> Response:
    """after_request: count the request and its latency, by route template (never a raw path)."""
    endpoint = request.url_rule.rule if request.url_rule else "(no route)"
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    started = g.get("request_started")
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


def decided(decision: dict) -> None:
    DECISIONS.labels(decision["placement"], decision["policy"]).inc()


def ingested(answer: dict) -> None:
    for outcome, count in (("accepted", "accepted"), ("duplicate", "duplicates"), ("spooled", "spooled")):
        if answer.get(count):
            EVENTS.labels(outcome).inc(answer[count])
    for rejected in answer.get("rejected", []):
        EVENTS.labels("rejected").inc()
        for field in sorted(rejected.get("errors", {}))[:MAX_REJECTED_FIELDS]:
            REJECTED.labels(field.rsplit(".", 1)[-1][:64]).inc()


_reported: dict[int, str | None] = {}


def report_model(version: str | None) -> None:
    """The version this worker serves, set by the worker itself when it changes (the master serves none)."""
    pid = os.getpid()
    previous = _reported.get(pid, "")
    if previous == version:
        return
    if previous:
        MODEL.labels(previous).set(0)
    MODEL.labels(version or "none").set(1)
    _reported[pid] = version


class SpoolDepth:
    """Collected at scrape time: the spool's bytes waiting for Redis (one file, shared by every worker)."""

    def __init__(self, spool_dir: Path):
        self.spool_dir = Path(spool_dir)

    def collect(self):
        family = GaugeMetricFamily("wayfinder_spool_bytes", "Event bytes spooled while Redis was unreachable")
        family.add_metric([], float(sum(p.stat().st_size for p in self.spool_dir.glob("*.jsonl") if p.exists())))
        yield family


def exposition(spool_dir: Path) -> Response:
    """/metrics: every worker's values, added up, in the Prometheus text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(SpoolDepth(spool_dir))
    return Response(
        generate_latest(registry), mimetype=CONTENT_TYPE_LATEST.split(";")[0], content_type=CONTENT_TYPE_LATEST
    )

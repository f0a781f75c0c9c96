"""Prometheus metrics, correct across gunicorn workers (prometheus-client's multiprocess mode).

Each worker writes its values to memory-mapped files under PROMETHEUS_MULTIPROC_DIR, and
`GET /metrics` adds up every worker's files. gunicorn.conf.py sets the folder
(`<data_dir>/metrics`), empties it when the server starts and marks a dead worker's files; an app
built elsewhere (tests, `flask run`) sets it to the same folder itself (`use_folder`). The variable must be set
before prometheus_client is imported: this module is imported by create_app after `use_folder`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def use_folder(data_dir: Path) -> Path:
    """The multiprocess folder: the environment's, else `<data_dir>/metrics` (set for this process and its children)."""
    folder = Path(os.environ.get(FOLDER_VARIABLE) or (Path(data_dir) / "metrics").resolve())
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[FOLDER_VARIABLE] = str(folder)
    values = sys.modules.get("prometheus_client.values")
    if values is not None:  # imported before the folder was known: metrics made from now on use the files
        values.ValueClass = values.get_value_class()
    return folder


# Thin, lazily importing front doors for code imported before create_app has chosen the folder.


def decided(decision: dict) -> None:
    from service import metric_values

    metric_values.decided(decision)


def ingested(answer: dict) -> None:
    from service import metric_values

    metric_values.ingested(answer)


def redis_error(operation: str) -> None:
    if FOLDER_VARIABLE in os.environ:  # not before an app has chosen the folder (the CLI's own Redis calls)
        from service import metric_values

        metric_values.REDIS_ERRORS.labels(operation).inc()


_round_trips: dict[str, object] = {}
"""wayfinder_redis_seconds's child per operation, made once (labels() takes a lock and a lookup each time)."""


def execute(pipe, operation: str, **options):
    """`pipe.execute(**options)`, its round trip observed in wayfinder_redis_seconds{operation} when it answers
    (a failed one is counted by wayfinder_redis_errors_total instead: a breaker's instant refusal is no latency)."""
    started = time.perf_counter()
    replies = pipe.execute(**options)
    timer = _round_trips.get(operation)
    if timer is None and FOLDER_VARIABLE in os.environ:  # as redis_error: the CLI's own Redis calls record nothing
        from service import metric_values

        timer = _round_trips[operation] = metric_values.REDIS_SECONDS.labels(operation)
    if timer is not None:
        timer.observe(time.perf_counter() - started)
    return replies

"""gunicorn settings from Wayfinder's own (config/settings.py), so the address the app checks is the one bound.

`gunicorn -c gunicorn.conf.py 'service:create_app()'` (what `make run` and the Docker image do):
binds WAYFINDER_HOST:WAYFINDER_PORT, and WAYFINDER_ADMIN_PORT beside it when set; 2 workers (WEB_CONCURRENCY)
of 4 threads; the app is loaded once in the master (`preload_app`), so the embedded Redis and the first-start
demo keys are made once. The metrics folder (PROMETHEUS_MULTIPROC_DIR, `<data_dir>/metrics`) is emptied
here, before any worker writes to it (service/metrics.py).

The worker model was chosen by measurement (docs/performance.md, "The worker model"): gthread, one worker per core
(WEB_CONCURRENCY; 2 here), 4 threads each to cover the waits on Redis and on the event log's fsync. More threads,
more workers or 1 to 2 threads moved nothing beyond the run-to-run noise on 2 cores; sync workers cannot keep a
connection alive, and gevent would stop a whole worker on each fsync (a blocking call it cannot yield around).
GUNICORN_CMD_ARGS overrides any of it for a measurement (bench/perf_table.py).
"""

import os
from pathlib import Path

from config.settings import Settings

_settings = Settings.from_env()
# before the app (and prometheus_client) is loaded; an earlier run's worker files would add to this run's
_metrics = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or (_settings.data_dir / "metrics").resolve())
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics)
_metrics.mkdir(parents=True, exist_ok=True)
for _stale in _metrics.glob("*.db"):
    _stale.unlink(missing_ok=True)
bind = [f"{_settings.host}:{_settings.port}"] + (
    [f"{_settings.host}:{_settings.admin_port}"] * bool(_settings.admin_port)
)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
preload_app = True


def child_exit(server, worker):
    """A dead worker's gauges stop counting in /metrics (prometheus-client's multiprocess mode)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """A worker that stops cleanly writes the decisions its background writer still holds (journal/group_commit.py);
    atexit does the same as a backstop."""
    from journal.group_commit import close_all

    close_all()


def pre_fork(server, worker):
    """The app was loaded here (preload_app): its objects move to the permanent generation, so the workers' garbage
    collections never walk them (each full collection walked the whole loaded app: tens of milliseconds, and a
    copy of every page it touched)."""
    import gc

    gc.freeze()

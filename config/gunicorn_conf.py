"""gunicorn settings from Wayfinder's own (config/settings.py), so the address the app checks is the one bound.

`gunicorn -c config/gunicorn_conf.py 'service:create_app()'` (what `make run` and the Docker image do):
binds WAYFINDER_HOST:WAYFINDER_PORT, and WAYFINDER_ADMIN_PORT beside it when set; 2 workers (WEB_CONCURRENCY)
of 4 threads; the app is loaded once in the master (`preload_app`), so the embedded Redis and the first-start
demo keys are made once.
"""

import os

from config.settings import Settings

_settings = Settings.from_env()
bind = [f"{_settings.host}:{_settings.port}"] + (
    [f"{_settings.host}:{_settings.admin_port}"] * bool(_settings.admin_port)
)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
preload_app = True

"""Schemathesis against the live app: no server error and no answer outside the OpenAPI document.

The app runs as `make run` serves it (gunicorn, the embedded Redis, a real model) on a free port
with its data in tmp_path; `st run` generates requests from /openapi.json for about 60 s with a
fixed seed. Excluded checks and why: docs/api.md, "Fuzzing".
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TEST_ADMIN_KEY
from tests.faults.processes import BARE_CONF

SEED = 20261130
MAX_TIME_S = 60
EXCLUDED_CHECKS = "positive_data_acceptance"
"""Rules OpenAPI 3.0 cannot state (since before until, path id equals body id, key patterns of
free-form maps, timestamps relative to now, names the journey map or catalog must know)."""
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(shutil.which("st", path=str(BIN)) is None, reason="schemathesis not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, server: subprocess.Popen, deadline_s: float = 60) -> None:
    """Poll /readyz until the app answers 200 (store reachable, model loaded)."""
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        if server.poll() is not None:
            raise RuntimeError(f"the app exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the app at {url} was not ready within {deadline_s} s")


@pytest.fixture
def live_url(tmp_path, trained_registry):
    registry = tmp_path / "models"
    shutil.copytree(trained_registry, registry)
    port = _free_port()
    env = {
        **os.environ,
        "WAYFINDER_DATA_DIR": str(tmp_path / "var"),
        "WAYFINDER_REGISTRY": str(registry),
        "WAYFINDER_REDIS_URL": "",
        "WAYFINDER_TENANT": "fuzz",
        "WAYFINDER_LOG_LEVEL": "WARNING",
        "WAYFINDER_ADMIN_KEY": TEST_ADMIN_KEY,
        "WAYFINDER_RATE_LIMIT_ADMIN": "100000/100000",  # limits on (their code runs), high enough for a fuzzer
    }
    # --limit-request-line 0: gunicorn's own 414 (HTML, before the app) is the server's limit, not the API's
    command = [
        str(BIN / "gunicorn"),
        "-c",
        str(BARE_CONF),
        "--workers",
        "1",
        "--threads",
        "4",
        "--limit-request-line",
        "0",
    ]
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", "service:create_app()"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_url, tmp_path):
    command = [
        str(BIN / "st"), "run", f"{live_url}/openapi.json",
        "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
        "--seed", str(SEED), "--max-examples", "100", "--max-time", str(MAX_TIME_S),
        "--workers", "1", "--no-color", "--header", f"Authorization: Bearer {TEST_ADMIN_KEY}",
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=MAX_TIME_S + 120, cwd=tmp_path)
    server_log = (tmp_path / "gunicorn.log").read_text()[-4000:]
    print(run.stdout[-1500:])  # the summary: operations, phases, test cases generated (pytest -rP shows it)
    assert run.returncode == 0, f"{run.stdout[-12000:]}\n{run.stderr[-2000:]}\nserver log:\n{server_log}"

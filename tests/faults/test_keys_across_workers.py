"""Keys under gunicorn: a key revoked by the CLI is refused on the next request in every worker."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time

import pytest

from tests.faults.processes import ROOT, Gunicorn, wait_for

pytestmark = pytest.mark.faults


def connections_to_each_worker(server: Gunicorn, workers: int) -> dict[int, http.client.HTTPConnection]:
    """One kept-alive connection per worker (a connection stays with the worker that accepted it)."""
    found: dict[int, http.client.HTTPConnection] = {}

    def another():
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/healthz")
        worker = json.loads(connection.getresponse().read())["checks"]["worker"]
        if worker in found:
            connection.close()
        else:
            found[worker] = connection
        return len(found) == workers

    wait_for(another, 30, f"a connection to each of {workers} workers")
    return found


def status(connection: http.client.HTTPConnection, token: str) -> int:
    connection.request("GET", "/v1/visitors/v1", headers={"Authorization": f"Bearer {token}"})
    answer = connection.getresponse()
    answer.read()
    return answer.status


def keys_cli(data_dir, *argv) -> dict:
    command = [sys.executable, "-m", "training", "keys", "--data-dir", str(data_dir), *argv, "--json"]
    return json.loads(subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout)


def test_a_key_revoked_by_the_cli_is_refused_in_both_workers(tmp_path):
    data_dir = tmp_path / "var"
    environment = {"WAYFINDER_DATA_DIR": str(data_dir), "WAYFINDER_REGISTRY": str(tmp_path / "registry")}
    server = Gunicorn({**environment, "GUNICORN_CMD_ARGS": "--keep-alive 120"})  # connections outlive the CLI
    server.start()
    try:
        created = keys_cli(data_dir, "create", "--scope", "server", "--name", "back end")
        workers = connections_to_each_worker(server, 2)
        assert [status(c, created["token"]) for c in workers.values()] == [200, 200]
        keys_cli(data_dir, "revoke", created["id"])
        assert [status(c, created["token"]) for c in workers.values()] == [401, 401]
    finally:
        server.stop()


def test_the_rate_limit_is_shared_by_both_workers(tmp_path):
    """5 tokens a second, a burst of 10, for one public key: 40 requests at once over two workers get at
    most 10 + 5 per second elapsed answers, the rest 429 with a Retry-After."""
    environment = {
        "WAYFINDER_DATA_DIR": str(tmp_path / "var"),
        "WAYFINDER_REGISTRY": str(tmp_path / "registry"),
        "WAYFINDER_PUBLIC_KEY": "wf_public_rate-test",
        "WAYFINDER_RATE_LIMITS": "on",
        "WAYFINDER_RATE_LIMIT_PUBLIC": "5/10",
        "WAYFINDER_RATE_LIMIT_VISITOR": "1000/1000",  # the key's bucket is the one under test
        "GUNICORN_CMD_ARGS": "--keep-alive 120",
    }
    server = Gunicorn(environment).start()
    try:
        workers = list(connections_to_each_worker(server, 2).values())
        started = time.monotonic()
        answers = [_event(workers[n % 2], f"v{n}") for n in range(40)]
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    served = [a for a in answers if a[0] == 200]
    limited = [a for a in answers if a[0] == 429]
    assert len(served) + len(limited) == 40
    assert 10 <= len(served) <= 10 + 5 * elapsed + 1, (len(served), elapsed)
    assert all(int(retry_after) >= 1 for _, retry_after in limited) and limited


def _event(connection: http.client.HTTPConnection, visitor: str) -> tuple[int, str | None]:
    body = json.dumps({"visitor_id": visitor, "type": "page_view"})
    headers = {"Authorization": "Bearer wf_public_rate-test", "Content-Type": "application/json"}
    connection.request("POST", "/v1/events", body=body, headers=headers)
    answer = connection.getresponse()
    answer.read()
    return answer.status, answer.headers.get("Retry-After")

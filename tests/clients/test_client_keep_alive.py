"""The Python client keeps one connection alive per thread, and replaces one the server closed while it was idle
without spending a retry. Against a small HTTP/1.1 server that counts the connections it accepts."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
from wayfinder_client import Wayfinder, WayfinderError  # noqa: E402  (the package, as installed from its folder)


class Counting(BaseHTTPRequestHandler):
    """Answers every request with its path as JSON; `server.drop_after_answer` closes the connection after the
    next answer without saying so (no `Connection: close`), as a server's idle timeout does."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self):
        body = json.dumps({"path": self.path, "authorization": self.headers["Authorization"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.drop_after_answer:
            self.server.drop_after_answer = False
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    running = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    running.daemon_threads = True
    running.connections, running.drop_after_answer, running.lock = 0, False, threading.Lock()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def client(server, **options) -> Wayfinder:
    return Wayfinder(f"http://127.0.0.1:{server.server_address[1]}", "wf_admin_k", **options)


def test_calls_from_one_thread_share_one_connection(server):
    wf = client(server)
    answers = [wf.visitor(f"v {n}") for n in range(5)]
    assert [a["path"] for a in answers] == [f"/v1/visitors/v%20{n}" for n in range(5)]
    assert answers[0]["authorization"] == "Bearer wf_admin_k"
    assert server.connections == 1


def test_a_connection_the_server_closed_is_replaced_without_a_retry(server):
    wf = client(server, retries=0)
    server.drop_after_answer = True
    wf.items()
    assert wf.items() == {"path": "/v1/catalog/items", "authorization": "Bearer wf_admin_k"}
    assert server.connections == 2


def test_each_thread_keeps_its_own_connection_and_close_ends_it(server):
    wf = client(server)
    threads = [threading.Thread(target=lambda: [wf.placements() for _ in range(3)]) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.connections == 3
    with wf:
        wf.placements()
    wf.placements()  # closed on leaving the block: a new connection
    assert server.connections == 5


def test_a_server_that_is_gone_is_no_answer_after_the_retries(server):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(WayfinderError) as gone:
        Wayfinder(f"http://127.0.0.1:{port}", "k", retries=1, backoff_s=0.01).items()
    assert gone.value.status == 0 and "no answer" in gone.value.message


def test_a_url_that_is_not_http_is_refused():
    with pytest.raises(ValueError, match="http://127.0.0.1:8000"):
        Wayfinder("127.0.0.1:8000", "k")

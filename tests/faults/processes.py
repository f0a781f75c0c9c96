"""Real processes for the fault suite: our own redis-server on a free port, a real gunicorn, a load."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import redis

from tests.conftest import TEST_ADMIN_KEY

GUNICORN = Path(sys.executable).parent / "gunicorn"
BARE_CONF = Path(__file__).with_name("bare_gunicorn.conf.py")
"""Named with -c, so that the project's gunicorn.conf.py (read from the working directory by default) is not."""
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, deadline_s: float = 30.0, what: str = "condition", abort=lambda: False):
    """Poll until `condition()` is truthy (a generous deadline, never a timing assert); stop early on `abort()`."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if abort():
            raise AssertionError(f"{what}: gave up, the process it waits on has exited")
        with contextlib.suppress(Exception):
            value = condition()
            if value:
                return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not true within {deadline_s} s")


class RedisServer:
    """A redis-server of our own. `durable`: append-only with fsync always, so a SIGKILL loses no write."""

    def __init__(self, directory: Path, durable: bool = False, port: int | None = None):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.durable = durable
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        command = ["redis-server", "--port", str(self.port), "--save", "", "--daemonize", "no", *persistence]
        command += ["--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(client.ping, what=f"redis-server on port {self.port} answers")
        client.close()
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


class Gunicorn:
    """`gunicorn 'service:create_app()'` configured by WAYFINDER_* environment variables."""

    def __init__(self, environment: dict[str, str], workers: int = 2, threads: int = 4, preload: bool = False):
        self.port = free_port()
        self.environment = environment
        self.command = [str(GUNICORN), "-c", str(BARE_CONF), "--workers", str(workers), "--threads", str(threads)]
        self.command += ["--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5"]
        self.command += ["--preload"] if preload else []
        self.command += ["service:create_app()"]
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workers: int = 2) -> Gunicorn:
        env = {
            # the metrics folder of this test process (an app built here chose one) is not the server's
            **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
            "WAYFINDER_LOG_LEVEL": "WARNING",
            "WAYFINDER_ADMIN_KEY": TEST_ADMIN_KEY,
            "WAYFINDER_RATE_LIMITS": "off",  # the limits' own test turns them on
            **self.environment,
        }
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env)
        try:
            wait_for(
                lambda: len(self.worker_pids()) == workers and self.get("/healthz")[0] == 200,
                60,
                "gunicorn up",
                abort=lambda: self.process.poll() is not None,
            )
        except AssertionError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def worker_pids(self) -> list[int]:
        """The master's gunicorn children (not the embedded redis-server it may supervise)."""
        return [pid for pid in children(self.process.pid) if b"gunicorn" in _cmdline(pid)]

    def get(self, path: str) -> tuple[int, dict]:
        return self.request("GET", path)

    def request(
        self, method: str, path: str, body: object = None, timeout: float = 10, key: str | None = None
    ) -> tuple[int, dict]:
        """One request with the admin key (or `key`; "" for none), its status and JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        key = self.environment.get("WAYFINDER_ADMIN_KEY", TEST_ADMIN_KEY) if key is None else key
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def children(pid: int) -> list[int]:
    """Live child pids of `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(stat.parent.name))
    return found


class EventLoad:
    """Client threads posting page views for a few visitors; a failed request is retried with the
    same event id (what a real client does; dedup makes it exactly-once) until it gets a 2xx."""

    def __init__(self, server: Gunicorn, threads: int = 4, events_per_thread: int = 120, visitors: int = 12):
        self.server = server
        self.plan = [
            [(f"fault-v{(t * 7 + i) % visitors}", uuid.uuid4().hex) for i in range(events_per_thread)]
            for t in range(threads)
        ]
        self.accepted: dict[str, str] = {}  # event id -> visitor
        self.statuses: list[int] = []
        self.failures = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(p,), daemon=True) for p in self.plan]

    def start(self) -> EventLoad:
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> EventLoad:
        for thread in self._threads:
            thread.join(timeout=120)
        return self

    @property
    def sent(self) -> int:
        with self._lock:
            return len(self.accepted)

    def expected_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for visitor in self.accepted.values():
            counts[visitor] = counts.get(visitor, 0) + 1
        return counts

    def _run(self, plan: list[tuple[str, str]]) -> None:
        for visitor, event_id in plan:
            event = {"visitor_id": visitor, "type": "page_view", "event_id": event_id}
            for _ in range(50):
                try:
                    status, body = self.server.request("POST", "/v1/events", event, timeout=10)
                except (OSError, http.client.HTTPException):  # the worker died, perhaps mid-answer: send again
                    status, body = 0, {}
                with self._lock:
                    self.statuses.append(status)
                if 200 <= status < 300 and body.get("accepted", 0) + body.get("duplicates", 0) == 1:
                    with self._lock:
                        self.accepted[event_id] = visitor
                    break
                with self._lock:
                    self.failures += 1
                time.sleep(0.05)


def journal_event_ids(data_dir: Path) -> set[str]:
    ids = set()
    for path in (data_dir / "events").glob("*.jsonl"):
        for line in path.open():
            with contextlib.suppress(ValueError):
                ids.add(json.loads(line)["event_id"])
    return ids

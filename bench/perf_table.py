"""Wayfinder beside the floor and ceiling of this machine, measured in one run: issue 15's table.

    .venv/bin/python bench/perf_table.py               # about 4 minutes; wrk and a Redis at 127.0.0.1:6379
    .venv/bin/python bench/perf_table.py --scale-row   # + the 100,000-item decision (bench/catalog_scale_bench.py)
    GUNICORN_CMD_ARGS="--threads 8" .venv/bin/python bench/perf_table.py   # another worker model, same table

The same protocol as ../shared/bench/perf_run.sh, so its figures compare:
- the floor is the sum of three p50s, each from one client: a 3-command Redis pipeline (a hash of 40 fields, a
  list of 50 recent events, a hash of 50 counters), LightGBM scoring 50 rows x 60 features with 300 trees on one
  thread, and a gunicorn + Flask echo of a decision-sized body over HTTP keep-alive (wrk, one connection);
- the ceiling is wrk against that echo, gunicorn 2 workers x 4 threads, 16 connections;
- Wayfinder runs on a demo model with the project's gunicorn.conf.py (GUNICORN_CMD_ARGS overrides it), rate limits
  off, Redis db `--db` (flushed); a placement of 50 offers; decisions by wrk at 1 and 16 connections; 2,000
  visitors x 20 events for Redis bytes per visitor; events in batches of 100 by wrk at 4 connections; the workers'
  resident memory after the run.
Prints each figure as it comes, then the table (markdown) with the goals of issue 15. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

ROOT = Path(__file__).resolve().parents[1]
KEY = "perf-admin-0123456789abcdef0123456789abcdef"
ECHO_APP = """from flask import Flask, jsonify, request
app = Flask(__name__)
@app.post("/v1/decisions")
def d():
    b = request.get_json()
    return jsonify(decision_id="x", visitor_id=b["visitor_id"],
                   items=[{"item_id": f"i{k}", "score": 0.1, "propensity": 1.0} for k in range(3)])
"""
DECISIONS_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  return wrk.format(nil, "/v1/decisions", nil, string.format(
    '{"visitor_id":"w-%%d","placement":"perf_50","context":{"channel":"web"}}', math.random(1, 5000)))
end
"""
EVENTS_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
n = 0
request = function()
  n = n + 1
  local parts = {}
  for k = 1, 100 do
    parts[k] = string.format('{"visitor_id":"e-%%d","type":"product_view","channel":"web",'
      .. '"item_id":"perf_offer_07","event_id":"%%d-%%d-%%d"}', math.random(1, 20000), n, k, math.random(1, 1e9))
  end
  return wrk.format(nil, "/v1/events", nil, '{"events":[' .. table.concat(parts, ",") .. ']}')
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="a Redis server (its db --db is flushed)")
    parser.add_argument("--db", type=int, default=5)
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--seconds", type=int, default=15, help="each wrk run")
    parser.add_argument("--scale-row", action="store_true", help="also the 100,000-item decision (a few minutes)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    work = Path(tempfile.mkdtemp(prefix="wf-perf-"))
    url = f"{args.redis}/{args.db}"
    redis.Redis.from_url(url).flushdb()
    figures: dict[str, float | str] = {}
    try:
        floor = measure_floor(url, work, args)
        figures.update(floor)
        figures.update(measure_wayfinder(url, work, args))
        if args.scale_row:
            figures["scale_p50"] = measure_scale_row()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(figures, args)


# -- the floor and the ceiling ---------------------------------------------------------------------------------


def measure_floor(url: str, work: Path, args) -> dict[str, float]:
    redis_p50 = redis_pipeline_p50(url)
    print(f"floor: redis pipeline p50 {redis_p50:.3f} ms", flush=True)
    lightgbm_p50 = lightgbm_p50_one_thread()
    print(f"floor: lightgbm 50x60x300 p50 {lightgbm_p50:.3f} ms", flush=True)
    (work / "echo").mkdir()
    (work / "echo" / "echo.py").write_text(ECHO_APP)
    (work / "decisions.lua").write_text(DECISIONS_LUA % KEY)
    echo_port = args.port + 1
    refuse_if_taken(echo_port)
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{echo_port}"]
    server = start([*command, "echo:app"], {}, cwd=work / "echo")
    try:
        wait_for_port(echo_port)
        one = wrk(work / "decisions.lua", echo_port, 1, 10)
        many = wrk(work / "decisions.lua", echo_port, 16, args.seconds)
    finally:
        stop(server)
    print(f"floor: echo over keep-alive p50 {one['p50']:.3f} ms; ceiling {many['rps']:.0f} req/s", flush=True)
    return {
        "redis_p50": redis_p50,
        "lightgbm_p50": lightgbm_p50,
        "echo_p50": one["p50"],
        "floor": redis_p50 + lightgbm_p50 + one["p50"],
        "ceiling": many["rps"],
    }


def redis_pipeline_p50(url: str) -> float:
    client = redis.Redis.from_url(url)
    client.hset("floor:{v1}:ctx", mapping={f"f{i}": i * 1.5 for i in range(40)})
    client.delete("floor:{v1}:recent")
    recent = [json.dumps({"type": "product_view", "item_id": f"i{i}", "ts": 1.7e9 + i}) for i in range(50)]
    client.rpush("floor:{v1}:recent", *recent)
    client.hset("floor:{v1}:caps", mapping={f"i{i}": 1 for i in range(50)})
    times = []
    for _ in range(3000):
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        pipe.hgetall("floor:{v1}:ctx")
        pipe.lrange("floor:{v1}:recent", 0, 49)
        pipe.hgetall("floor:{v1}:caps")
        pipe.execute()
        times.append(time.perf_counter() - started)
    client.delete("floor:{v1}:ctx", "floor:{v1}:recent", "floor:{v1}:caps")
    return float(np.percentile(np.array(times[200:]) * 1e3, 50))


def lightgbm_p50_one_thread() -> float:
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 60))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=len(X)) > 0.5).astype(int)
    params = {"objective": "binary", "num_leaves": 31, "verbose": -1, "num_threads": 2}
    booster = lgb.train(params, lgb.Dataset(X, y), 300)
    rows = rng.normal(size=(50, 60))
    times = []
    for _ in range(2000):
        started = time.perf_counter()
        booster.predict(rows, num_threads=1)
        times.append(time.perf_counter() - started)
    return float(np.percentile(np.array(times[100:]) * 1e3, 50))


# -- Wayfinder ---------------------------------------------------------------------------------------------------


def measure_wayfinder(url: str, work: Path, args) -> dict[str, float | str]:
    python = sys.executable
    events = work / "demo.jsonl"
    run([python, "-m", "training", "--quiet", "simulate", "--out", str(events)])
    run([python, "-m", "training", "--quiet", "train", "--events", str(events), "--registry", str(work / "registry")])
    environment = {
        "WAYFINDER_REDIS_URL": url,
        "WAYFINDER_DATA_DIR": str(work / "var"),
        "WAYFINDER_REGISTRY": str(work / "registry"),
        "WAYFINDER_ADMIN_KEY": KEY,
        "WAYFINDER_RATE_LIMITS": "off",
        "WAYFINDER_PORT": str(args.port),
    }
    server = start(
        [python, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "service:create_app()"], environment
    )
    try:
        wait_for_port(args.port)
        api = Api(args.port)
        seed_placement(api)
        policy = api.call("POST", "/v1/decisions", {"visitor_id": "probe-1", "placement": "perf_50"})[1]["policy"]
        print(f"wayfinder: the probe decision's policy is {policy} (must be model)", flush=True)
        (work / "events.lua").write_text(EVENTS_LUA % KEY)
        one = wrk(work / "decisions.lua", args.port, 1, args.seconds)
        many = wrk(work / "decisions.lua", args.port, 16, args.seconds + 5)
        print(f"wayfinder: decisions p50 {one['p50']:.2f} ms p99 {one['p99']:.2f} ms; {many['rps']:.0f}/s", flush=True)
        bytes_per_visitor = redis_bytes_per_visitor(api, redis.Redis.from_url(url))
        print(f"wayfinder: Redis bytes per visitor {bytes_per_visitor:.0f}", flush=True)
        batches = wrk(work / "events.lua", args.port, 4, args.seconds)
        print(f"wayfinder: events {batches['rps'] * 100:.0f}/s", flush=True)
        memory = worker_memory_mib(server.pid)
    finally:
        stop(server)
    errors = [
        f"{name}: {run['errors']}" for name, run in (("d1", one), ("d16", many), ("events", batches)) if run["errors"]
    ]
    return {
        "policy": policy,
        "decision_p50": one["p50"],
        "decision_p99": one["p99"],
        "decisions_per_s": many["rps"],
        "events_per_s": batches["rps"] * 100,
        "bytes_per_visitor": bytes_per_visitor,
        "memory": memory,
        "errors": "; ".join(errors),
    }


class Api:
    """One kept-alive connection, opened again when the server closed it (gunicorn's keep-alive is 2 s idle)."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        for attempt in range(2):
            try:
                self.connection.request(method, path, json.dumps(body), headers)
                answer = self.connection.getresponse()
                return answer.status, json.loads(answer.read() or b"{}")
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                if attempt:
                    raise
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        raise AssertionError("unreachable")


def perf_items() -> list[dict]:
    """perf_run.sh's 50 offers, 7 tags and values 1 to 5."""
    return [
        {"id": f"perf_offer_{n:02d}", "kind": "offer", "title": f"Offer {n}", "tags": [f"t{n % 7}"], "value": 1 + n % 5}
        for n in range(50)
    ]


def perf_placement(items: list[dict]) -> dict:
    """perf_run.sh's placement over them: 3 slots, value objective, epsilon 0.1, a 5 % holdout."""
    return {
        "id": "perf_50",
        "slots": 3,
        "candidates": [item["id"] for item in items],
        "objective": "value",
        "exploration": {"epsilon": 0.1},
        "holdout_share": 0.05,
        "default_items": [items[0]["id"]],
    }


def seed_placement(api: Api) -> None:
    items = perf_items()
    for item in items:
        assert api.call("PUT", f"/v1/catalog/items/{item['id']}", item)[0] < 300
    assert api.call("PUT", "/v1/placements/perf_50", perf_placement(items))[0] < 300


def redis_bytes_per_visitor(api: Api, client: redis.Redis) -> float:
    """used_memory before and after 2,000 visitors x 20 events (page and product views), as perf_run.sh sends them."""
    before = client.info("memory")["used_memory"]
    for batch in range(40):
        events = [
            {"visitor_id": f"mem-{batch * 50 + v}", "type": t, "channel": "web", "item_id": f"perf_offer_{k % 50:02d}"}
            for v in range(50)
            for k, t in enumerate(["page_view", "product_view"] * 10)
        ]
        api.call("POST", "/v1/events", {"events": events})
    return (client.info("memory")["used_memory"] - before) / 2000


def worker_memory_mib(master: int) -> str:
    children = subprocess.run(["ps", "-o", "rss=", "--ppid", str(master)], capture_output=True, text=True).stdout
    sizes = [int(size) for size in children.split()]
    return f"{sum(sizes) / 1024:.0f} MiB over {len(sizes)} workers"


def measure_scale_row() -> float:
    """p50 of a decision whose pool is a 100,000-item catalog (bench/catalog_scale_bench.py, in process)."""
    output = run([sys.executable, str(ROOT / "bench" / "catalog_scale_bench.py"), "--decisions", "300"])
    found = re.search(r"whole catalog.*?p50\s+([0-9.]+)\s*ms", output, re.S | re.I)
    if not found:
        print(output[-2000:])
        return float("nan")
    return float(found.group(1))


# -- processes -------------------------------------------------------------------------------------------------


def run(command: list[str]) -> str:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def start(command: list[str], environment: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen:
    env = {**os.environ, **environment}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def refuse_if_taken(port: int) -> None:
    """Another server on the port would be measured instead of ours: stop."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return
    sys.exit(f"port {port} is taken by another server: stop it or pass --port")


def wait_for_port(port: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"nothing listens on port {port} after {seconds:.0f} s")


def wrk(script: Path, port: int, connections: int, seconds: int) -> dict:
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    output = subprocess.run([*command, f"http://127.0.0.1:{port}"], capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s*([0-9.]+)", output)
    errors = re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: [^\n]+)", output)
    return {
        "p50": _percentile(output, 50),
        "p99": _percentile(output, 99),
        "rps": float(rps.group(1)),
        "errors": errors,
    }


def _percentile(output: str, which: int) -> float:
    value, unit = re.search(rf"^\s*{which}%\s+([0-9.]+)(us|ms|s)\s*$", output, re.M).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


# -- the table ---------------------------------------------------------------------------------------------------


def print_table(f: dict, args) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    config = os.environ.get("GUNICORN_CMD_ARGS", "")
    print()
    print(f"{dt.date.today()} · commit {commit.strip()} · {os.cpu_count()} cores · gunicorn.conf.py {config}".rstrip())
    print(
        f"floor {f['floor']:.2f} ms = redis {f['redis_p50']:.3f} + lightgbm {f['lightgbm_p50']:.3f} + "
        f"echo {f['echo_p50']:.3f}; ceiling {f['ceiling']:.0f}/s; probe policy {f['policy']}"
    )
    if f.get("errors"):
        print(f"wrk errors: {f['errors']}")
    floor, ceiling = f["floor"], f["ceiling"]
    rows = [
        (
            "decision p50, 50 candidates, 1 connection",
            f"floor {floor:.2f} ms",
            f"{f['decision_p50']:.2f} ms",
            f"{f['decision_p50'] / floor:.2f}×",
            "≤ 1.5×",
        ),
        (
            "decision p99, same",
            f"floor {floor:.2f} ms",
            f"{f['decision_p99']:.2f} ms",
            f"{f['decision_p99'] / floor:.2f}×",
            "≤ 3×",
        ),
        (
            "decisions/s, 16 connections",
            f"echo ceiling {ceiling:,.0f}/s",
            f"{f['decisions_per_s']:,.0f}/s",
            f"{100 * f['decisions_per_s'] / ceiling:.0f} %",
            "≥ 50 %",
        ),
        ("events/s, batches of 100, 4 connections", "", f"{f['events_per_s']:,.0f}/s", "", "≥ 20,000/s"),
        (
            "Redis bytes per visitor, 20 events each, 2,000 visitors",
            "",
            f"{f['bytes_per_visitor']:,.0f} B",
            "",
            "≤ 1,536 B",
        ),
        ("worker memory after the run", "", f["memory"], "", "stated"),
    ]
    if "scale_p50" in f:
        rows.append(
            (
                "decision p50, 100,000-item catalog (in process)",
                f"floor {floor:.2f} ms",
                f"{f['scale_p50']:.2f} ms",
                f"{f['scale_p50'] / floor:.2f}×",
                "as 50 candidates",
            )
        )
    print("| measure | floor or ceiling | Wayfinder | ratio | goal |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

"""Journey analytics on ~1M events: wall time and peak memory of the CLI, and of the API's log reader.

    .venv/bin/python bench/analytics_bench.py                      # 1,000,000 events under var/bench/analytics
    .venv/bin/python bench/analytics_bench.py --events 200000 --dir /tmp/bench

The events are simulated journeys (training.simulate) replicated with new visitor ids and
shifted days until there are --events of them; a fifth of the visitors share a user_id
with another replica (a second device). They are written once, as one JSON Lines file
(what `python -m training analyze` reads) and as the service's daily log (what
GET /v1/analytics/journeys reads). Each measured run is its own fresh process, so its
peak memory (getrusage's ru_maxrss) is its own; each is repeated and the median reported.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate(path: Path, log_dir: Path, n_events: int, seed: int) -> int:
    """Write ~n_events canonical events to `path` (JSONL) and to daily files under `log_dir`."""
    from training.simulate import simulate

    base = pd.DataFrame(simulate(visitors=max(1000, n_events // 44), seed=seed))
    stamps = pd.to_datetime(base["timestamp"], format="ISO8601", utc=True)
    base["ts"] = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    linked = base["visitor_id"].str.extract(r"(\d+)$")[0].astype(int) % 5 == 0  # a fifth are known users
    rng = np.random.default_rng(seed)
    copies, total, replica = [], 0, 0
    while total < n_events:
        copy = base.copy()
        copy["event_id"] = copy["event_id"] + f"-r{replica}"
        copy["visitor_id"] = copy["visitor_id"] + f"-r{replica}"
        copy["user_id"] = np.where(linked, "u-" + base["visitor_id"] + f"-{replica // 2}", None)
        copy["ts"] = copy["ts"] - rng.integers(0, 30) * 86_400.0  # earlier, never past now (analyze refuses the future)
        copies.append(copy)
        total += len(copy)
        replica += 1
    events = pd.concat(copies, ignore_index=True).head(n_events).sort_values("ts", kind="stable")
    events["timestamp"] = pd.to_datetime(events["ts"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["event_id", "visitor_id", "user_id", "type", "timestamp", "channel", "item_id", "value", "properties"]
    events[columns].to_json(path, orient="records", lines=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    day = pd.to_datetime(events["ts"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    for name, rows in events.groupby(day, sort=True):
        rows[[*columns, "ts"]].to_json(log_dir / f"{name}.jsonl", orient="records", lines=True)
    return len(events)


def measure_cli(path: Path, out: Path) -> dict:
    """In this (child) process: `python -m training analyze --events PATH --out OUT`, as a marketer runs it."""
    from training.__main__ import main

    printed = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        main(["analyze", "--events", str(path), "--out", str(out), "--json"])
    wall = time.perf_counter() - started
    answer = json.loads(printed.getvalue())
    return {"wall_s": round(wall, 2), "peak_rss_mib": _peak_mib(), **answer["seconds"], "summary": answer["summary"]}


def measure_log_reader(log_dir: Path) -> dict:
    """In this (child) process: what GET /v1/analytics/journeys does, over the whole log."""
    from models.journey import JourneyMap
    from reports.analytics import analyze_log

    journey = JourneyMap.load(ROOT / "config" / "journey.yaml")
    started = time.perf_counter()
    figures = analyze_log(log_dir, journey)
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 2), "peak_rss_mib": _peak_mib(), "summary": figures["summary"]}


def _peak_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _child(*argv: str) -> dict:
    """Run this script in a fresh process (its peak memory is then its own) and read its JSON answer."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *argv]
    return json.loads(subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", default=str(ROOT / "var" / "bench" / "analytics"))
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the median is reported")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # generate|cli|log and their paths
    args = parser.parse_args()
    if args.child:
        kind, *paths = args.child
        if kind == "generate":
            answer = {"events": generate(Path(paths[0]), Path(paths[1]), args.events, args.seed)}
        elif kind == "cli":
            answer = measure_cli(Path(paths[0]), Path(paths[1]))
        else:
            answer = measure_log_reader(Path(paths[0]))
        print(json.dumps(answer))
        return 0

    work = Path(args.dir)
    path, log_dir = work / f"events-{args.events}.jsonl", work / f"log-{args.events}"
    if not path.exists() or not log_dir.exists():
        started = time.perf_counter()
        count = _child("generate", str(path), str(log_dir), "--events", str(args.events), "--seed", str(args.seed))
        print(f"generated {count['events']:,} events in {time.perf_counter() - started:.1f} s -> {path}")
    print(f"cores: {len(os.sched_getaffinity(0))}, python {sys.version.split()[0]}, pandas {pd.__version__}")
    cli_runs, log_runs = [], []
    for run in range(args.repeat):
        load = os.getloadavg()[0]
        cli_runs.append(cli := _child("cli", str(path), str(work / "report")))
        s = cli["summary"]
        print(
            f"run {run + 1} (load {load:.1f}): python -m training analyze: {s['events']:,} events, "
            f"{s['visitors']:,} journeys: {cli['wall_s']} s (read {cli['read_s']} s, analyse {cli['analyze_s']} s), "
            f"peak RSS {cli['peak_rss_mib']} MiB"
        )
        log_runs.append(log := _child("log", str(log_dir)))
        print(
            f"run {run + 1}: GET /v1/analytics/journeys path (day files + analysis) over the whole log: "
            f"{log['summary']['events']:,} events: {log['wall_s']} s, peak RSS {log['peak_rss_mib']} MiB"
        )
    for name, runs in (("python -m training analyze", cli_runs), ("API log reader + analysis", log_runs)):
        wall = statistics.median(r["wall_s"] for r in runs)
        peak = max(r["peak_rss_mib"] for r in runs)
        print(f"median of {len(runs)}: {name}: {wall} s, peak RSS {peak} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

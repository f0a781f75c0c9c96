"""Throughput of `python -m training batch-decide` over Hillstrom's 64,000 customers; prints the figures.

    .venv/bin/python bench/batch_decide_bench.py [--data ../shared/data] [--learner x|t] [--rows N]

Imports Hillstrom (`python -m training import hillstrom`), fits the uplift model on its randomised log
(`python -m training uplift`), writes every customer's id to a file, then runs, as separate processes,
the command a campaign would run, once per output format:

    python -m training batch-decide --placement email_campaign --ids ids.txt --profiles profiles.jsonl \
        --uplift-model model.json --out decisions.{jsonl,parquet} --holdout-share 0.1 --campaign bench

Each run streams in chunks of 10,000 and appends every decision to <data-dir>/decisions/ (fsync per
chunk). Printed: customers per second of wall time while deciding (profiles already read), the same
with the profile file's reading, and per CPU second of the process, with the machine's load average
(other work on a shared machine slows the wall-clock figure, not the CPU one). Exit code 1 when the
wall-clock rate is under 10,000 customers per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.uplift_hillstrom import DATA, import_sample  # noqa: E402

REQUIRED = 10_000


def _training(*args: str) -> str:
    command = [sys.executable, "-m", "training", "--quiet", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA), help="the shared data folder")
    parser.add_argument("--learner", choices=("x", "t"), default="x")
    parser.add_argument("--rows", type=int, help="a seeded sample of this many customers (default: all 64,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wayfinder-batch-") as work:
        work = Path(work)
        imported = import_sample(Path(args.data) / "hillstrom" / "hillstrom.csv", work / "hillstrom", args.rows)
        model = work / "model.json"
        journey = ROOT / "config" / "journeys" / "hillstrom.yaml"
        decisions = str(imported / "decisions")
        _training(
            "uplift",
            "--decisions",
            decisions,
            "--journey",
            str(journey),
            "--learner",
            args.learner,
            "--out",
            str(model),
        )
        ids = work / "ids.txt"
        with open(imported / "profiles.jsonl") as profiles, open(ids, "w") as out:
            out.writelines(json.loads(line)["visitor_id"] + "\n" for line in profiles if line.strip())
        slowest = None
        for suffix in ("jsonl", "parquet"):
            data_dir = work / f"data-{suffix}"
            load_before = os.getloadavg()[0]
            summary = json.loads(
                _training(
                    "batch-decide",
                    "--data-dir",
                    str(data_dir),
                    "--placement",
                    "email_campaign",
                    "--ids",
                    str(ids),
                    "--profiles",
                    str(imported / "profiles.jsonl"),
                    "--uplift-model",
                    str(model),
                    "--out",
                    str(work / f"decisions.{suffix}"),
                    "--holdout-share",
                    "0.1",
                    "--campaign",
                    "bench",
                    "--json",
                )
            )
            with_profiles = summary["audience"] / summary["total_seconds"]
            print(
                f"batch-decide --out decisions.{suffix} ({args.learner.upper()}-learner): "
                f"{summary['audience']:,} customers "
                f"in {summary['seconds']:.2f} s = {summary['per_second']:,} customers/s streaming "
                f"({with_profiles:,.0f}/s with reading the profiles, {summary['per_cpu_second']:,}/CPU-second); "
                f"{summary['logged']:,} decisions logged; load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} "
                f"on {os.cpu_count()} cores"
            )
            slowest = min(slowest or summary["per_second"], summary["per_second"])
    return 0 if slowest >= REQUIRED else 1


if __name__ == "__main__":
    sys.exit(main())

"""Training speed and memory on real data: import a data set, then train on it, end to end.

    .venv/bin/python bench/train_bench.py [--data ../shared/data] [--only complete-journey,yoochoose] [--max-rows N]

For each data set (The Complete Journey, YOOCHOOSE) runs the two commands a data scientist would
(`python -m training import <kind>`, then `python -m training train` with
config/journeys/<kind>.yaml, the importer's horizon, the profiles where there are any and an empty
catalog; YOOCHOOSE trains on its train_full split) as child processes, and prints the wall
time of each step, of each phase of training (read, replay, next-stage fit, content fit,
bundle), and each step's peak resident memory (ru_maxrss of that child, from os.wait4), plus
the peak over all children (getrusage RUSAGE_CHILDREN).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"train_s": 60.0, "peak_gb": 3.0}
PHASES = (  # progress line starts -> the phase that ends there
    ("joined", "read events"),
    ("replaying", "read events"),
    ("training on events before", "replay (features, point in time)"),
    ("next-stage model fitted", "fit next-stage model"),
    ("content model fitted", "fit content model"),
)


def run(argv: list[str]) -> tuple[float, int, str, list[tuple[float, str]]]:
    """Run one child; its wall seconds, peak RSS (KiB), stdout, and its stderr lines with arrival times."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as captured:  # a file, not a pipe: a long stdout cannot block the child
        child = subprocess.Popen(argv, cwd=ROOT, stdout=captured, stderr=subprocess.PIPE, text=True)
        lines = [(time.perf_counter() - started, line.rstrip()) for line in child.stderr]
        _, status, usage = os.wait4(child.pid, 0)
        captured.seek(0)
        stdout = captured.read()
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode:
        sys.stderr.write("\n".join(line for _, line in lines) + "\n")
        raise SystemExit(f"{' '.join(argv)} failed with exit code {child.returncode}")
    return seconds, usage.ru_maxrss, stdout, lines


def phases(lines: list[tuple[float, str]], total: float) -> list[tuple[str, float]]:
    """Seconds per training phase, from when each progress line arrived."""
    marks, last = [], 0.0
    for at, line in lines:
        for start, name in PHASES:
            if line.startswith(start):
                if not (marks and marks[-1][0] == name):
                    marks.append((name, at - last))
                else:
                    marks[-1] = (name, marks[-1][1] + at - last)
                last = at
    marks.append(("write bundle, register", total - last))
    return marks


DATASETS = {  # kind -> (source folder, events subfolder, horizon days, profiles)
    "complete-journey": ("complete_journey", "", "30", True),
    "yoochoose": ("yoochoose", "train_full", "0.0416667", False),
}


def bench(kind: str, data: Path, max_rows: int | None) -> bool:
    """Import and train one data set; print its figures; whether it met the goals."""
    python = sys.executable
    folder, events, horizon, profiles = DATASETS[kind]
    with tempfile.TemporaryDirectory(prefix="wayfinder-train-bench-") as work:
        work = Path(work)
        config = work / "config"
        config.mkdir()
        (config / "catalog.yaml").write_text("items: []\n")
        (config / "placements.yaml").write_text("placements: []\n")
        import_s, import_kib, out, _ = run(
            [python, "-m", "training", "import", kind, str(data / folder), str(work / "data"), "--json"]
        )
        report = json.loads(out)
        train_argv = [
            python, "-m", "training", "--registry", str(work / "registry"), "train",
            "--events", str(work / "data" / "events" / events),
            "--journey", str(ROOT / "config" / "journeys" / f"{kind}.yaml"),
            "--config-dir", str(config), "--horizon-days", horizon, "--json",
        ]  # fmt: skip
        if profiles:
            train_argv += ["--profiles", str(work / "data" / "profiles.jsonl")]
        if max_rows:
            train_argv += ["--max-rows", str(max_rows)]
        train_s, train_kib, out, lines = run(train_argv)
        summary = json.loads(out)
    ns, ct = summary["metrics"]["next_stage"], summary["metrics"]["content"]
    peak_gb = max(import_kib, train_kib) / 2**20
    print(f"{kind}: {report['rows_read']:,} source rows -> {report['events_written']:,} events")
    print(f"  import            {import_s:7.1f} s   peak {import_kib / 2**20:5.2f} GiB")
    print(
        f"  train             {train_s:7.1f} s   peak {train_kib / 2**20:5.2f} GiB"
        f"   (train() itself: {summary['seconds']} s)"
    )
    for name, seconds in phases(lines, train_s):
        print(f"    {name:<34} {seconds:6.1f} s")
    print(
        f"  rows: next-stage {ns['rows']['train']:,} train / {ns['rows']['test']:,} test; "
        f"content {ct['rows']['train']:,} / {ct['rows']['test']:,}"
    )
    met = train_s < GOALS["train_s"] and peak_gb < GOALS["peak_gb"]
    print(
        f"  goal: train under {GOALS['train_s']:.0f} s and peak under {GOALS['peak_gb']:.0f} GB: "
        + ("met" if met else "NOT met")
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--only", default=",".join(DATASETS), help="comma-separated: " + ", ".join(DATASETS))
    parser.add_argument("--max-rows", type=int, help="passed to train: sample about this many rows")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    for kind in args.only.split(","):
        bench(kind, Path(args.data), args.max_rows)
    print(f"peak over all children {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

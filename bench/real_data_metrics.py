"""Import every public data set, train on each with its journey map, print the models beside their baselines.

    .venv/bin/python bench/real_data_metrics.py [--data ../shared/data] [--only pathdata,hillstrom] > table.md

Each data set is imported (`training.importers.import_dataset`) into a temporary folder and
trained on (`training.train.train`) with config/journeys/<kind>.yaml, the importer's horizon,
an empty catalog (the real data sets have no Wayfinder catalog), and the decision log and
profiles where the importer wrote them. The markdown table goes to stdout, progress to stderr.
The table in docs/importers.md was made with this command.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.catalog import Catalog  # noqa: E402
from models.journey import JourneyMap  # noqa: E402
from training.importers import import_dataset, importer  # noqa: E402
from training.train import train  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Run:
    label: str
    kind: str
    source: str
    """Relative to the shared data folder."""
    max_rows: int | None = None
    """Sample about this many training rows where replaying every event would take minutes."""


RUNS = [
    Run("open-bandit (random)", "open-bandit", "open_bandit/random/all"),
    Run("open-bandit (bts)", "open-bandit", "open_bandit/bts/all"),
    Run("hillstrom", "hillstrom", "hillstrom/hillstrom.csv"),
    Run("pathdata", "pathdata", "pathdata/PathData.csv", max_rows=100_000),
    Run("complete-journey", "complete-journey", "complete_journey"),
    Run("yoochoose", "yoochoose", "yoochoose"),
    Run("online-shoppers", "online-shoppers", "online_shoppers/online_shoppers_intention.csv", max_rows=100_000),
]


def measure(run: Run, data: Path, work: Path) -> dict:
    """Import one data set and train on it; the summary's metrics plus what was run."""
    out = work / run.label.replace(" ", "_").replace("(", "").replace(")", "")
    started = time.perf_counter()
    report = import_dataset(run.kind, data / run.source, out / "data")
    imported = time.perf_counter() - started
    decisions = out / "data" / "decisions"
    profiles = out / "data" / "profiles.jsonl"
    summary = train(
        out / "data" / "events",
        out / "registry",
        JourneyMap.load(ROOT / "config" / "journeys" / f"{run.kind}.yaml"),
        Catalog(items={}, placements={}),
        horizon_days=importer(run.kind).HORIZON_DAYS,
        max_rows=run.max_rows,
        progress=lambda message: print(f"  [{run.label}] {message}", file=sys.stderr),
        decisions_path=decisions if decisions.is_dir() else None,
        profiles=_profiles(profiles) if profiles.is_file() else None,
    )
    return {
        "run": run,
        "events": report.events_written,
        "decisions": report.decisions_written,
        "import_s": imported,
        "train_s": summary["seconds"],
        "metrics": summary["metrics"],
    }


def _profiles(path: Path) -> dict:
    with open(path) as handle:
        return {row["visitor_id"]: row["profile"] for row in map(json.loads, handle)}


def _triple(rows: dict, names: tuple[str, ...], key: str) -> str:
    values = [rows[name].get(key) for name in names]
    best = min((v for v in values if v is not None), default=None) if key == "log_loss" else None
    if key != "log_loss":
        best = max((v for v in values if v is not None), default=None)
    return " / ".join(_cell(v, v == best) for v in values)


def _cell(value, best: bool) -> str:
    if value is None:
        return "–"
    return f"**{value:.4f}**" if best else f"{value:.4f}"


def table(results: list[dict]) -> str:
    """The markdown table: next-stage and content metrics, model first, then its baselines."""
    lines = [
        "| data set | events | horizon | next-stage rows train/test | next-stage log loss: model / markov / base rate "
        "| next-stage AUC: model / markov / base rate | content from, rows train/test "
        "| content log loss: model / popularity / random | content AUC: model / popularity / random "
        "| content ndcg@3: model / popularity / random | beats baselines (next-stage, content) |",
        "|---|---:|---:|---:|---|---|---|---|---|---|---|",
    ]
    for result in results:
        run = result["run"]
        if "error" in result:
            lines.append(f"| {run.label} | – | – | – | failed: {result['error']} | | | | | | |")
            continue
        ns, ct = result["metrics"]["next_stage"], result["metrics"]["content"]
        ns_rows = {"model": ns["model"], **ns["baselines"]}
        ct_rows = {"model": ct["model"], **ct["baselines"]}
        ns_names, ct_names = ("model", "markov_chain", "base_rate"), ("model", "popularity", "random")
        sampled = f" (sampled to ~{run.max_rows:,})" if run.max_rows else ""
        lines.append(
            f"| {run.label} | {result['events']:,}{sampled} | {importer(run.kind).HORIZON_DAYS * 24:g} h "
            f"| {ns['rows']['train']:,} / {ns['rows']['test']:,} "
            f"| {_triple(ns_rows, ns_names, 'log_loss')} | {_triple(ns_rows, ns_names, 'auc_macro')} "
            f"| {ct['trained_on']}, {ct['rows']['train']:,} / {ct['rows']['test']:,} "
            f"| {_triple(ct_rows, ct_names, 'log_loss')} | {_triple(ct_rows, ct_names, 'auc')} "
            f"| {_triple(ct_rows, ct_names, 'ndcg@3')} "
            f"| {_yes(ns['beats_baselines'])}, {_yes(ct['beats_baselines'])} |"
        )
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--only", help="comma-separated labels or kinds to run")
    parser.add_argument("--json", help="also write the raw metrics to this file")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    runs = [r for r in RUNS if wanted is None or r.label in wanted or r.kind in wanted]
    results = []
    with tempfile.TemporaryDirectory(prefix="wayfinder-real-data-") as work:
        for run in runs:
            print(f"{run.label}: importing and training", file=sys.stderr)
            try:
                results.append(measure(run, Path(args.data), Path(work)))
            except Exception as error:  # noqa: BLE001 - one data set failing must not hide the others' figures
                traceback.print_exc()
                results.append({"run": run, "error": f"{type(error).__name__}: {error}"})
            else:
                print(
                    f"{run.label}: import {results[-1]['import_s']:.1f} s, train {results[-1]['train_s']:.1f} s",
                    file=sys.stderr,
                )
    if args.json:
        raw = [{**r, "run": dataclasses.asdict(r["run"])} for r in results]
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    print(table(results))
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Import every public data set, train on each with its journey map, print the models beside their baselines.

    .venv/bin/python bench/real_data_metrics.py [--data ../shared/data] [--only pathdata,hillstrom] > table.md

Each data set is imported (`training.importers.import_dataset`) into a temporary folder and
trained on (`training.train.train`) with config/journeys/<kind>.yaml, the importer's horizon,
an empty catalog (the real data sets have no Wayfinder catalog), and the decision log and
profiles where the importer wrote them. The content model is judged by the full-catalog
evaluation (training/full_catalog.py, docs/evaluation.md) on every later engagement
(`--queries N` samples N, as `train` does by default); the next-stage model by log loss. The
markdown tables go to stdout (a summary, then one table per data set with items to rank),
progress to stderr. The tables in docs/evaluation.md were made with this command.
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


def measure(run: Run, data: Path, work: Path, queries: int | None = None) -> dict:
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
        full_catalog_queries=queries,
    )
    return {
        "run": run,
        "events": report.events_written,
        "decisions": report.decisions_written,
        "import_s": imported,
        "train_s": summary["seconds"],
        "metrics": summary["metrics"],
        "full_catalog": summary["full_catalog"],
    }


def _profiles(path: Path) -> dict:
    with open(path) as handle:
        return {row["visitor_id"]: row["profile"] for row in map(json.loads, handle)}


def _cell(value, best: bool) -> str:
    if value is None:
        return "–"
    return f"**{value:.4f}**" if best else f"{value:.4f}"


def _figure(figure: dict, best: bool = False) -> str:
    """value [low, high], the value bold where best."""
    if not figure or figure.get("value") is None:
        return "–"
    return f"{_cell(figure['value'], best)} [{figure['low']:.4f}, {figure['high']:.4f}]"


def _best_baseline(block: dict, metric: str = "mrr@20") -> str:
    return max(block["baselines"], key=lambda name: block[name][metric]["value"] or 0.0)


def table(results: list[dict]) -> str:
    """The summary table: next-stage log loss, then the content model against the best ranking baseline."""
    lines = [
        "| data set | events | next-stage log loss: model / markov / base rate "
        "| full-catalog queries (seen / new) x items | HR@20: model / best baseline "
        "| MRR@20: model / best baseline | best baseline (by MRR@20) | model beats it? |",
        "|---|---:|---|---:|---|---|---|---|",
    ]
    for result in results:
        run = result["run"]
        if "error" in result:
            lines.append(f"| {run.label} | – | failed: {result['error']} | | | | | |")
            continue
        ns, fc = result["metrics"]["next_stage"], result["full_catalog"]
        losses = [ns["model"]["log_loss"], *(ns["baselines"][b]["log_loss"] for b in ("markov_chain", "base_rate"))]
        loss = " / ".join(_cell(v, v == min(losses)) for v in losses)
        sampled = f" (sampled to ~{run.max_rows:,})" if run.max_rows else ""
        head = f"| {run.label} | {result['events']:,}{sampled} | {loss} "
        if "model" not in fc:
            lines.append(head + f"| {fc.get('queries', 0):,} x {fc.get('universe', 0):,} | – | – | – | n/a |")
            continue
        best = _best_baseline(fc)
        hr = [fc["model"]["hit_rate@20"], fc[best]["hit_rate@20"]]
        mrr = [fc["model"]["mrr@20"], fc[best]["mrr@20"]]
        lines.append(
            head + f"| {fc['queries']:,} ({fc['queries_seen']:,} / {fc['queries_new']:,}) x {fc['universe']:,} "
            f"| {' / '.join(_figure(f, f['value'] == max(x['value'] for x in hr)) for f in hr)} "
            f"| {' / '.join(_figure(f, f['value'] == max(x['value'] for x in mrr)) for f in mrr)} "
            f"| {best} | {_verdict_word(fc['verdict'])} |"
        )
    return "\n".join(lines)


def detail(result: dict) -> str:
    """One data set's full-catalog table: every scorer, every metric with its interval, MRR@20 seen / new."""
    fc = result["full_catalog"]
    names = ["model", *fc["baselines"]]
    metrics = ("hit_rate@10", "hit_rate@20", "ndcg@10", "mrr@20")
    lines = [
        f"**{result['run'].label}**: {fc['queries']:,} queries ({fc['queries_seen']:,} seen, {fc['queries_new']:,} "
        f"new, {fc['queries_with_history']:,} with history), {fc['universe']:,} items, "
        f"{fc['targets_outside_universe']:,} targets outside them. {fc['verdict']}.",
        "",
        "| scorer | HR@10 | HR@20 | NDCG@10 | MRR@20 | MRR@20 seen | MRR@20 new | HR@20 / MRR@20 with history |",
        "|---|---|---|---|---|---|---|---|",
    ]
    best = {m: max(fc[n][m]["value"] for n in names) for m in metrics}
    for name in names:
        row = fc[name]
        cells = " | ".join(_figure(row[m], row[m]["value"] == best[m]) for m in metrics)
        history = row["with_history"]
        lines.append(
            f"| {name} | {cells} | {_figure(row['seen']['mrr@20'])} | {_figure(row['new']['mrr@20'])} "
            f"| {_cell(history['hit_rate@20']['value'], False)} / {_cell(history['mrr@20']['value'], False)} |"
        )
    return "\n".join(lines)


def _verdict_word(verdict: str) -> str:
    if "beats" in verdict and "not" not in verdict:
        return "yes"
    return "ahead, intervals overlap" if "overlap" in verdict else "**no**"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--only", help="comma-separated labels or kinds to run")
    parser.add_argument("--json", help="also write the raw metrics to this file")
    parser.add_argument("--queries", type=int, help="rank a fixed-seed sample of this many queries (default: all)")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    runs = [r for r in RUNS if wanted is None or r.label in wanted or r.kind in wanted]
    results = []
    with tempfile.TemporaryDirectory(prefix="wayfinder-real-data-") as work:
        for run in runs:
            print(f"{run.label}: importing and training", file=sys.stderr)
            try:
                results.append(measure(run, Path(args.data), Path(work), args.queries))
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
    for result in results:
        if "error" not in result and "model" in result["full_catalog"]:
            print("\n" + detail(result))
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

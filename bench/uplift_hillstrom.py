"""Uplift policy on Hillstrom's randomised e-mail test, valued off-policy on a held-out half; prints the figures.

    .venv/bin/python bench/uplift_hillstrom.py [--data ../shared/data] [--rows N] [--learner x|t|both]
                                               [--seeds 0,1,2] [--json out.json]

Imports the data set (`python -m training import hillstrom`; with --rows, a seeded sample of that many
customers), splits the customers in halves (seeded permutation), fits the learner on one half
(training/uplift.py: the switch margin cross-fitted inside that half) and values its policy on the
other by IPS with the logged 1/3 propensities, and SNIPS (the direct difference on a randomised log),
beside each single arm sent to everyone. Differences are paired on the same held-out customers: the
mean of per-customer IPS differences with a 95 % normal interval. Then the sends curve: for each
cost per send, the share of customers sent an e-mail and the estimated visit rate, beside what the best
e-mail sent to a random share of that size would earn (no e-mail + share x its lift: no targeting).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.journey import JourneyMap  # noqa: E402
from training.importers import import_dataset  # noqa: E402
from training.uplift_evaluation import evaluate_on_log  # noqa: E402

DATA = next(
    (p for p in (ROOT.parent / "shared" / "data", Path("/work/shared/data")) if (p / "hillstrom").is_dir()),
    ROOT.parent / "shared" / "data",
)


def import_sample(source: Path, out: Path, rows: int | None, seed: int = 0) -> Path:
    """Import Hillstrom (or a seeded sample of `rows` customers of it) into `out`."""
    if rows is not None:
        frame = pd.read_csv(source)
        sample = frame.sample(n=min(rows, len(frame)), random_state=seed).sort_index()
        source = out.parent / "hillstrom_sample.csv"
        sample.to_csv(source, index=False)
    import_dataset("hillstrom", source, out)
    return out


def _estimate(entry: dict) -> str:
    low, high = entry["ci"]
    return f"{entry['value']:.4f} [{low:.4f}, {high:.4f}]"


def print_result(result: dict) -> None:
    policy = result["policy"]
    print(
        f"{result['learner'].upper()}-learner, seed {result['seed']}: learned on {result['learned_on']:,} customers, "
        f"valued on {result['valued_on']:,} (reward: visit; cost per send 0)"
    )
    print(f"  {'policy':<28} {'IPS [95% CI]':<28} {'SNIPS [95% CI]':<28} observed")
    mix = ", ".join(f"{arm} {share:.1%}" for arm, share in policy["arm_mix"].items())
    print(f"  {'uplift policy':<28} {_estimate(policy['ips']):<28} {_estimate(policy['snips']):<28} ({mix})")
    for arm, entry in result["arms"].items():
        name = "no e-mail" if arm == "no_email" else f"{arm} to everyone"
        print(f"  {name:<28} {_estimate(entry['ips']):<28} {_estimate(entry['snips']):<28} {entry['observed']:.4f}")
    print("  policy minus each arm (IPS, paired on the held-out customers, 95% CI):")
    for arm, entry in result["difference"].items():
        low, high = entry["ci"]
        best = "  <- best single e-mail" if arm == result["best_single"] else ""
        print(f"    - {arm:<14} {entry['value']:+.4f} [{low:+.4f}, {high:+.4f}]{best}")
    print("  sends curve (held-out half):")
    best, none = result["arms"][result["best_single"]], result["arms"]["no_email"]
    header = f"{result['best_single']} to a random share"
    print(f"    {'cost/send':>9} {'e-mails sent':>13} {'visits IPS [95% CI]':>30} {'visits SNIPS':>13} {header:>30}")
    for row in result["curve"]:
        random_share = none["snips"]["value"] + row["sends"] * (best["snips"]["value"] - none["snips"]["value"])
        print(
            f"    {row['cost_per_send']:>9.3f} {row['sends']:>13.1%} {_estimate(row['ips']):>30} "
            f"{row['snips']['value']:>13.4f} {random_share:>30.4f}"
        )
    print(
        f"    beside: {result['best_single']} to everyone (100% sent) {best['snips']['value']:.4f}, "
        f"no e-mail (0% sent) {none['snips']['value']:.4f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA), help="the shared data folder")
    parser.add_argument("--rows", type=int, help="a seeded sample of this many customers (default: all 64,000)")
    parser.add_argument("--learner", choices=("x", "t", "both"), default="both")
    parser.add_argument("--seeds", default="0", help="comma-separated split seeds (default: 0)")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    journey = JourneyMap.load(ROOT / "config" / "journeys" / "hillstrom.yaml")
    learners = ("x", "t") if args.learner == "both" else (args.learner,)
    results = []
    with tempfile.TemporaryDirectory(prefix="wayfinder-uplift-") as work:
        imported = import_sample(Path(args.data) / "hillstrom" / "hillstrom.csv", Path(work) / "hillstrom", args.rows)
        for learner in learners:
            for seed in (int(s) for s in args.seeds.split(",")):
                started = time.perf_counter()
                result = evaluate_on_log(imported, journey, learner, seed)
                result["seconds"] = round(time.perf_counter() - started, 1)
                print_result(result)
                print(f"  ({result['seconds']} s)\n")
                results.append(result)
    if len(results) > 1:
        print("policy minus the best single e-mail to everyone, per learner and seed (IPS, paired, 95% CI):")
        for result in results:
            entry = result["difference"][result["best_single"]]
            low, high = entry["ci"]
            print(
                f"  {result['learner'].upper()} seed {result['seed']}: {entry['value']:+.4f} [{low:+.4f}, {high:+.4f}]"
                f"  (switch margin {result['switch_margin']:g})"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, default=float, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

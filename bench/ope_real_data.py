"""The off-policy estimators on real logs where the truth is known (Hillstrom, Open Bandit); prints the figures.

    .venv/bin/python bench/ope_real_data.py [--data ../shared/data] [--json out.json]

Imports the data sets into a temporary folder (`python -m training import`), then runs the
checks of training/ope_validation.py and prints each estimate with its 95 % interval beside the
truth. Exit code 1 when an interval misses a true value it should hold.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import ope_validation as checks  # noqa: E402
from training.importers import import_dataset  # noqa: E402


def _line(name: str, result: dict, truth: float | None = None) -> str:
    cells = []
    for estimator in checks.ESTIMATORS:
        low, high = result[estimator]["ci"]
        cells.append(f"{estimator} {result[estimator]['value']:.4f} [{low:.4f}, {high:.4f}]")
    tail = f"   truth {truth:.4f}" if truth is not None else ""
    return f"  {name:<22} " + "  ".join(cells) + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    data = Path(args.data)
    with tempfile.TemporaryDirectory(prefix="wayfinder-ope-") as work:
        work = Path(work)
        import_dataset("hillstrom", data / "hillstrom" / "hillstrom.csv", work / "hillstrom")
        import_dataset("open-bandit", data / "open_bandit" / "bts" / "all", work / "bts")
        import_dataset("open-bandit", data / "open_bandit" / "random" / "all", work / "random")
        hillstrom = checks.logged(work / "hillstrom", "hillstrom")
        constant = checks.hillstrom_constant_arm(hillstrom)
        learned = checks.hillstrom_personalized(hillstrom, checks.read_profiles(work / "hillstrom" / "profiles.jsonl"))
        wayfinder = checks.hillstrom_wayfinder_model(work / "hillstrom", work / "registry")
        bandit = checks.open_bandit_uniform(
            checks.logged(work / "bts", "open-bandit"), checks.logged(work / "random", "open-bandit")
        )
    print(f"Hillstrom ({constant['impressions']:,} customers, reward: visit), whole log:")
    print(_line("always mens_email", constant, constant["observed"]))
    print(f"  effective sample size {constant['effective_sample_size']:,}")
    print(
        f"Hillstrom, policy learned on the first {learned['learned_on']:,} customers, "
        f"valued on the last {learned['valued_on']:,}:"
    )
    for name, result in learned["policies"].items():
        print(_line(name, result, result.get("observed")))
    mix = ", ".join(f"{arm} {share:.1%}" for arm, share in learned["policies"]["personalized"]["arm_mix"].items())
    low, high = learned["gain"]["ci"]
    print(f"  personalized sends: {mix}")
    print(
        f"  personalized - {learned['best_single']} (IPS, paired): "
        f"{learned['gain']['value']:+.4f} [{low:+.4f}, {high:+.4f}]"
    )
    print(
        f"Hillstrom, Wayfinder's own model (train --decisions --profiles) valued by `evaluate` "
        f"on the {wayfinder['valued_on']:,} decisions after its training split:"
    )
    for name, result in wayfinder["policies"].items():
        print(_line("Wayfinder model" if name == wayfinder["version"] else name, result))
    print(
        f"Open Bandit: uniform-random CTR from the Bernoulli TS log ({bandit['impressions']:,} impressions), "
        f"truth = CTR of the random log ({bandit['random_impressions']:,}):"
    )
    print(_line("uniform", bandit, bandit["observed_random_ctr"]))
    errors = ", ".join(
        f"{name} {'n/a' if error is None else format(error, '.1%')}" for name, error in bandit["relative_error"].items()
    )
    print(f"  relative error: {errors}; effective sample size {bandit['effective_sample_size']:,}")
    for warning in bandit["warnings"]:
        print(f"  warning: {warning}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"hillstrom": {"whole_log": constant, **learned, "wayfinder": wayfinder}, "open_bandit": bandit},
                default=float,
                indent=1,
            )
        )
    held = [*constant["covers"].values(), *bandit["covers"].values()]
    held += [v for r in learned["policies"].values() for v in r.get("covers", {}).values()]
    return 0 if all(held) else 1


if __name__ == "__main__":
    sys.exit(main())

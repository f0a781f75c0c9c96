"""The estimators on real logs where the truth is known: Hillstrom's randomised arms, Open Bandit's random log.

The bundled subset (tests/data) always runs; the full data sets run when ../shared/data (or
$WAYFINDER_SHARED_DATA) is there, as on the development and CI machines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared_data import shared_data_dir
from training import ope_validation as checks
from training.importers import import_dataset

ROOT = Path(__file__).resolve().parents[2]
SUBSET = ROOT / "tests" / "data"
SHARED = shared_data_dir("hillstrom/hillstrom.csv")
full_data = pytest.mark.skipif(SHARED is None, reason="the shared public data sets are not on this machine")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """(data folder, kind, source below it) -> the import's folder, each imported once."""
    cache = {}

    def get(data: Path, kind: str, source: str) -> Path:
        key = (data, kind, source)
        if key not in cache:
            cache[key] = tmp_path_factory.mktemp(kind) / "out"
            import_dataset(kind, data / source, cache[key])
        return cache[key]

    return get


def test_always_mens_from_the_bundled_hillstrom_subset_holds_the_arm_mean(imported):
    impressions = checks.logged(imported(SUBSET, "hillstrom", "hillstrom/hillstrom.csv"), "hillstrom")
    result = checks.hillstrom_constant_arm(impressions)
    assert result["impressions"] == 300
    assert result["covers"] == {"ips": True, "snips": True, "dr": True}
    assert result["snips"]["value"] == pytest.approx(result["observed"])


@full_data
def test_always_mens_from_the_whole_hillstrom_log_matches_the_observed_arm_mean(imported):
    impressions = checks.logged(imported(SHARED, "hillstrom", "hillstrom/hillstrom.csv"), "hillstrom")
    result = checks.hillstrom_constant_arm(impressions)
    assert result["impressions"] == 64_000
    assert result["observed"] == pytest.approx(0.1828, abs=5e-4)  # the data's README: visit 18.3 % in the Mens arm
    assert result["covers"] == {"ips": True, "snips": True, "dr": True}
    assert result["effective_sample_size"] == pytest.approx(64_000 / 3, rel=0.01)


@full_data
def test_a_policy_learned_on_one_half_of_hillstrom_is_valued_on_the_other(imported):
    folder = imported(SHARED, "hillstrom", "hillstrom/hillstrom.csv")
    learned = checks.hillstrom_personalized(
        checks.logged(folder, "hillstrom"), checks.read_profiles(folder / "profiles.jsonl")
    )
    policies = learned["policies"]
    for name in ("always:mens_email", "always:womens_email", "always:no_email"):
        assert policies[name]["covers"] == {"ips": True, "snips": True, "dr": True}, name
    assert learned["best_single"] == "always:mens_email"
    # sending the right e-mail beats sending none, with room to spare
    assert policies["personalized"]["snips"]["ci"][0] > policies["always:no_email"]["snips"]["ci"][1]
    assert 0 < policies["personalized"]["match_rate"] < 1
    low, high = learned["gain"]["ci"]
    assert low < high


@full_data
def test_the_random_policys_ctr_estimated_from_the_thompson_log_holds_the_random_logs_ctr(imported):
    bts = checks.logged(imported(SHARED, "open-bandit", "open_bandit/bts/all"), "open-bandit")
    random = checks.logged(imported(SHARED, "open-bandit", "open_bandit/random/all"), "open-bandit")
    result = checks.open_bandit_uniform(bts, random)
    assert result["observed_random_ctr"] == pytest.approx(0.0038)  # 38 clicks in 10,000 impressions
    assert result["covers"] == {"ips": True, "snips": True, "dr": True}
    assert all(0 <= error < 1 for error in result["relative_error"].values())
    assert any("propensities are under" in warning for warning in result["warnings"])

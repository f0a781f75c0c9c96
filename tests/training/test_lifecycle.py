"""Champion and challenger on the service's own logs: evaluate, gated promote, forced promote, retrain."""

import json

import pytest

from models.registry import Registry
from service import create_app
from tests import logged_traffic
from training.__main__ import main


@pytest.fixture(scope="module")
def served_once(tmp_path_factory, trained_registry, embedded_redis):
    """A service with a champion model that has served 400 visitors with exploration (once for the module)."""
    root = tmp_path_factory.mktemp("served")
    return logged_traffic.served_once(root, trained_registry, f"unix://{embedded_redis.socket_file}", visitors=400)


@pytest.fixture
def served(served_once, model_settings, tmp_path):
    """Each test's own copy of the served logs and registry (tests promote, retrain and rewrite them)."""
    return logged_traffic.copy_served(served_once, model_settings, tmp_path)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def train_challenger(capsys, settings, events) -> str:
    """Register a version trained on `events` without making it current; its version."""
    code, out, err = run(capsys, "--registry", settings.registry, "train", "--events", events, "--no-promote", "--json")
    assert code == 0, err
    return json.loads(out)["version"]


def evaluate(capsys, settings, policy):
    code, out, err = run(
        capsys,
        "--registry",
        settings.registry,
        "evaluate",
        "--model",
        policy,
        "--decisions",
        settings.data_dir / "decisions",
        "--json",
    )
    assert code == 0, err
    return json.loads(out)


def test_off_policy_estimates_rank_policies_by_their_true_value(served, capsys):
    always_e2 = evaluate(capsys, served, "always:hero_e2_electric")
    uniform = evaluate(capsys, served, "uniform")
    champion = evaluate(capsys, served, "current")
    for result in (always_e2, uniform, champion):
        assert set(result) >= {"ips", "snips", "dr", "effective_sample_size", "warnings", "logged_value"}
        assert result["impressions"] == 400
    # true click rates: e2 0.6, the others 0.05; uniform over the 3 heroes ~ 0.23
    assert always_e2["snips"]["ci"][0] > uniform["snips"]["ci"][1]
    assert 0.4 < always_e2["snips"]["value"] < 0.8
    assert 0.1 < uniform["snips"]["value"] < 0.4
    assert champion["match_rate"] > 0


def test_promotion_is_gated_and_forcing_is_recorded(served, capsys):
    registry = Registry(served.registry)
    champion = registry.current()
    code, out, err = run(capsys, "--registry", served.registry, "retrain", "--data-dir", served.data_dir, "--json")
    assert code == 0, err
    outcome = json.loads(out)
    challenger = outcome["trained"]["version"]
    assert outcome["trained"]["metrics"]["content"]["trained_on"] == "impressions"
    if outcome["promoted"]:
        assert registry.current() == challenger and outcome["difference"]["ci"][0] >= 0.0
    else:
        assert registry.current() == champion and "not promoted" in outcome["reason"]
        code, _, err = run(capsys, "--registry", served.registry, "promote", challenger, "--data-dir", served.data_dir)
        assert code == 2 and "not promoted" in err
    code, out, err = run(capsys, "--registry", served.registry, "retrain", "--data-dir", served.data_dir, "--json")
    again = json.loads(out)
    assert code == 0 and again["trained"] is None and again["promoted"] is False
    assert f"unchanged since {challenger}" in again["reason"]
    assert Registry(served.registry).versions()[-1] == challenger  # nothing new was registered
    code, _, err = run(capsys, "--registry", served.registry, "promote", champion, "--force")
    assert code == 2 and "--reason" in err
    code, _, _ = run(
        capsys, "--registry", served.registry, "promote", champion, "--force", "--reason", "marketing freeze"
    )
    assert code == 0 and registry.current() == champion
    assert registry.history()[-1]["reason"] == "forced: marketing freeze"


def test_without_logged_traffic_a_challenger_is_refused(model_settings, capsys, demo_events):
    registry = Registry(model_settings.registry)
    code, out, _ = run(capsys, "--registry", model_settings.registry, "train", "--events", demo_events, "--json")
    challenger = json.loads(out)["version"]
    assert registry.current() != challenger  # a champion exists: train only registers
    code, _, err = run(
        capsys, "--registry", model_settings.registry, "promote", challenger, "--data-dir", model_settings.data_dir
    )
    assert code == 2 and "no logged decisions" in err


def test_shadow_challenger_scores_live_traffic_without_changing_answers(served, capsys, demo_events):
    registry = Registry(served.registry)
    champion = registry.current()
    challenger = train_challenger(capsys, served, demo_events)
    assert run(capsys, "--registry", served.registry, "shadow", challenger)[0] == 0
    client = create_app(served).test_client()
    logged_traffic.serve(client, visitors=50, seed=3, prefix="s")
    records = [json.loads(line) for f in sorted((served.data_dir / "decisions").glob("*.jsonl")) for line in f.open()]
    shadowed = [r for r in records if "shadow" in r]
    assert len(shadowed) == 50
    assert all(r["model_version"] == champion and r["shadow"]["model_version"] == challenger for r in shadowed)
    result = evaluate(capsys, served, "shadow")
    # valued on the 50 decisions it scored, not diluted by the 400 it never saw
    assert result["impressions"] == 50 and result["decisions"] == 50 and result["match_rate"] > 0
    assert run(capsys, "--registry", served.registry, "shadow", "--off")[0] == 0
    assert registry.shadow() is None


def test_the_command_line_describes_itself(capsys):
    import pytest as _pytest

    with _pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "promote", "retrain", "shadow", "rollback", "report"):
        assert command in out


def test_a_champion_this_code_cannot_load_does_not_block_promotion(served, capsys, demo_events):
    """After an upgrade changes the feature spec the service is on fallback: the gate has nothing to compare."""
    registry = Registry(served.registry)
    champion = registry.current()
    challenger = train_challenger(capsys, served, demo_events)
    manifest_path = registry.path(champion) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["features"]["version"] = "0"  # as a bundle from an older release
    manifest_path.write_text(json.dumps(manifest))
    code, out, err = run(capsys, "--registry", served.registry, "promote", challenger, "--data-dir", served.data_dir)
    assert code == 0, err
    assert registry.current() == challenger
    assert "cannot be loaded" in registry.history()[-1]["reason"]


def test_a_changed_recent_events_cap_is_a_reason_to_retrain(served, capsys, monkeypatch):
    argv = ("--registry", served.registry, "retrain", "--data-dir", served.data_dir, "--json")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    first = json.loads(out)["trained"]["version"]
    monkeypatch.setenv("WAYFINDER_RECENT_EVENTS_CAP", "10")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    again = json.loads(out)["trained"]
    assert again is not None and again["version"] != first
    assert Registry(served.registry).manifest(again["version"])["feature_settings"]["recent_events_cap"] == 10

"""`python -m training`: the common options in the same place for every command, the journey map a bundle
was trained on as evaluate's and promote's default, and progress lines on stderr (docs/cli.md)."""

import json
import shutil

import pytest
import yaml

from config.settings import CONFIG_DIR
from models.registry import Registry
from service import create_app
from tests import logged_traffic
from training.__main__ import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    said = capsys.readouterr()
    return code, said.out, said.err


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["shadow"],
        ["evaluate", "--model", "current", "--decisions", "nowhere"],
        ["promote", "20260101T000000Z-abcdef"],
        ["report"],
    ],
)
def test_the_registry_is_the_same_option_before_and_after_every_command(tmp_path, capsys, command):
    registry = str(tmp_path / "somewhere")
    after = run(capsys, *command, "--registry", registry)
    before = run(capsys, "--registry", registry, *command)
    assert after == before
    assert registry in after[1] + after[2] or command == ["shadow"]  # shadow says only what it shadows


def test_after_the_command_wins_and_the_environment_is_the_default(tmp_path, capsys, monkeypatch):
    first, second, default = tmp_path / "first", tmp_path / "second", tmp_path / "from-env"
    code, out, _ = run(capsys, "--registry", first, "list", "--registry", second)
    assert code == 0 and str(second) in out and str(first) not in out
    monkeypatch.setenv("WAYFINDER_REGISTRY", str(default))
    code, out, _ = run(capsys, "list")
    assert code == 0 and f"no versions in {default}" in out


def test_data_dir_and_config_dir_are_accepted_before_and_after(tmp_path, capsys):
    # keys: --data-dir before the command, between it and its action, or after the action: one folder
    code, out, _ = run(capsys, "--data-dir", tmp_path / "keys", "keys", "create", "--scope", "server", "--json")
    assert code == 0
    created = json.loads(out)["id"]
    for argv in (["keys", "--data-dir", tmp_path / "keys", "list"], ["keys", "list", "--data-dir", tmp_path / "keys"]):
        code, out, _ = run(capsys, *argv, "--json")
        assert code == 0 and [key["id"] for key in json.loads(out)] == [created]
    # a config dir without a journey map: the same refusal, naming it, wherever the option stands
    command = ["analyze", "--events", tmp_path / "none.jsonl", "--out", tmp_path / "report"]
    after = run(capsys, *command, "--config-dir", tmp_path)
    assert after == run(capsys, "--config-dir", tmp_path, *command)
    assert after[0] == 2 and f"journey map not found: {tmp_path / 'journey.yaml'}" in after[2]


@pytest.fixture
def other_config(tmp_path):
    """A config dir whose journey map is not the one the session's bundle was trained on: one stage more."""
    config = tmp_path / "config-other"
    shutil.copytree(CONFIG_DIR, config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    journey = yaml.safe_load((config / "journey.yaml").read_text())
    journey["stages"].append("advocacy")
    journey["events"]["referral"] = "advocacy"
    (config / "journey.yaml").write_text(yaml.safe_dump(journey))
    return config


@pytest.fixture
def served(model_settings):
    """The session's bundle (trained on config/journey.yaml) as champion, a copy of it registered beside it
    as a challenger, and 40 visitors' logged decisions with outcomes."""
    client = create_app(model_settings).test_client()
    logged_traffic.explore(client)
    logged_traffic.serve(client, visitors=40, seed=5)
    registry = Registry(model_settings.registry)
    challenger = "20990101T000000Z-c0ffee"
    shutil.copytree(registry.path(registry.current()), registry.path(challenger))
    return model_settings, challenger


def test_evaluate_and_promote_use_the_map_the_bundle_was_trained_on(served, other_config, capsys):
    settings, challenger = served
    common = ["--registry", settings.registry, "--data-dir", settings.data_dir, "--config-dir", other_config]
    evaluate = ["evaluate", "--model", "current", "--decisions", settings.data_dir / "decisions", "--json"]
    # the config dir's map has another stage; the bundle's own map is the default, not that one
    code, out, err = run(capsys, *common, *evaluate)
    assert code == 0, err
    assert json.loads(out)["impressions"] == 40
    # naming the map it was trained on is fine; naming another is refused, and the message names both
    assert run(capsys, *common, *evaluate, "--journey", CONFIG_DIR / "journey.yaml")[0] == 0
    code, out, err = run(capsys, *common, *evaluate, "--journey", other_config / "journey.yaml")
    assert code == 2 and out == ""
    assert f"--journey {other_config / 'journey.yaml'} is not the journey map" in err
    assert "stages: trained on ['awareness', 'consideration', 'intent', 'conversion', 'loyalty'], given" in err
    assert "'loyalty', 'advocacy']" in err
    code, _, err = run(capsys, *common, "promote", challenger, "--journey", other_config / "journey.yaml")
    assert code == 2 and "is not the journey map" in err and Registry(settings.registry).current() != challenger
    # promote: the gate runs under the bundle's map, and says the config dir's map is another one
    code, out, err = run(capsys, *common, "promote", challenger)
    assert code == 0, err
    assert f"{challenger} is current" in out and "difference 0.0000" in out
    assert f"warning: {challenger} was trained on another journey map than {other_config / 'journey.yaml'}" in err
    assert "cannot load it" in err
    assert Registry(settings.registry).current() == challenger


def test_progress_goes_to_stderr_and_quiet_turns_it_off(served, capsys):
    settings, _ = served
    evaluate = ["--registry", settings.registry, "evaluate", "--model", "uniform"]
    evaluate += ["--decisions", settings.data_dir / "decisions", "--json"]
    code, out, err = run(capsys, *evaluate)
    assert code == 0
    json.loads(out)  # stdout holds the result alone
    lines = err.splitlines()
    assert lines[0].startswith("[evaluate ") and lines[0].endswith(
        f"reading decisions from {evaluate[6]} and outcomes from {settings.data_dir / 'events'}…"
    )
    assert any(
        " s] reading decisions from " in line and ": done in " in line and "impressions" in line for line in lines
    )
    assert any("scoring uniform on the logged decisions: done in" in line for line in lines)
    code, out, err = run(capsys, *evaluate, "--quiet")
    assert code == 0 and err == "" and json.loads(out)["policy"] == "uniform"
    code, out, err = run(capsys, "--quiet", *evaluate)
    assert code == 0 and err == ""


def test_a_row_counter_prints_at_most_once_a_second(capsys):
    from training.progress import Progress

    counter = Progress("train").counter("replayed", "events", every=10)
    counter.interval_s = 3600.0  # not an hour since the last line: nothing
    for _ in range(25):
        counter.add()
    assert counter.count == 25 and capsys.readouterr().err == ""
    counter.interval_s = 0.0
    counter.add(5)
    assert capsys.readouterr().err.endswith("] replayed: 30 events\n")
    quiet = Progress("train", quiet=True).counter("replayed", every=1)
    quiet.interval_s = 0.0
    quiet.add()
    assert capsys.readouterr().err == ""

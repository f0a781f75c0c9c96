"""Profile attributes the journey map declares are model features, served and logged with each decision."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import yaml

from models.journey import JourneyMap
from service import create_app
from tests.conftest import CONFIG_DIR
from training.decision_logs import read_impressions
from training.train import train

DECLARED = {"segment": ["fleet", "private"], "age": "number"}


@pytest.fixture(scope="module")
def profiled_model(tmp_path_factory, demo_events, catalog):
    """A journey map that declares two profile features, and a model trained on it (once for both backends)."""
    root = tmp_path_factory.mktemp("profiled")
    config = root / "config"
    shutil.copytree(CONFIG_DIR, config, ignore=shutil.ignore_patterns("*.py", "journeys"))
    raw = yaml.safe_load((config / "journey.yaml").read_text())
    (config / "journey.yaml").write_text(yaml.safe_dump({**raw, "profile_features": DECLARED}, sort_keys=False))
    journey = JourneyMap.load(config / "journey.yaml")
    profiles = {
        f"v{k}": {"segment": "fleet" if k % 2 else "private", "attributes": {"age": 20 + k % 50}} for k in range(600)
    }
    train(demo_events, root / "registry", journey, catalog, progress=lambda _: None, profiles=profiles)
    return config, root / "registry"


@pytest.fixture
def profiled_settings(settings, profiled_model, tmp_path):
    """Settings on that map, with a copy of that model."""
    config, registry = profiled_model
    shutil.copytree(registry, tmp_path / "registry-profiled")
    return dataclasses.replace(settings, config_dir=config, registry=tmp_path / "registry-profiled")


def test_declared_profile_attributes_are_features_and_are_logged_with_the_decision(profiled_settings):
    client = create_app(profiled_settings).test_client()
    assert (
        client.put(
            "/v1/visitors/p-1/profile", json={"segment": "fleet", "interests": ["pets"], "attributes": {"age": 41}}
        ).status_code
        == 200
    )
    answer = client.post(
        "/v1/decisions",
        json={"visitor_id": "p-1", "placement": "home_hero", "context": {"channel": "web"}, "explain": True},
    ).get_json()
    assert answer["policy"] == "model"
    logged = [json.loads(line) for f in (profiled_settings.data_dir / "decisions").glob("*.jsonl") for line in f.open()]
    expected = {"interests": ["pets"], "segment": "fleet", "age": 41}
    assert logged[-1]["profile"] == expected
    assert read_impressions(profiled_settings.data_dir / "decisions")["profile"].iloc[-1] == expected
    manifest = json.loads(next((profiled_settings.registry).glob("*/manifest.json")).read_text())
    assert manifest["features"]["next_stage"][-2:] == ["profile_segment", "profile_age"]

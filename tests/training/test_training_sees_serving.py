"""Training computes each feature as serving computed it: the profile each decision logged, the service's
recent-events cap (recorded in the bundle and honoured when serving), a missing value as nothing, the
candidate items of the data being trained on, and a registered model fitted on all the data."""

import json

import numpy as np
import pandas as pd
import yaml

from models.bundle import ModelBundle
from models.context import apply_event, new_context
from models.features import FeatureSpec
from models.registry import Registry
from tests import journey_log
from training.__main__ import main
from training.replay import replay

HOUR = 3600.0


def logged_impressions(profile: dict) -> pd.DataFrame:
    """Visitor a was shown the E2 (tags electric, city) right after their first page view."""
    return pd.DataFrame(
        [
            {
                "decision_id": "d1",
                "visitor_id": "a",
                "user_id": None,
                "placement": "home_hero",
                "ts": journey_log.T0.timestamp() + 0.5 * HOUR,
                "channel": "web",
                "item_id": "hero_e2_electric",
                "position": 0,
                "propensity": 0.5,
                "reward": 1,
                "profile": profile,
            }
        ]
    )


def test_content_rows_of_logged_decisions_read_the_profile_each_decision_logged(journey, catalog):
    spec = FeatureSpec(journey)
    rows = replay(
        journey_log.frame(),
        spec,
        catalog.items,
        horizon_s=30 * 86_400,
        impressions=logged_impressions({"interests": ["electric", "city"]}),
    )
    match = rows.content.X[0, spec.content_names.index("item_interest_match")]
    assert match == 2.0  # as serving scored it: both of the visitor's interests are the item's tags


def test_an_event_without_a_value_adds_nothing_as_in_serving(journey, catalog):
    spec = FeatureSpec(journey)
    rows = replay(journey_log.frame(), spec, catalog.items, horizon_s=30 * 86_400)
    values = rows.next_stage.X[:, spec.context_names.index("value_total_log")]
    assert not np.isnan(values).any() and (values == 0.0).all()


def test_the_recent_events_cap_is_the_services_recorded_in_the_bundle_and_honoured_when_serving(
    tmp_path, capsys, demo_events, journey, monkeypatch
):
    monkeypatch.setenv("WAYFINDER_RECENT_EVENTS_CAP", "3")
    registry = tmp_path / "registry"
    assert main(["--registry", str(registry), "train", "--events", str(demo_events), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    manifest = Registry(registry).manifest(summary["version"])
    assert manifest["feature_settings"]["recent_events_cap"] == 3
    assert manifest["feature_settings"]["horizon_days"] == 30.0 and manifest["feature_settings"]["negatives"] == 4
    bundle = ModelBundle.load(registry / summary["version"], journey)
    # the service's context keeps 50; the model learned on the latest 3 and must read only those
    ctx = new_context("v")
    for n in range(10):
        event = {"event_id": f"e{n}", "visitor_id": "v", "type": "product_view", "ts": 1e9 + n, "item_id": f"i{n}"}
        apply_event(ctx, event, journey, recent_cap=50)
    row = bundle.spec.context_row(ctx, 1e9 + 20)
    assert row[bundle.spec.context_names.index("recent_distinct_items")] == 3


def small_world(tmp_path):
    """A data set with its own journey map and items (s1..s6), nothing like the demo catalog."""
    journey = {
        "stages": ["browse", "buy"],
        "events": {"look": "browse", "order": "buy"},
        "outcomes": ["click"],
        "channels": ["web"],
    }
    (tmp_path / "journey.yaml").write_text(yaml.safe_dump(journey))
    rng = np.random.default_rng(5)
    with open(tmp_path / "events.jsonl", "w") as handle:
        for visitor in range(250):
            ts = 1.7e9 + visitor * 3000.0
            for step in range(int(rng.integers(2, 6))):
                kind = "order" if step >= 3 and rng.random() < 0.5 else "look"
                item = f"s{int(rng.integers(1, 7))}"
                record = {"visitor_id": f"w{visitor}", "type": kind, "ts": ts + step * 600, "item_id": item}
                handle.write(json.dumps({**record, "channel": "web"}) + "\n")
    return tmp_path / "journey.yaml", tmp_path / "events.jsonl"


def test_an_imported_data_set_draws_negatives_only_from_its_own_items(tmp_path, capsys):
    journey_path, events = small_world(tmp_path)
    registry = tmp_path / "registry"
    argv = ["--registry", str(registry), "train", "--events", str(events), "--journey", str(journey_path), "--json"]
    assert main(argv) == 0, capsys.readouterr().err
    manifest = Registry(registry).manifest(json.loads(capsys.readouterr().out)["version"])
    assert manifest["data"]["catalog"] is None
    assert manifest["data"]["candidate_items"] == 6


def test_the_registered_model_is_refitted_on_all_the_data_with_the_trees_found(trained_registry, journey):
    registry = Registry(trained_registry)  # the session's bundle, trained by training.train.train on the demo
    version = registry.current()
    metrics = registry.manifest(version)["metrics"]
    bundle = ModelBundle.load(trained_registry / version, journey)
    for name, model in (("next_stage", bundle.next_stage), ("content", bundle.content)):
        refit = metrics[name]["refit"]
        assert refit["rows"] == metrics[name]["rows"]["train"] + metrics[name]["rows"]["test"]
        assert refit["num_trees"] == model.booster_.current_iteration() >= 1
        assert refit["num_trees"] == metrics[name]["evaluated_num_trees"]

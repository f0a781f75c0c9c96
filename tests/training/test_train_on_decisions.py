"""Retraining the content model from the service's own decision log: outcomes joined, IPS weights."""

import json
import time

from models.bundle import ModelBundle
from models.context import new_context
from models.registry import Registry
from service import create_app
from tests import logged_traffic
from training.__main__ import main


def test_content_model_learns_from_logged_impressions(model_settings, capsys, journey, catalog):
    client = create_app(model_settings).test_client()
    logged_traffic.explore(client)
    clicks = logged_traffic.serve(client, visitors=600, seed=5)
    data = model_settings.data_dir
    registry = str(model_settings.registry)
    code = main(
        [
            "--registry",
            registry,
            "train",
            "--events",
            str(data / "events"),
            "--decisions",
            str(data / "decisions"),
            "--no-promote",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    content = summary["metrics"]["content"]
    assert content["trained_on"] == "impressions"
    assert content["rows"]["train"] + content["rows"]["test"] == 600
    assert content["ips_weights"]["max"] > 1.0  # explored slots were shown with propensity < 1
    manifest = Registry(registry).manifest(summary["version"])
    assert manifest["data"]["outcome_join"]["by_decision_id"] == clicks
    assert manifest["data"]["outcome_join"]["orphan"] == 0
    assert manifest["feature_settings"]["profiles"] == "the decision log"

    bundle = ModelBundle.load(Registry(registry).path(summary["version"]), journey)
    ctx = new_context("fresh")
    items = ["hero_e2_electric", "hero_x3_family_suv", "hero_x5_m_sport"]
    # scored now, as the service would: the decisions and clicks were logged at the time they were sent
    # (only the page views carry timestamps), so item ages and trends are read as of now
    X = bundle.spec.content_matrix(ctx, time.time(), None, items, bundle.item_stats, catalog.items)
    p = bundle.content.predict(X)
    assert p[0] > p[1] and p[0] > p[2]


def test_each_visitor_keeps_the_profile_its_latest_decision_logged():
    import pandas as pd

    from training.decision_logs import logged_profiles

    impressions = pd.DataFrame(
        {
            "visitor_id": ["v1", "v1", "v2", "v3", "v4"],
            "user_id": [None, None, "u1", "u1", None],
            "profile": [{"segment": "a"}, {"segment": "b"}, {"segment": "c"}, {"segment": "d"}, {}],
        }
    )
    assert logged_profiles(impressions) == {"v1": {"segment": "b"}, "u1": {"segment": "d"}}

"""Retraining the content model from the service's own decision log: outcomes joined, IPS weights."""

import datetime as dt
import json

import numpy as np

from models.bundle import ModelBundle
from models.context import new_context
from models.registry import Registry
from service import create_app
from training.__main__ import main

CLICK_RATE = {"hero_e2_electric": 0.6}  # everything else: 0.05


def test_content_model_learns_from_logged_impressions(model_settings, capsys, journey, catalog):
    client = create_app(model_settings).test_client()
    placement = client.get("/v1/placements/home_hero").get_json()
    client.put("/v1/placements/home_hero", json={**placement, "exploration": {"epsilon": 0.5}, "holdout_share": 0})
    rng = np.random.default_rng(5)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    clicks = 0
    for n in range(300):
        visitor = f"d{n}"
        for step in range(2):
            stamp = (start + dt.timedelta(days=n % 60, hours=step)).isoformat()
            client.post("/v1/events", json={"visitor_id": visitor, "type": "page_view", "timestamp": stamp})
        decision = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": "home_hero"}).get_json()
        item = decision["items"][0]["item_id"]
        if rng.random() < CLICK_RATE.get(item, 0.05):
            clicks += 1
            event = {"visitor_id": visitor, "type": "click", "item_id": item, "decision_id": decision["decision_id"]}
            client.post("/v1/events", json=event)

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
    assert content["rows"]["train"] + content["rows"]["test"] == 300
    assert content["ips_weights"]["max"] > 1.0  # explored slots were shown with propensity < 1
    manifest = Registry(registry).manifest(summary["version"])
    assert manifest["data"]["outcome_join"]["by_decision_id"] == clicks
    assert manifest["data"]["outcome_join"]["orphan"] == 0

    bundle = ModelBundle.load(Registry(registry).path(summary["version"]), journey)
    ctx = new_context("fresh")
    items = ["hero_e2_electric", "hero_x3_family_suv", "hero_x5_m_sport"]
    X = bundle.spec.content_matrix(ctx, start.timestamp(), None, items, bundle.item_stats, catalog.items)
    p = bundle.content.predict(X)
    assert p[0] > p[1] and p[0] > p[2]

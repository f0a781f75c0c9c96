"""Decisions over a pool larger than the shortlist (issue 11, serving at scale): retrieve, screen what was
retrieved, rank; never an ineligible item, whatever retrieval proposes. Real catalog, real model, real Redis."""

import dataclasses
import datetime as dt
import json
import shutil

import numpy as np
import pytest
import yaml

from models.catalog import Catalog
from models.scoring import SHORTLIST
from service import create_app
from tests.conftest import CONFIG_DIR
from tests.logged_traffic import product_view
from training.train import train

A, B, GONE, C = "lead_a", "next_b", "gone_d", "popular_c"
FILLERS = 1_200
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()


def _items() -> list[dict]:
    """A, B (viewed after A by many; capped at one impression a day), D (viewed after A too, but its
    dates are over), C (the most popular), and 1,200 others in 40 tag groups."""
    return [
        {"id": A, "title": "The lead item", "tags": ["lead"]},
        {"id": B, "title": "The next item", "tags": ["next"], "caps": {"per_visitor_per_day": 1}},
        {"id": GONE, "title": "Gone", "tags": ["next"], "end": "2025-01-01T00:00:00Z"},
        {"id": C, "title": "Popular", "tags": ["popular"]},
        *({"id": f"bulk_{n:04d}", "title": f"Bulk {n}", "tags": [f"group_{n % 40}"]} for n in range(FILLERS)),
    ]


def _log(path, rng) -> None:
    events, t = [], START

    def view(visitor, item, at):
        events.append(product_view(visitor, item, at))

    for n, kind in enumerate(rng.choice(["ab", "ad", "c", "bulk"], size=400, p=[0.3, 0.15, 0.35, 0.2])):
        t += 3_600
        if kind == "c":
            view(f"c{n}", C, t)
        elif kind == "bulk":
            first = int(rng.integers(FILLERS - 1))
            view(f"bulk{n}", f"bulk_{first:04d}", t)
            view(f"bulk{n}", f"bulk_{first + 1:04d}", t + 60)
        else:
            view(f"{kind}{n}", A, t)
            view(f"{kind}{n}", B if kind == "ab" else GONE, t + 60)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


@pytest.fixture(scope="module")
def large(tmp_path_factory, journey):
    """(config dir, registry): the demo configuration plus 1,204 content items and a placement over every
    content item, and a model trained on a log over them."""
    root = tmp_path_factory.mktemp("large")
    config = root / "config"
    shutil.copytree(CONFIG_DIR, config)
    catalog_yaml = yaml.safe_load((config / "catalog.yaml").read_text())
    catalog_yaml["items"].extend(_items())
    (config / "catalog.yaml").write_text(yaml.safe_dump(catalog_yaml))
    placements = yaml.safe_load((config / "placements.yaml").read_text())
    placements["placements"].append({"id": "wide", "slots": 3, "candidates": {"kinds": ["content"]}})
    (config / "placements.yaml").write_text(yaml.safe_dump(placements))
    _log(root / "events.jsonl", np.random.default_rng(3))
    train(root / "events.jsonl", root / "registry", journey, Catalog.load(config), progress=lambda _: None)
    return config, root / "registry"


@pytest.fixture
def large_client(settings, large):
    config, registry = large
    return create_app(dataclasses.replace(settings, config_dir=config, registry=registry)).test_client()


def decide(client, visitor):
    answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": "wide", "explain": True})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def shown(decision) -> list[str]:
    return [item["item_id"] for item in decision["items"]]


def test_a_decision_over_a_large_pool_ranks_what_retrieval_proposed_and_screens_only_that(large_client):
    assert (
        large_client.post("/v1/events", json={"visitor_id": "v1", "type": "product_view", "item_id": A}).status_code
        == 200
    )
    decision = decide(large_client, "v1")
    explain = decision["explain"]
    assert decision["policy"] == "model"
    assert explain["pool_size"] > SHORTLIST
    assert len(explain["candidates"]) <= SHORTLIST
    assert shown(decision)[0] == B, json.dumps(explain.get("items"), indent=0)
    assert any("The lead item" in reason for reason in decision["items"][0]["reasons"])
    assert all(item["reasons"] for item in decision["items"])


def test_retrieval_never_gets_an_ineligible_item_shown(large_client):
    """D (dated out) and B once capped are proposed by retrieval (viewed after A) and removed by screening."""
    large_client.post("/v1/events", json={"visitor_id": "v2", "type": "product_view", "item_id": A})
    first = decide(large_client, "v2")
    assert GONE not in shown(first)
    assert {"item_id": GONE, "rule": "dates"} in [
        {"item_id": r["item_id"], "rule": r["rule"]} for r in first["explain"]["removed"]
    ]
    assert B in shown(first)
    second = decide(large_client, "v2")  # B's cap (one a day) is reached
    assert B not in shown(second) and GONE not in shown(second)
    assert len(shown(second)) == 3
    removed = {r["item_id"]: r["rule"] for r in second["explain"]["removed"]}
    assert removed[B] == "cap" and removed[GONE] == "dates"


def test_a_visitor_with_no_history_over_a_large_pool_gets_an_answer_with_reasons(large_client):
    decision = decide(large_client, "nobody")
    assert decision["policy"] == "model"
    assert len(shown(decision)) == 3
    assert shown(decision)[0] in (A, C)  # the most viewed: popularity and trending propose them
    assert {"popular in your stage", "trending now"} & set(decision["items"][0]["reasons"])
    assert all(item["reasons"] for item in decision["items"])
    assert len(decision["explain"]["candidates"]) <= SHORTLIST


def test_without_a_model_a_large_pool_answers_from_popularity(settings, large, tmp_path):
    config, _ = large
    client = create_app(dataclasses.replace(settings, config_dir=config, registry=tmp_path / "empty")).test_client()
    decision = decide(client, "v3")
    assert decision["policy"] == "fallback"
    assert len(shown(decision)) == 3 and GONE not in shown(decision)
    assert len(decision["explain"]["candidates"]) <= SHORTLIST

"""Recommendations that know items (issue 11), through the API with a real model trained on a hand-built log."""

import dataclasses
import datetime as dt
import json

import numpy as np
import pytest

from service import create_app
from tests.logged_traffic import product_view
from training.train import train

A, B, C = "review_x5_press", "guide_ev_charging", "story_family_safety"
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()


def _log(path):
    """Of 300 visitors (in random order), about 90 view A then B a minute later, 20 A then C, the rest
    only C (the most popular)."""
    events, t = [], START
    kinds = np.random.default_rng(5).choice(["ab", "ac", "c"], size=300, p=[0.3, 0.07, 0.63])

    def view(visitor, item, at):
        events.append(product_view(visitor, item, at))

    for n, kind in enumerate(kinds):
        t += 3_600
        if kind == "c":
            view(f"c{n}", C, t)
        else:
            view(f"{kind}{n}", A, t)
            view(f"{kind}{n}", B if kind == "ab" else C, t + 60)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


@pytest.fixture
def item_client(settings, journey, catalog, tmp_path):
    registry = tmp_path / "item-models"
    train(_log(tmp_path / "events.jsonl"), registry, journey, catalog, progress=lambda _: None)
    client = create_app(dataclasses.replace(settings, registry=registry)).test_client()
    body = client.get("/v1/placements/email_block").get_json()
    changed = {**body, "candidates": [B, C], "filters": [], "exploration": {}, "holdout_share": 0, "slots": 2}
    assert client.put("/v1/placements/email_block", json=changed).status_code == 200
    return client


def decide(client, visitor):
    answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": "email_block", "explain": True})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_a_visitor_who_viewed_a_is_shown_what_is_viewed_with_a_ahead_of_the_more_popular(item_client):
    sent = item_client.post("/v1/events", json={"visitor_id": "fresh", "type": "product_view", "item_id": A})
    assert sent.status_code == 200
    decision = decide(item_client, "fresh")
    assert decision["policy"] == "model"
    assert [i["item_id"] for i in decision["items"]] == [B, C], json.dumps(decision["explain"]["items"], indent=0)
    first = decision["items"][0]
    assert any("What the press says about the X5" in reason for reason in first["reasons"]), first["reasons"]
    features = [c["feature"] for c in decision["explain"]["items"][B]["top_contributions"]]
    assert {"trans_last_log", "trans_last_share", "covisit_recent_log", "knn_max", "knn_sum"} & set(features)


def test_a_visitor_with_no_history_gets_the_popular_item_with_a_reason(item_client):
    decision = decide(item_client, "nobody")
    assert decision["policy"] == "model"
    assert decision["items"][0]["item_id"] == C
    assert all(item["reasons"] for item in decision["items"])


def test_an_item_the_model_never_saw_still_gets_an_answer_with_reasons(item_client):
    new = {"title": "Winter tyres, fitted", "tags": ["service", "winter"], "channels": []}
    assert item_client.put("/v1/catalog/items/winter_tyres_new", json=new).status_code == 200
    body = item_client.get("/v1/placements/email_block").get_json()
    only_new = {**body, "candidates": ["winter_tyres_new"], "slots": 1}
    assert item_client.put("/v1/placements/email_block", json=only_new).status_code == 200
    sent = item_client.post("/v1/events", json={"visitor_id": "v-new", "type": "product_view", "item_id": A})
    assert sent.status_code == 200
    decision = decide(item_client, "v-new")
    assert decision["policy"] == "model"
    assert [i["item_id"] for i in decision["items"]] == ["winter_tyres_new"]
    assert decision["explain"]["items"]["winter_tyres_new"]["top_contributions"]


def test_a_bundle_without_generators_answers_from_the_ranker_alone(settings, journey, catalog, tmp_path):
    registry = tmp_path / "no-generators"
    train(_log(tmp_path / "events.jsonl"), registry, journey, catalog, progress=lambda _: None)
    for stored in registry.rglob("retrieval.npz"):
        stored.unlink()  # a bundle from before the generators, or one whose file was lost
    client = create_app(dataclasses.replace(settings, registry=registry)).test_client()
    sent = client.post("/v1/events", json={"visitor_id": "v-old", "type": "product_view", "item_id": A})
    assert sent.status_code == 200
    decision = decide(client, "v-old")
    assert decision["policy"] == "model" and decision["items"]
    assert all(item["reasons"] for item in decision["items"]), decision["items"]

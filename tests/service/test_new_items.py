"""New items (issue 11): an item PUT through the API, with no history, reaches visitors who browse its like."""

import json

import pytest

NEW = {
    "id": "hero_e3_electric",
    "kind": "content",
    "title": "The new E3: electric, for the city",
    "tags": ["electric", "city"],
    "stages": ["awareness", "consideration"],
    "value": 1.0,
    "attributes": {"model": "e3"},
}
MATCHING = ["hero_e2_electric", "guide_ev_charging"]  # electric items: the new one shares their tags
OTHER = ["hero_x5_m_sport", "review_x5_press"]


@pytest.fixture
def new_item_client(model_client):
    assert model_client.put(f"/v1/catalog/items/{NEW['id']}", json=NEW).status_code == 200
    body = model_client.get("/v1/placements/home_hero").get_json()
    changed = {**body, "holdout_share": 0.0, "exploration": {"epsilon": 0.1}}  # the bonus as by default
    assert model_client.put("/v1/placements/home_hero", json=changed).status_code == 200
    return model_client


def _browse_and_decide(client, visitor, items, decisions):
    for item in items:
        sent = client.post("/v1/events", json={"visitor_id": visitor, "type": "product_view", "item_id": item})
        assert sent.status_code == 200
    answers = []
    for _ in range(decisions):
        answer = client.post("/v1/decisions", json={"visitor_id": visitor, "placement": "home_hero"})
        assert answer.status_code == 200, answer.get_json()
        answers.append(answer.get_json())
    return answers


def _shown(answers):
    return [item for answer in answers for item in answer["items"] if item["item_id"] == NEW["id"]]


def test_a_new_item_reaches_visitors_who_browse_its_tags_more_than_others(new_item_client):
    reached = {"matching": 0, "other": 0}
    for n in range(8):
        for group, items in (("matching", MATCHING), ("other", OTHER)):
            answers = _browse_and_decide(new_item_client, f"{group}-{n}", items, decisions=3)
            assert all(answer["policy"] == "model" for answer in answers)
            shown = _shown(answers)
            reached[group] += bool(shown)
            for item in shown:
                assert 0.0 < item["propensity"] <= 1.0
                if group == "matching":
                    assert "matches tags you browse" in item["reasons"], item["reasons"]
    assert reached["matching"] >= 7, reached
    assert reached["other"] <= 2, reached


def test_the_bonus_path_logs_the_propensity_it_served(new_item_client, model_settings):
    answers = _browse_and_decide(new_item_client, "logged", MATCHING, decisions=4)
    served = _shown(answers)
    assert served and served[0]["propensity"] > 0.9  # the greedy pick: 1 - epsilon + epsilon / n
    logged = [
        json.loads(line) for path in (model_settings.data_dir / "decisions").glob("*.jsonl") for line in path.open()
    ]
    by_id = {record["decision_id"]: record for record in logged}
    for answer in answers:
        record = by_id[answer["decision_id"]]
        assert [(i["item_id"], i["propensity"]) for i in record["items"]] == [
            (i["item_id"], i["propensity"]) for i in answer["items"]
        ]
        n = len(record["candidates"])
        assert record["items"][0]["propensity"] in (
            pytest.approx(0.9 + 0.1 / n, abs=1e-6),
            pytest.approx(0.1 / n, abs=1e-6),
        )


def test_switching_the_bonus_off_leaves_the_new_item_to_epsilon(new_item_client):
    body = new_item_client.get("/v1/placements/home_hero").get_json()
    off = {**body, "exploration": {"epsilon": 0.1, "uncertainty_bonus": 0.0}}
    assert new_item_client.put("/v1/placements/home_hero", json=off).status_code == 200
    assert new_item_client.get("/v1/placements/home_hero").get_json()["exploration"]["uncertainty_bonus"] == 0.0
    shown = sum(len(_shown(_browse_and_decide(new_item_client, f"off-{n}", MATCHING, 1))) for n in range(8))
    assert shown <= 2


@pytest.mark.parametrize(
    "exploration, reason",
    [({"uncertainty_bonus": 1.5}, "less than or equal to 1"), ({"uncertainty_bonus": "0.1"}, "number"),
     ({"epsilon": 0.1, "temperature": 1.0}, "not both")],
)  # fmt: skip
def test_bad_exploration_settings_are_refused(new_item_client, exploration, reason):
    body = new_item_client.get("/v1/placements/home_hero").get_json()
    answer = new_item_client.put("/v1/placements/home_hero", json={**body, "exploration": exploration})
    assert answer.status_code == 422
    assert reason in json.dumps(answer.get_json()["errors"]), answer.get_json()

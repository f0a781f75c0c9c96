"""Outcomes joined to decisions: by decision id, by last shown, and what is late, duplicate or orphan."""

import pandas as pd
import pytest

from journal.join import join_outcomes

HOUR = 3600.0


def impressions():
    rows = [
        ("d1", "v1", "a", 0, 0.0, 0.5),
        ("d1", "v1", "b", 1, 0.0, 0.5),
        ("d2", "v1", "a", 0, 10 * HOUR, 1.0),
        ("d3", "v2", "c", 0, 0.0, 0.25),
    ]
    return pd.DataFrame(
        [
            {
                "decision_id": d,
                "visitor_id": v,
                "user_id": None,
                "item_id": i,
                "position": p,
                "ts": t,
                "propensity": q,
                "placement": "home",
            }
            for d, v, i, p, t, q in rows
        ]
    )


def outcome(ts, visitor, item=None, decision=None, value=None, kind="click"):
    return {
        "type": kind,
        "visitor_id": visitor,
        "user_id": None,
        "item_id": item,
        "decision_id": decision,
        "ts": ts,
        "value": value,
    }


def test_join_rules_and_counts():
    events = pd.DataFrame(
        [
            outcome(1 * HOUR, "v1", "b", "d1", value=5.0),  # by id
            outcome(2 * HOUR, "v1", "b", "d1"),  # duplicate of the above
            outcome(11 * HOUR, "v1", "a"),  # no id: last decision that showed a to v1 is d2
            outcome(1 * HOUR, "v2", None, "d3"),  # id, no item: the decision's first item
            outcome(100 * HOUR, "v2", "c", "d3"),  # late
            outcome(1 * HOUR, "v9", "a", "d-unknown"),  # orphan
            outcome(1 * HOUR, "v1", "z"),  # orphan: z was never shown
            outcome(1 * HOUR, "v1", "a", kind="page_view"),  # not a reward type: ignored
        ]
    )
    joined = join_outcomes(impressions(), events, ["click"], window_s=24 * HOUR)
    rewards = {(r.decision_id, r.item_id): (r.reward, r.matched_by) for r in joined.impressions.itertuples()}
    assert rewards == {
        ("d1", "a"): (0, None),
        ("d1", "b"): (1, "decision_id"),
        ("d2", "a"): (1, "last_shown"),
        ("d3", "c"): (1, "decision_id"),
    }
    assert joined.impressions.loc[joined.impressions["item_id"] == "b", "reward_value"].item() == 5.0
    assert joined.counts == {
        "outcomes": 7,
        "by_decision_id": 2,
        "by_last_shown": 1,
        "late": 1,
        "duplicate": 1,
        "orphan": 2,
    }


def test_a_placement_names_its_own_reward():
    events = pd.DataFrame(
        [outcome(1 * HOUR, "v1", "b", "d1", kind="add_to_cart"), outcome(1 * HOUR, "v2", "c", "d3", kind="click")]
    )
    joined = join_outcomes(
        impressions().assign(placement=["cart", "cart", "cart", "home"]),
        events,
        ["click"],
        24 * HOUR,
        placement_rewards={"cart": ("add_to_cart",)},
    )
    rewarded = set(joined.impressions.loc[joined.impressions["reward"] == 1, "decision_id"])
    assert rewarded == {"d1", "d3"}


def test_decision_log_rows_carry_candidates_reward_and_shadow(tmp_path):
    import json

    from training.decision_logs import placement_rewards, read_impressions

    record = {
        "decision_id": "d1",
        "visitor_id": "v",
        "placement": "cart",
        "ts": 1.0,
        "policy": "model",
        "items": [{"item_id": "a", "position": 0, "propensity": 0.9}, {"item_id": "b", "position": 1}],
        "candidates": ["a", "b", "c"],
        "reward": ["add_to_cart"],
        "shadow": {"model_version": "v2", "items": ["c", "a"]},
    }
    (tmp_path / "2026-01-01.jsonl").write_text(json.dumps(record) + "\n")
    rows = read_impressions(tmp_path)
    assert list(rows["item_id"]) == ["a", "b"] and rows["propensity"].isna().tolist() == [False, True]
    assert rows["candidates"].iloc[0] == ("a", "b", "c") and rows["shadow_items"].iloc[1] == ("c", "a")
    assert placement_rewards(rows) == {"cart": ("add_to_cart",)}


@pytest.mark.parametrize(
    ("shown_as", "outcome_as"),
    [("str", "object"), ("object", "str"), ("str", "str")],
)
def test_rule_two_joins_whatever_string_dtype_each_reader_produced(shown_as, outcome_as):
    """pandas 3 reads strings as `str`, an object column of None stays `object`: keys must still join."""
    shown = impressions().astype({"item_id": shown_as, "visitor_id": shown_as})
    events = pd.DataFrame([outcome(11 * HOUR, "v1", "a"), outcome(12 * HOUR, "v2", "c", kind="dismiss")])
    events = events.astype({"item_id": outcome_as, "visitor_id": outcome_as})
    joined = join_outcomes(shown, events, ["click", "dismiss"], window_s=24 * HOUR)
    assert joined.counts["by_last_shown"] == 2 and joined.counts["orphan"] == 0

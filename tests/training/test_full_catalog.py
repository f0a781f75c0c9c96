"""Full-catalog evaluation: metrics checked by hand, baselines on a tiny log, point in time, and `train --json`."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from models.journey import JourneyMap
from training.__main__ import main
from training.baselines_ranking import (
    ItemKNN,
    MostPopular,
    MostPopularByStage,
    ReshowRecent,
    ReshowThenTransitions,
    Transitions,
    fit_baselines,
)
from training.full_catalog import evaluate, interval, split_log, summarise, tie_aware_metrics, verdict

JOURNEY = JourneyMap.from_dict(
    {"stages": ["awareness", "consideration"], "events": {"view": "awareness", "cart": "consideration"}}
)
CUTOFF = 100.0


def _events(rows):
    """(visitor, type, ts, item) tuples as the canonical frame read_events returns, sorted by time."""
    frame = pd.DataFrame(rows, columns=["visitor_id", "type", "ts", "item_id"])
    frame["event_id"] = [f"e{i}" for i in range(len(frame))]
    frame["user_id"], frame["channel"], frame["value"] = None, "web", None
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


TINY = [
    # training (before 100): a sees x then y; b sees y then x, then z at consideration; c sees x then y
    ("a", "view", 1, "x"),
    ("a", "view", 2, "y"),
    ("b", "view", 3, "y"),
    ("b", "view", 4, "x"),
    ("b", "cart", 5, "z"),
    ("c", "view", 6, "x"),
    ("c", "view", 7, "y"),
    ("c", "email_open", 8, "x"),  # no stage: not an engagement, in neither the log nor the queries
    # test (from 100 on)
    ("a", "cart", 101, "z"),  # a: history x, y; stage awareness
    ("a", "view", 102, "x"),  # a: history x, y, z; stage consideration; x seen before
    ("d", "view", 103, "x"),  # d: a new visitor, no history
    ("d", "view", 104, "w"),  # w never appeared in training: outside the universe, a miss for everyone
]


@pytest.fixture
def tiny():
    return split_log(_events(TINY), JOURNEY, CUTOFF)


# --- metrics, by hand ------------------------------------------------------------------------------


def test_a_clear_second_place():
    values = tie_aware_metrics(np.array([[3.0, 2.0, 1.0, 0.0]]), np.array([1]))
    assert values["hit_rate@10"][0] == 1.0 and values["hit_rate@20"][0] == 1.0
    assert values["mrr@20"][0] == pytest.approx(0.5)
    assert values["ndcg@10"][0] == pytest.approx(1 / math.log2(3))  # 0.6309


def test_a_four_way_tie_for_first_averages_ranks_one_to_four():
    values = tie_aware_metrics(np.ones((1, 4)), np.array([2]))
    assert values["hit_rate@10"][0] == 1.0
    assert values["mrr@20"][0] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)  # 25/48 = 0.5208
    expected_ndcg = (1 + 1 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)) / 4  # 0.6967
    assert values["ndcg@10"][0] == pytest.approx(expected_ndcg)


def test_a_tie_straddling_the_cut_counts_the_share_of_ranks_inside_it():
    # 15 items above the target, 10 tied with it (itself included): its rank is uniform on 16..25
    scores = np.r_[np.full(15, 2.0), np.full(10, 1.0)][None, :]
    values = tie_aware_metrics(scores, np.array([20]))
    assert values["hit_rate@10"][0] == 0.0
    assert values["hit_rate@20"][0] == pytest.approx(5 / 10)
    assert values["mrr@20"][0] == pytest.approx(sum(1 / r for r in range(16, 21)) / 10)  # 0.02767
    assert values["ndcg@10"][0] == 0.0


def test_a_target_outside_the_universe_is_a_miss():
    values = tie_aware_metrics(np.array([[1.0, 0.0]]), np.array([-1]))
    assert all(column[0] == 0.0 for column in values.values())


def test_interval_is_the_normal_approximation_over_queries():
    result = interval(np.r_[np.ones(50), np.zeros(50)])
    # sd = sqrt(0.25 * 100 / 99) = 0.50252; half width = 1.96 * 0.50252 / 10 = 0.09849
    assert result == {"value": 0.5, "low": 0.4015, "high": 0.5985}


def test_interval_clusters_the_variance_by_visitor():
    # every visitor's mean is 0.5: the between-visitor spread, and so the clustered variance, is zero
    assert interval(np.array([1.0, 0.0, 1.0, 0.0]), np.array(["a", "a", "b", "b"])) == {
        "value": 0.5,
        "low": 0.5,
        "high": 0.5,
    }
    # all the spread is between visitors: var = 2/1 * ((2 - 1)^2 + (0 - 1)^2) / 4^2 = 0.25, se 0.5
    result = interval(np.array([1.0, 1.0, 0.0, 0.0]), np.array(["a", "a", "b", "b"]))
    assert result == {"value": 0.5, "low": 0.0, "high": 1.0}
    values = np.r_[np.ones(30), np.zeros(30)]
    visitors = np.repeat(np.arange(20), 3)  # 10 visitors all ones, 10 all zeros
    # var = 20/19 * 20 * (3 - 1.5)^2 / 60^2 = 0.013158, half width 1.96 * 0.11471 = 0.22483
    assert interval(values, visitors) == {"value": 0.5, "low": 0.2752, "high": 0.7248}


def test_verdict_says_whether_the_intervals_overlap():
    block = {
        "model": {"mrr@20": {"value": 0.30, "low": 0.28, "high": 0.32}},
        "a": {"mrr@20": {"value": 0.20, "low": 0.18, "high": 0.22}},
        "b": {"mrr@20": {"value": 0.29, "low": 0.27, "high": 0.31}},
    }
    assert "ahead of the best baseline (b) but the intervals overlap" in verdict(block, "model", ["a", "b"])
    assert "beats the best baseline (a)" in verdict(block, "model", ["a"])
    block["b"]["mrr@20"] = {"value": 0.35, "low": 0.33, "high": 0.37}
    assert "does not beat the best baseline (b)" in verdict(block, "model", ["a", "b"])


# --- queries: the visitor's state just before each later engagement ----------------------------------


def test_queries_are_later_engagements_with_the_history_before_them(tiny):
    log, queries = tiny
    assert log.universe == ["x", "y", "z"]
    x, y, z = 0, 1, 2
    assert len(queries) == 4
    histories = [queries.history[s:e].tolist() for s, e in zip(queries.start, queries.end)]
    assert histories == [[x, y], [x, y, z], [], [x]]
    assert queries.target.tolist() == [z, x, x, -1]
    assert queries.seen.tolist() == [False, True, False, False]
    assert queries.stage.tolist() == ["awareness", "consideration", None, "awareness"]
    assert queries.recent(1).tolist() == [z, y, x]  # newest first


def test_history_holds_only_events_before_each_query(tiny):
    _, queries = tiny
    events = _events(TINY)
    for i in range(len(queries)):
        rows = events[(events["visitor_id"] == events["visitor_id"][queries.event_row[i]])]
        earlier = rows[(rows["ts"] < queries.ts[i]) & rows["type"].isin(["view", "cart"])]
        assert queries.end[i] - queries.start[i] == len(earlier)


# --- baselines on the tiny log -----------------------------------------------------------------------


def test_most_popular_counts_training_engagements(tiny):
    log, queries = tiny
    # x: a, b, c (3); y: a, b, c (3); z: b (1). c's email_open on x is not an engagement.
    assert MostPopular().fit(log).scores(queries)[0].tolist() == [3.0, 3.0, 1.0]


def test_most_popular_by_stage_reads_the_visitors_stage(tiny):
    log, queries = tiny
    scores = MostPopularByStage().fit(log).scores(queries)
    tie = np.array([3, 3, 1]) / 4  # popularity / (max + 1)
    assert scores[0] == pytest.approx([3, 3, 0] + tie)  # awareness: x 3, y 3, z 0
    assert scores[1] == pytest.approx([0, 0, 1] + tie)  # consideration: only z
    assert scores[1].argmax() == 2


def test_transitions_follow_the_last_item(tiny):
    log, queries = tiny
    scores = Transitions().fit(log).scores(queries)
    tie = np.array([3, 3, 1]) / 4
    # training pairs: x->y (a), y->x (b), x->z (b), x->y (c)
    assert scores[0] == pytest.approx([1, 0, 0] + tie)  # a's last item: y; y->x once
    assert scores[1] == pytest.approx([0, 0, 0] + tie)  # last item z: nothing followed z
    assert scores[3] == pytest.approx([0, 2, 1] + tie)  # last item x: y twice, z once


def test_reshow_recent_puts_the_visitors_items_first_newest_first(tiny):
    log, queries = tiny
    scores = ReshowRecent().fit(log).scores(queries)
    assert list(np.argsort(-scores[1])) == [2, 1, 0]  # z, y, x: a's items, newest first
    assert scores[2] == pytest.approx(np.array([3, 3, 1]) / 4)  # no history: popularity only


def test_reshow_then_transitions_ranks_history_then_what_followed(tiny):
    log, queries = tiny
    scores = ReshowThenTransitions().fit(log).scores(queries)
    # d's history is x: x first, then y (followed x twice) ahead of z (once)
    assert list(np.argsort(-scores[3])) == [0, 1, 2]


def test_item_knn_sums_cosine_similarities_to_recent_items(tiny):
    log, queries = tiny
    scores = ItemKNN().fit(log).scores(queries)
    # visitor vectors: x = {a, b, c}, y = {a, b, c}, z = {b}: cos(x, y) = 1, cos(x, z) = cos(y, z) = 1/sqrt(3)
    # query 1 (a: newest first z, y, x, weights 1, 1/2, 1/3):
    #   x: 1/2 * 1 + 1 * 1/sqrt(3); y: 1/3 * 1 + 1 * 1/sqrt(3); z: 1/2/sqrt(3) + 1/3/sqrt(3)
    expected = [0.5 + 1 / math.sqrt(3), 1 / 3 + 1 / math.sqrt(3), (0.5 + 1 / 3) / math.sqrt(3)]
    assert scores[1] == pytest.approx(expected, abs=1e-5)
    assert scores[2] == pytest.approx([0, 0, 0], abs=1e-5)  # no history: popularity only, below 1e-6


def test_no_baseline_learns_from_test_events(tiny):
    """Adding later events (any number, for any items) changes no fitted baseline's scores."""
    log, queries = tiny
    flood = TINY + [(f"v{i}", "view", 200 + i, "z") for i in range(50)] + [("e", "cart", 300, "y")]
    log_more, _ = split_log(_events(flood), JOURNEY, CUTOFF)
    assert log_more.universe == log.universe and log_more.item.tolist() == log.item.tolist()
    for before, after in zip(fit_baselines(log), fit_baselines(log_more)):
        assert np.array_equal(before.scores(queries), after.scores(queries)), before.name


def test_evaluate_and_summarise_split_seen_and_new(tiny):
    log, queries = tiny
    scorers = [ReshowRecent().fit(log), MostPopular().fit(log)]
    per_query = evaluate(queries, scorers, len(log.universe))
    # reshow_recent on query 1 (target x, seen): ranks z, y, x -> rank 3
    assert per_query["reshow_recent"]["mrr@20"][1] == pytest.approx(1 / 3)
    block = summarise(per_query, queries, len(log.universe), model="reshow_recent")
    assert (block["queries"], block["queries_seen"], block["queries_new"]) == (4, 1, 3)
    assert block["targets_outside_universe"] == 1
    assert block["reshow_recent"]["seen"]["mrr@20"]["value"] == pytest.approx(0.3333)
    assert block["baselines"] == ["most_popular"]
    assert "most_popular" in block["verdict"]


# --- the train command --------------------------------------------------------------------------------


class ColumnModel:
    """A stand-in content model that answers one feature column / 10, so a score shows what it was given."""

    def __init__(self, spec, column):
        self.column = spec.content_names.index(column)
        self.matrices = []

    def predict(self, matrix):
        self.matrices.append(matrix)
        return matrix[:, self.column] / 10


def _frozen_at_cutoff(spec):
    from training.replay import replay

    return replay(_events(TINY), spec, {}, horizon_s=1000.0, split_at=CUTOFF)


def test_the_generators_are_frozen_at_the_split_and_see_no_later_touch():
    from models.features import FeatureSpec

    rows = _frozen_at_cutoff(FeatureSpec(JOURNEY))
    # before 100: y -> x by b (3 -> 4) and by c (7 -> the email_open of x at 8); a's y -> z at 101 is later
    assert rows.signals_at_split.row("transitions", "y") == {"x": 2.0}
    assert rows.item_stats.signals.row("transitions", "y") == {"x": 2.0, "z": 1.0}


def test_model_scorer_ranks_the_services_shortlist_then_the_rest_by_popularity(tiny):
    from models.features import FeatureSpec
    from training.model_ranking import model_scorer

    log, queries = tiny
    spec = FeatureSpec(JOURNEY)
    model = ColumnModel(spec, "trans_last_share")
    signals = _frozen_at_cutoff(spec).signals_at_split
    scorer = model_scorer(model, spec, _events(TINY), queries, log, {}, signals=signals, size=2)
    scores = scorer.scores(queries)
    rest = np.array([3, 3, 1]) / 4  # training popularity of x, y, z over (max + 1): after every shortlisted item
    # a before 101: the shortlist is a's recent items (y, then x); every transition from y went to x
    assert scores[0] == pytest.approx([1.1, 1.0, rest[2]])
    # a before 102: last item z, never left in training; the shortlist is z, then y
    assert scores[1] == pytest.approx([rest[0], 1.0, 1.0])
    # d, new: no history; the shortlist is the two most popular, x and y (tied, by id)
    assert scores[2] == pytest.approx([1.0, 1.0, rest[2]])
    # the context read for a's second query holds a's three earlier engagements, and nothing later
    rows = np.vstack(model.matrices)  # the shortlists of all queries, in order: 2 rows each
    assert rows[2, spec.content_names.index("n_events_log")] == pytest.approx(math.log1p(3))


def test_train_json_carries_the_full_catalog_block_split_at_the_instant_asked(capsys, tmp_path, demo_events):
    frame = pd.read_json(demo_events, lines=True)
    stamps = pd.to_datetime(frame["timestamp"], utc=True).sort_values().reset_index(drop=True)
    split = stamps.iloc[int(len(stamps) * 0.6)]
    argv = ["--registry", str(tmp_path / "reg"), "train", "--events", str(demo_events), "--json"]
    code = main([*argv, "--split-at", split.isoformat(), "--full-catalog-queries", "300"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    manifest = json.loads(next((tmp_path / "reg").rglob("manifest.json")).read_text())
    assert pd.Timestamp(manifest["data"]["split_at"]) == split
    block = summary["full_catalog"]
    assert block["queries"] == 300 and block["max_queries"] == 300
    assert block["queries"] == block["queries_seen"] + block["queries_new"]
    names = ["model", "most_popular", "most_popular_by_stage", "item_knn", "transitions", "reshow_recent"]
    for name in names:
        for metric in ("hit_rate@10", "hit_rate@20", "ndcg@10", "mrr@20"):
            figure = block[name][metric]
            assert figure["low"] <= figure["value"] <= figure["high"], (name, metric)
            assert set(block[name]["seen"][metric]) == set(block[name]["new"][metric]) == {"value", "low", "high"}
    assert block["verdict"].startswith("the model")
    report = (tmp_path / "reg").rglob("report.html")
    assert "Full-catalog ranking" in next(report).read_text()


def test_split_at_outside_the_events_is_refused_with_their_range(capsys, tmp_path, demo_events):
    argv = ["--registry", str(tmp_path / "reg"), "train", "--events", str(demo_events)]
    assert main([*argv, "--split-at", "1990-01-01T00:00:00Z"]) == 2
    message = capsys.readouterr().err
    assert "leaves 0 events before it" in message and "the events run from" in message
    assert not (tmp_path / "reg").exists() or not list((tmp_path / "reg").rglob("manifest.json"))

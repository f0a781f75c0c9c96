"""Offline metrics: ranking metrics only where a ranking exists."""

import numpy as np
import pytest

from training.metrics import binary_metrics, ranking_metrics


def test_ranking_metrics_rank_the_responded_item_among_its_alternatives():
    p = np.array([0.9, 0.1, 0.2, 0.3, 0.8, 0.1])
    y = np.array([1, 0, 0, 1, 0, 0])
    group = np.array([0, 0, 0, 1, 1, 1])
    hit, ndcg = ranking_metrics(p, y, group, k=1)
    assert hit == pytest.approx(0.5)  # first group ranks it first; second ranks it second of three
    hit, ndcg = ranking_metrics(p, y, group, k=3)
    assert hit == 1.0
    assert ndcg == pytest.approx((1.0 + 1 / np.log2(3)) / 2)


def test_a_log_with_one_item_per_decision_has_no_ranking_to_score():
    p = np.array([0.2, 0.1, 0.3, 0.4])
    y = np.array([1, 0, 0, 1])
    metrics = binary_metrics(p, y, group=np.arange(4))
    assert metrics["ndcg@3"] is None and metrics["hit_rate@3"] is None
    assert metrics["auc"] is not None

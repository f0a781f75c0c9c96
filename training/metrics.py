"""Offline metrics: log loss, AUC, expected calibration error, and ranking quality per choice."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score


def calibration_curve(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    """Reliability bins: mean predicted vs observed rate (binary, or top-label for multiclass)."""
    p, y = np.asarray(p, dtype=float), np.asarray(y)
    if p.ndim == 2:
        top = p.argmax(axis=1)
        confidence, correct = p[np.arange(len(p)), top], (top == y).astype(float)
    else:
        confidence, correct = p, y.astype(float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    curve = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            curve.append(
                {
                    "bin": [round(float(edges[b]), 2), round(float(edges[b + 1]), 2)],
                    "mean_predicted": round(float(confidence[mask].mean()), 4),
                    "observed": round(float(correct[mask].mean()), 4),
                    "count": int(mask.sum()),
                }
            )
    return curve


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Binned |mean predicted - observed rate|, weighted by bin size (binary, or top-label for multiclass)."""
    curve = calibration_curve(p, y, bins)
    total = sum(b["count"] for b in curve)
    return float(sum(b["count"] / total * abs(b["mean_predicted"] - b["observed"]) for b in curve)) if total else 0.0


def multiclass_metrics(p: np.ndarray, y: np.ndarray, classes: list[str]) -> dict:
    """Log loss, accuracy, ECE and one-vs-rest AUC per class (where the class occurs and not always)."""
    p = np.clip(p, 1e-12, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    auc = {}
    for index, name in enumerate(classes):
        positives = y == index
        if 0 < positives.sum() < len(y):
            auc[name] = round(float(roc_auc_score(positives, p[:, index])), 4)
    return {
        "rows": int(len(y)),
        "log_loss": round(float(log_loss(y, p, labels=list(range(len(classes))))), 4),
        "accuracy": round(float((p.argmax(axis=1) == y).mean()), 4),
        "ece": round(expected_calibration_error(p, y), 4),
        "auc_per_class": auc,
        "auc_macro": round(float(np.mean(list(auc.values()))), 4) if auc else None,
        "calibration": calibration_curve(p, y),
    }


def binary_metrics(p: np.ndarray, y: np.ndarray, group: np.ndarray | None = None, k: int = 3) -> dict:
    """Log loss, AUC, ECE; with groups (one choice each), hit rate@k and NDCG@k of the responded item."""
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    y = np.asarray(y)
    out = {
        "rows": int(len(y)),
        "positive_rate": round(float(y.mean()), 4) if len(y) else None,
        "log_loss": round(float(log_loss(y, p, labels=[0, 1])), 4) if len(y) else None,
        "auc": round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < len(y) else None,
        "ece": round(expected_calibration_error(p, y), 4) if len(y) else None,
        "calibration": calibration_curve(p, y) if len(y) else [],
    }
    if group is not None and len(y):
        hit, ndcg = ranking_metrics(p, y, np.asarray(group), k)
        out[f"hit_rate@{k}"], out[f"ndcg@{k}"] = _rounded(hit), _rounded(ndcg)
    return out


def _rounded(value: float) -> float | None:
    return None if np.isnan(value) else round(value, 4)


def ranking_metrics(p: np.ndarray, y: np.ndarray, group: np.ndarray, k: int) -> tuple[float, float]:
    """Mean hit rate@k and NDCG@k over groups with exactly one positive among at least two candidates
    (ties count against the model); NaN when no group is a ranking (e.g. one logged item per decision)."""
    order = np.argsort(group, kind="stable")
    p, y, group = p[order], y[order], group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], len(group)]
    hits, gains = [], []
    for start, end in zip(starts, ends):
        labels = y[start:end]
        if labels.sum() != 1 or end - start < 2:
            continue
        scores = p[start:end]
        positive = scores[labels == 1][0]
        rank = int((scores[labels == 0] >= positive).sum())  # 0-based rank, pessimistic on ties
        hits.append(rank < k)
        gains.append(1.0 / np.log2(rank + 2) if rank < k else 0.0)
    if not hits:
        return float("nan"), float("nan")
    return float(np.mean(hits)), float(np.mean(gains))

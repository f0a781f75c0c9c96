"""Confidence intervals for lift: rate differences (Newcombe), mean differences (Welch), ratios (delta method)."""

from __future__ import annotations

import math

from scipy import stats

CONFIDENCE = 0.95
Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))  # 1.959964


def wilson(successes: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson score interval of a proportion: good coverage even for small counts and rates near 0 or 1."""
    if n <= 0:
        raise ValueError("wilson interval of zero trials")
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return (centre - half) / denominator, (centre + half) / denominator


def rate_difference_ci(x1: int, n1: int, x0: int, n0: int, z: float = Z) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10) for p1 - p0, from the two Wilson intervals.

    Unlike the Wald interval it stays inside [-1, 1] and keeps its coverage when a rate is
    small or a count is zero, which is the usual case for conversion rates.
    """
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    difference = p1 - p0
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return lower, upper


def mean_difference_ci(
    mean1: float, var1: float, n1: int, mean0: float, var0: float, n0: int
) -> tuple[float, float] | None:
    """Welch's interval for mean1 - mean0 (unequal variances); `var` are sample variances (ddof 1).

    None when both variances are zero (every decision of both groups has the same value).
    """
    v1, v0 = var1 / n1, var0 / n0  # squared standard errors of the two means
    if v1 + v0 <= 0:
        return None
    df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))  # Welch-Satterthwaite
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df)) * math.sqrt(v1 + v0)
    difference = mean1 - mean0
    return difference - half, difference + half


def relative_lift_ci(mean1: float, se1: float, mean0: float, se0: float, z: float = Z) -> tuple[float, float] | None:
    """Interval for mean1 / mean0 - 1 by the delta method on the log ratio; None where the log is undefined.

    var(log m) ~= se(m)^2 / m^2, so for a rate p of n trials and x successes var(log p) = (1 - p) / x.
    """
    if mean1 <= 0 or mean0 <= 0:
        return None
    log_ratio = math.log(mean1 / mean0)
    se = math.sqrt((se1 / mean1) ** 2 + (se0 / mean0) ** 2)
    return math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1

"""Test metrics in float64 NumPy, and the rule that decides a winner or a tie."""

from __future__ import annotations

import math

import numpy as np

ECE_BINS = 10

# Two-sided 95% quantiles of Student's t with `df` degrees of freedom (df >= 30: normal).
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306}
_T975.update({9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042})


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    """ECE: sum over ``ECE_BINS`` equal-width bins of ``|accuracy - confidence|`` times the bin's share."""
    confidence = np.asarray(confidence, np.float64)
    bins = np.clip(np.floor(confidence * ECE_BINS).astype(int), 0, ECE_BINS - 1)
    gap = np.bincount(bins, correct.astype(np.float64) - confidence, minlength=ECE_BINS)
    return float(np.sum(np.abs(gap)) / confidence.size)


def precision_recall_f1(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, float, float]:
    """Of the positive class; 0 (not NaN) when nothing is predicted or present."""
    predicted, actual = np.asarray(predicted, bool), np.asarray(actual, bool)
    tp = np.sum(predicted & actual)
    fp, fn = np.sum(predicted & ~actual), np.sum(~predicted & actual)
    return (
        float(tp / max(tp + fp, 1)),
        float(tp / max(tp + fn, 1)),
        float(2 * tp / max(2 * tp + fp + fn, 1)),
    )


def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t (the next smaller tabulated df: conservative)."""
    if df >= 30:
        return 1.96 if df > 1000 else _T975[30]
    return _T975[max(k for k in _T975 if k <= df)]


def indistinguishable(a: np.ndarray, b: np.ndarray, *, atol: float, rtol: float) -> bool:
    """Whether per-seed scores ``a`` and ``b`` do not differ, as far as these seeds show.

    Seed ``i`` of every loss shares its data and initialisation, so the comparison is
    paired: the difference is within ``atol + rtol * |mean(b)|``, or (two seeds or more)
    the paired t-test does not reject "no difference" at the 5% level.
    """
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    gap = abs(float(np.mean(d)))
    if gap <= atol + rtol * abs(float(np.mean(b))):
        return True
    if d.size < 2:
        return False
    se = float(np.std(d, ddof=1)) / math.sqrt(d.size)
    return gap <= t_quantile(d.size - 1) * se

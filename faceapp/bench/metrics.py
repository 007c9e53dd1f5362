"""Verification and open-set identification metrics on distances (smaller = more alike; d <= tau means "same").

Pure numpy. Distances are faceapp's squared euclidean distances (core/distance.py), but nothing here depends on that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FoldResult:
    """The k-fold protocol's outcome: per held-out fold, the threshold chosen on the other folds and its accuracy."""

    accuracies: np.ndarray
    thresholds: np.ndarray

    @property
    def mean(self) -> float:
        """Mean held-out accuracy."""
        return float(self.accuracies.mean())

    @property
    def std(self) -> float:
        """Standard deviation of the held-out accuracies (population, as the LFW results page reports)."""
        return float(self.accuracies.std())


@dataclass(frozen=True)
class Roc:
    """The ROC of "d <= tau is the same person": for each threshold, false and true accept rates."""

    thresholds: np.ndarray
    far: np.ndarray
    tar: np.ndarray


def _as_arrays(dist: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(dist, dtype=np.float64).reshape(-1)
    s = np.asarray(same, dtype=bool).reshape(-1)
    if d.shape != s.shape:
        raise ValueError(f"distances {d.shape} and labels {s.shape} differ in length")
    if d.size == 0:
        raise ValueError("no pairs")
    return d, s


def accuracy(dist: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """The share of pairs classified correctly by d <= threshold."""
    d, s = _as_arrays(dist, same)
    return float(np.mean((d <= threshold) == s))


def best_threshold(dist: np.ndarray, same: np.ndarray) -> float:
    """The accuracy-optimal threshold: the midpoint of the widest-centred gap among the best splits of sorted d."""
    d, s = _as_arrays(dist, same)
    order = np.argsort(d, kind="stable")
    d, s = d[order], s[order]
    # Split after index i-1 (accept the first i pairs); only between distinct values.
    cum_same = np.concatenate([[0], np.cumsum(s)])
    cum_diff = np.concatenate([[0], np.cumsum(~s)])
    correct = cum_same + (cum_diff[-1] - cum_diff)
    splits = np.concatenate([[True], d[1:] > d[:-1], [True]])
    candidates = np.flatnonzero(splits)
    scores = correct[candidates]
    best = candidates[scores == scores.max()]
    i = int(best[len(best) // 2])  # the middle one of tied splits: stable when folds shift slightly
    if i == 0:
        return float(np.nextafter(d[0], -np.inf))
    if i == d.size:
        return float(d[-1])
    return float((d[i - 1] + d[i]) / 2)


def kfold(dist: np.ndarray, same: np.ndarray, folds: np.ndarray) -> FoldResult:
    """The LFW protocol: for each fold, the best threshold on the other folds, applied to that fold."""
    d, s = _as_arrays(dist, same)
    f = np.asarray(folds).reshape(-1)
    ids = np.unique(f)
    if ids.size < 2:
        raise ValueError("k-fold needs at least two folds")
    accuracies, thresholds = [], []
    for k in ids:
        test = f == k
        tau = best_threshold(d[~test], s[~test])
        thresholds.append(tau)
        accuracies.append(accuracy(d[test], s[test], tau))
    return FoldResult(np.array(accuracies), np.array(thresholds))


def threshold_at_far(negatives: np.ndarray, far: float) -> float:
    """The threshold at which at most `far` of `negatives` have d <= threshold, as generous as that allows.

    It sits midway between the last negative that may be accepted and the first that may not.
    """
    neg = np.sort(np.asarray(negatives, dtype=np.float64).reshape(-1))
    if neg.size == 0:
        raise ValueError("no negatives")
    allowed = int(np.floor(far * neg.size + 1e-9))
    if allowed >= neg.size:
        return float(neg[-1])
    first_refused = neg[allowed]
    below = neg[:allowed][neg[:allowed] < first_refused]
    if below.size == 0:
        return float(np.nextafter(first_refused, -np.inf))
    return float((below[-1] + first_refused) / 2)


def tar_at_far(dist: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, threshold): the share of same-person pairs accepted at the threshold whose FAR is at most `far`."""
    d, s = _as_arrays(dist, same)
    if s.all() or not s.any():
        raise ValueError("TAR@FAR needs both same and different pairs")
    tau = threshold_at_far(d[~s], far)
    return float(np.mean(d[s] <= tau)), tau


def roc(dist: np.ndarray, same: np.ndarray) -> Roc:
    """FAR and TAR at every distinct distance used as a threshold (ascending)."""
    d, s = _as_arrays(dist, same)
    thresholds = np.unique(d)
    pos, neg = np.sort(d[s]), np.sort(d[~s])
    tar = np.searchsorted(pos, thresholds, side="right") / max(pos.size, 1)
    far = np.searchsorted(neg, thresholds, side="right") / max(neg.size, 1)
    return Roc(thresholds, far, tar)


def auc(curve: Roc) -> float:
    """Area under the ROC (trapezoids, with the (0, 0) corner added)."""
    far = np.concatenate([[0.0], curve.far])
    tar = np.concatenate([[0.0], curve.tar])
    return float(np.sum((far[1:] - far[:-1]) * (tar[1:] + tar[:-1]) / 2))


def downsample(curve: Roc, points: int = 200) -> Roc:
    """At most `points` points of the curve, spaced evenly in log FAR, for JSON and plots."""
    if curve.thresholds.size <= points:
        return curve
    pos_far = np.maximum(curve.far, 1e-6)
    targets = np.geomspace(pos_far.min(), 1.0, points)
    idx = np.unique(np.clip(np.searchsorted(pos_far, targets, side="right") - 1, 0, curve.far.size - 1))
    return Roc(curve.thresholds[idx], curve.far[idx], curve.tar[idx])


def dir_at_far(
    known_dist: np.ndarray, known_correct: np.ndarray, unknown_dist: np.ndarray, far: float
) -> tuple[float, float]:
    """(DIR, tau) of open-set identification at false-alarm rate `far`.

    known_dist / known_correct: each known probe's nearest gallery distance and whether that gallery person is right;
    unknown_dist: each unknown probe's nearest gallery distance. tau lets at most `far` of the unknown probes through;
    DIR is the share of known probes that are both right and within tau.
    """
    d = np.asarray(known_dist, dtype=np.float64).reshape(-1)
    ok = np.asarray(known_correct, dtype=bool).reshape(-1)
    if d.shape != ok.shape or d.size == 0:
        raise ValueError("known probes: distances and correctness must be non-empty and equally long")
    tau = threshold_at_far(unknown_dist, far)
    return float(np.mean(ok & (d <= tau))), tau


def nearest(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a (probes, gallery) distance matrix: each row's nearest column and its distance."""
    m = np.asarray(dist)
    col = m.argmin(axis=1)
    return col, m[np.arange(m.shape[0]), col]

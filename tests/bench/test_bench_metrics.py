"""The benchmark metrics on synthetic distances with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from faceapp.bench import metrics


def test_kfold_on_separable_distances_is_perfect() -> None:
    rng = np.random.default_rng(0)
    same = np.tile(np.r_[np.ones(30, bool), np.zeros(30, bool)], 10)
    dist = np.where(same, rng.uniform(0.0, 0.4, same.size), rng.uniform(0.6, 1.0, same.size))
    folds = np.repeat(np.arange(10), 60)
    result = metrics.kfold(dist, same, folds)
    assert result.mean == 1.0
    assert result.std == 0.0
    assert np.all((result.thresholds > 0.4) & (result.thresholds < 0.6))


def test_best_threshold_is_the_middle_of_the_gap() -> None:
    dist = np.array([0.1, 0.2, 0.3, 0.7, 0.8])
    same = np.array([True, True, True, False, False])
    assert metrics.best_threshold(dist, same) == pytest.approx(0.5)
    assert metrics.accuracy(dist, same, 0.5) == 1.0


def test_best_threshold_with_an_overlap_counts_errors() -> None:
    # One different pair at 0.15 sits among the same pairs: the best split still accepts 0.1 .. 0.3.
    dist = np.array([0.1, 0.15, 0.2, 0.3, 0.7, 0.8])
    same = np.array([True, False, True, True, False, False])
    tau = metrics.best_threshold(dist, same)
    assert 0.3 < tau < 0.7
    assert metrics.accuracy(dist, same, tau) == pytest.approx(5 / 6)


def test_kfold_threshold_comes_from_the_other_folds() -> None:
    # Fold 1 alone would be split at 0.55, but folds 0 and 2 put the threshold at 0.35, so fold 1 loses its same pair.
    dist = np.array([0.3, 0.4, 0.3, 0.4, 0.5, 0.6, 0.3, 0.4, 0.3, 0.4])
    same = np.array([True, False] * 5)
    folds = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    result = metrics.kfold(dist, same, folds)
    assert result.thresholds.tolist() == pytest.approx([0.35, 0.35, 0.35])
    assert result.accuracies.tolist() == pytest.approx([1.0, 0.5, 1.0])


def test_tar_at_far_on_constructed_scores() -> None:
    negatives = np.linspace(1.0, 2.0, 1000)  # FAR 1% lets the 10 smallest through: tau between 1.009 and 1.010
    positives = np.r_[np.linspace(0.0, 0.9, 90), np.full(5, 1.0095), np.full(5, 1.5)]
    dist = np.r_[positives, negatives]
    same = np.r_[np.ones(100, bool), np.zeros(1000, bool)]
    tar, tau = metrics.tar_at_far(dist, same, 0.01)
    assert negatives[9] < tau < negatives[10]
    assert tar == pytest.approx(0.95)
    tar, tau = metrics.tar_at_far(dist, same, 0.001)  # one negative may pass: the 0.0095 ones are beyond it
    assert negatives[0] < tau < negatives[1]
    assert tar == pytest.approx(0.90)


def test_threshold_at_far_zero_and_ties() -> None:
    assert metrics.threshold_at_far(np.array([0.5, 0.6]), 0.0) < 0.5
    # Two equal smallest negatives and an allowance of one: accepting either accepts both, so neither passes.
    assert metrics.threshold_at_far(np.array([0.5, 0.5, 0.7, 0.8]), 0.25) < 0.5
    assert metrics.threshold_at_far(np.array([0.5, 0.6]), 1.0) == 0.6


def test_dir_at_far_on_a_constructed_case() -> None:
    known_d = np.array([0.1, 0.2, 0.3, 0.4, 0.9])
    correct = np.array([True, True, False, True, True])
    unknown_d = np.linspace(0.35, 1.35, 100)  # FAR 1%: only the nearest unknown (0.35) passes
    rate, tau = metrics.dir_at_far(known_d, correct, unknown_d, 0.01)
    assert 0.35 < tau < unknown_d[1]
    assert rate == pytest.approx(2 / 5)  # 0.1 and 0.2 are right and within tau; 0.3 is wrong; 0.4, 0.9 too far


def test_roc_and_auc() -> None:
    dist = np.array([0.1, 0.2, 0.8, 0.9])
    same = np.array([True, True, False, False])
    curve = metrics.roc(dist, same)
    assert curve.tar.tolist() == [0.5, 1.0, 1.0, 1.0]
    assert curve.far.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert metrics.auc(curve) == pytest.approx(1.0)
    assert metrics.downsample(curve, 2).far.size <= 2


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="differ"):
        metrics.accuracy(np.zeros(3), np.zeros(2, bool), 0.5)
    with pytest.raises(ValueError, match="two folds"):
        metrics.kfold(np.zeros(2), np.array([True, False]), np.zeros(2))
    with pytest.raises(ValueError, match="both"):
        metrics.tar_at_far(np.zeros(2), np.ones(2, bool), 0.01)


def test_plots_without_matplotlib_are_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from faceapp.bench.report import pyplot
    from faceapp.errors import FaceAppError

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the `bench` extra were not installed
    with pytest.raises(FaceAppError, match=r"faceapp\[bench\]"):
        pyplot()

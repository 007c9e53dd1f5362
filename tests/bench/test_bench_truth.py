"""The checker behind `bench gui` and `bench soak --truth` (issue 16): a drawn box is stale only over no face, and
the status bar is compared with the rate counted up to the very moment it is read."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from faceapp.bench import gui

FACE = (10.0, 10.0, 50.0, 60.0)
ELSEWHERE = (100.0, 10.0, 140.0, 60.0)


class FakeDetector:
    def __init__(self, boxes: list[tuple[float, float, float, float]]) -> None:
        self.boxes, self.calls = boxes, 0

    def twin(self) -> FakeDetector:
        return self

    def detect(self, image: np.ndarray) -> list[SimpleNamespace]:
        self.calls += 1
        return [SimpleNamespace(box=b) for b in self.boxes]


def reference(
    live: list[tuple[float, float, float, float]], sensitive: list[tuple[float, float, float, float]]
) -> gui._Reference:
    ref = gui._Reference(FakeDetector(live))
    ref._sensitive = [FakeDetector(sensitive)]
    return ref


def test_a_box_the_live_pass_finds_is_no_miss_and_the_sensitive_passes_are_not_run() -> None:
    ref = reference([FACE], [])
    missed, stale, _ = ref.check(np.zeros((80, 160, 3), np.uint8), [FACE])
    assert missed == stale == []
    assert ref._sensitive is not None
    assert ref._sensitive[0].calls == 0


def test_a_face_only_the_sensitive_pass_finds_is_missed_by_the_live_pass_but_not_stale() -> None:
    missed, stale, found = reference([], [FACE]).check(np.zeros((80, 160, 3), np.uint8), [FACE])
    assert missed == [FACE]
    assert stale == []
    assert FACE in found


def test_a_box_over_no_face_is_stale() -> None:
    missed, stale, _ = reference([FACE], [FACE]).check(np.zeros((80, 160, 3), np.uint8), [FACE, ELSEWHERE])
    assert missed == stale == [ELSEWHERE]


def test_stored_frames_are_checked_later_and_deleted(tmp_path: Path) -> None:
    truth = gui._Truth.__new__(gui._Truth)
    truth.dump = tmp_path / "dump"
    path = tmp_path / "f.npy"
    np.save(path, np.zeros((80, 160, 3), np.uint8))
    truth.samples = [(path, [FACE, ELSEWHERE], 3), (np.zeros((80, 160, 3), np.uint8), [FACE], 0)]
    checked = truth.check(reference([FACE], []))
    assert checked["sampled_frames"] == 2
    assert checked["drawn_boxes"] == 3
    assert checked["stale_boxes"] == 1
    assert checked["live_pass_missed"] == 0  # the one box the live pass misses is over no face: stale, not "missed"
    assert checked["stale_lag_max_frames"] == 3
    assert not path.exists()
    assert [p.name.startswith("stale-lag3") for p in truth.dump.iterdir()] == [True]


def test_the_counted_rate_runs_to_now_and_reads_between_samples() -> None:
    truth = gui._Truth.__new__(gui._Truth)
    # 30 frames a second, sampled every 0.5 s from t=10; the last sample is the one finish adds at t=13.2
    truth.counts = [(10.0 + 0.5 * i, 0, int(15 * i)) for i in range(7)] + [(13.2, 0, 96)]
    assert truth._recent(13.2, 3.0, 2) == pytest.approx(30.0, rel=0.01)
    # a stall in the last 0.7 s shows, as in the status bar, instead of hiding behind the last timer sample
    truth.counts = [(10.0 + 0.5 * i, 0, int(15 * i)) for i in range(7)] + [(13.7, 0, 90)]
    assert truth._recent(13.7, 3.0, 2) == pytest.approx((90 - 15 * 1.4) / 3.0, rel=0.01)

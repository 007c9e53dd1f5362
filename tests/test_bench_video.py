"""bench video's figures from synthetic worker results, and the truth file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceapp.bench.video import TruthSpan, read_truth, summarize
from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.types import MatchRule
from tests.fakes import SYNTHETIC_FACE, FakeDetector, detection, dlib_like, synthetic_video


def result(index: int, faces: list[tuple[int, str | None, float]]) -> FrameResult:
    live = tuple(LiveFace(track, detection(0, 0, 50, 50), 1, name, d) for track, name, d in faces)
    timings = {"detect": 10.0 + index, "embed": 5.0, "match": 0.1, "total": 15.1 + index}
    return FrameResult(index, index / 10, live, timings, "m")


def test_labelled_share_flicker_and_first_label() -> None:
    results = [
        result(0, [(1, "Ada", 0.5)]),  # Unknown under tau 0.2
        result(3, [(1, "Ada", 0.1)]),
        result(6, [(1, "Ada", 0.1), (2, "Bob", 0.15)]),
        result(9, [(1, "Ada", 0.3)]),
    ]
    out = summarize(results, tau=0.2, elapsed=2.0, fps=10.0, truth=None)
    assert out["recognitions"] == 4
    assert out["recognition_fps"] == pytest.approx(2.0)
    assert out["face_frames"] == 5
    assert out["labelled_share"] == pytest.approx(3 / 5)
    # Track 1 goes Unknown -> Ada -> Ada -> Unknown: 2 changes; track 2 none.
    assert out["label_changes_per_track"] == pytest.approx(1.0)
    assert out["first_label_s"] == {"Ada": pytest.approx(0.3), "Bob": pytest.approx(0.6)}


def test_truth_counts_wrong_labels_and_time_to_first_correct(tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    path.write_text("start,end,name\n0,5,Ada\n5,9,Bob\n")
    truth = read_truth(path)
    assert truth == [TruthSpan(0, 5, "Ada"), TruthSpan(5, 9, "Bob")]
    results = [result(3, [(1, "Ada", 0.1)]), result(8, [(1, "Ada", 0.1), (2, "Bob", 0.1)])]
    out = summarize(results, tau=0.2, elapsed=1.0, fps=10.0, truth=truth)
    assert out["wrong_labels"] == 1  # Ada at frame 8 is off screen
    assert out["time_to_first_correct_s"] == {"Ada": pytest.approx(0.3), "Bob": pytest.approx(0.3)}


def test_plot_run_draws_latency_and_label_timeline(tmp_path: Path) -> None:
    from faceapp.bench.video import plot_run

    results = [result(i, [(1, "Ada", 0.1 if i > 2 else 0.5)]) for i in range(6)]
    path = tmp_path / "plots" / "video.png"
    plot_run(results, tau=MatchRule(0.2, 0.35), fps=10.0, path=path)  # what `bench video --plots` passes
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000


def test_run_reports_the_frame_count_of_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import faceapp.bench.video as bench_video

    monkeypatch.setattr(bench_video, "create_embedder", lambda name: dlib_like())
    monkeypatch.setattr(bench_video, "Detector", lambda config: FakeDetector([detection(*SYNTHETIC_FACE)]))
    clip = synthetic_video(tmp_path / "clip.avi", frames=20, fps=100.0)
    out = bench_video.run(clip, {}, "dlib-resnet", tau=None, scale=0.5)
    assert out["frames"] == 20  # was null: read after the capture thread had closed the source
    assert out["recognitions"] >= 1

"""bench video's figures from synthetic worker results, and the truth file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceapp.bench.track_metrics import UNDECIDED, UNKNOWN, label_changes
from faceapp.bench.video import TruthSpan, read_truth, summarize
from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.track_evidence import Verdict
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


def test_leaving_the_undecided_mark_is_no_label_change() -> None:
    """bench video counted a track's undecided frames ("…", shown as Unknown) then its name as a change, so every
    track showed 1.00; bench tracks counts changes after the first decision only, and both now count the same way."""
    undecided, ada = Verdict("undecided", 1, "Ada", 0.1), Verdict("named", 1, "Ada", 0.1, frames=3)
    gone = Verdict("unknown", 1, "Ada", 0.5, frames=4)

    def frame(index: int, verdict: Verdict) -> FrameResult:
        face = LiveFace(1, detection(0, 0, 50, 50), 1, "Ada", verdict.distance, verdict=verdict)
        return FrameResult(index, index / 10, (face,), {"total": 1.0}, "m")

    steady = [frame(0, undecided), frame(1, undecided), frame(2, ada), frame(3, ada)]
    assert summarize(steady, tau=0.2, elapsed=1.0, fps=10.0, truth=None)["label_changes_per_track"] == 0.0
    dropped = [*steady, frame(4, gone)]
    assert summarize(dropped, tau=0.2, elapsed=1.0, fps=10.0, truth=None)["label_changes_per_track"] == 1.0
    assert label_changes([UNDECIDED, UNDECIDED, 1, 1, UNKNOWN], UNDECIDED) == 1  # bench tracks' count of the same


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
    monkeypatch.setattr(bench_video, "create_detector", lambda name, config: FakeDetector([detection(*SYNTHETIC_FACE)]))
    clip = synthetic_video(tmp_path / "clip.avi", frames=20, fps=100.0)
    out = bench_video.run(clip, {}, "dlib-resnet", tau=None, scale=0.5)
    assert out["frames"] == 20  # was null: read after the capture thread had closed the source
    assert out["recognitions"] >= 1


def test_time_to_name_counts_from_each_shot_or_span_start_to_the_first_report_naming_it() -> None:
    from faceapp.bench.live_rate import time_to_name

    captured = {i: 10.0 + i / 10 for i in range(20)}
    named = [(2, 10.35, []), (3, 10.45, ["Ada"]), (4, 10.5, ["Ada"]), (12, 11.4, ["Bob"]), (13, 11.5, ["Ada"])]
    shots = time_to_name(named, captured, [(0, 9, None), (10, 19, None)])
    assert shots["s"]["n"] == 2
    assert shots["s"]["p50"] == pytest.approx((0.45 + 0.4) / 2)  # frame 0 at 10.0 -> 10.45; frame 10 at 11.0 -> 11.4
    spans = time_to_name(named, captured, [(0, 9, "Bob"), (10, 19, "Ada")])
    assert spans["never_named"] == 1  # Bob is never named while on screen in the first span
    assert spans["s"]["p50"] == pytest.approx(0.5)


def test_variants_play_one_after_another_with_the_live_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import faceapp.bench.video as bench_video

    monkeypatch.setattr(bench_video, "create_embedder", lambda name: dlib_like())
    monkeypatch.setattr(bench_video, "create_detector", lambda name, config: FakeDetector([detection(*SYNTHETIC_FACE)]))
    clip = synthetic_video(tmp_path / "clip.avi", frames=30, fps=60.0)
    out = bench_video.run(clip, {}, "dlib-resnet", tau=None, scale=0.5, pipelines=("staged", "single-1t"))
    variants = out["variants"]
    assert isinstance(variants, dict)
    assert set(variants) == {"staged", "single-1t"}
    for figures in variants.values():
        assert 0 < figures["fresh_label_share"] <= 1
        assert figures["frames"] == 30
        assert figures["time_to_name"]["never_named"] == 1  # nobody enrolled: the one shot is never named
    lines = bench_video.live_rate.table(variants)
    assert "staged" in lines[0]
    assert "single-1t" in lines[0]
    assert any(line.startswith("recognized frames/s") for line in lines)


def test_a_pipeline_plays_against_each_gallery_size_in_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import faceapp.bench.video as bench_video

    monkeypatch.setattr(bench_video, "create_embedder", lambda name: dlib_like())
    monkeypatch.setattr(bench_video, "create_detector", lambda name, config: FakeDetector([detection(*SYNTHETIC_FACE)]))
    clip = synthetic_video(tmp_path / "clip.avi", frames=20, fps=60.0)
    out = bench_video.run(clip, {}, "dlib-resnet", tau=None, scale=0.5, gallery_samples=(10, 403))
    variants = out["variants"]
    assert isinstance(variants, dict)
    assert list(variants) == ["staged @10", "staged @403"]
    assert [v["gallery_samples"] for v in variants.values()] == [10, 403]  # the strangers really are in the gallery
    for figures in variants.values():
        assert figures["frames"] == 20
        assert figures["recognitions"] >= 1


def test_gallery_sizes_are_checked() -> None:
    from faceapp.bench.video import _parse_sizes
    from faceapp.errors import FaceAppError

    assert _parse_sizes("10,100000,10") == (10, 100000)
    for bad in ("", "ten", "-1"):
        with pytest.raises(FaceAppError):
            _parse_sizes(bad)

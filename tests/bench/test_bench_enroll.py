"""`faceapp bench enroll`'s pieces: the simulated capture stops at five samples and says when; bad options say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceapp.bench import enroll, main
from tests.core.test_guided import SHARP, face, nudged


def test_the_simulated_capture_ends_at_five_samples_and_reports_when() -> None:
    poses = [(0.0, 0.0), (0.0, 0.0), (0.2, 0.0), (-0.2, 0.0), (0.0, 0.15), (0.0, -0.15), (0.0, 0.0)]
    frames = [(0.25 * i, SHARP, [face(nudged(0.01 * i), y, p)]) for i, (y, p) in enumerate(poses)]
    reasons: enroll.Counter[str] = enroll.Counter()
    session, end = enroll.capture(frames, 0.2, 5, reasons)
    assert [s.bin for s in session.samples] == ["frontal", "left", "right", "up", "down"]
    assert end == pytest.approx(1.25)  # the sixth frame (t = 1.25 s) gave the fifth sample
    assert reasons == {"taken": 5, "same as a sample already taken": 1}
    one, _ = enroll.capture(frames, 0.2, 1)
    assert len(one.samples) == 1


def test_bad_options_get_a_one_line_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enroll", "--data", "/nonexistent", "--min-images", "3"]) == 2
    assert "--min-images above 10" in capsys.readouterr().err
    assert main(["enroll", "--data", "/nonexistent", "--wall", "-1"]) == 2
    assert "--wall must be 0 or more" in capsys.readouterr().err


def test_the_wall_capture_runs_the_app_worker_on_the_clip_in_real_time(tmp_path: Path) -> None:
    from faceapp.core.analyzer import FaceAnalyzer
    from tests.fakes import synthetic_video
    from tests.ui.test_guided import BoxEmbedder, TurningDetector

    clip = synthetic_video(tmp_path / "clip.avi", frames=50)
    analyzer = FaceAnalyzer(TurningDetector(), BoxEmbedder())  # type: ignore[arg-type]
    rows = {lean: enroll.wall_capture(clip, analyzer, 0.178, lean, timeout_s=10.0) for lean in (False, True)}
    for lean, row in rows.items():
        assert row["lean"] is lean
        assert row["samples"] == 5
        assert sorted(row["bins"]) == ["down", "frontal", "left", "right", "up"]
        assert row["seconds_to_5"] == max(row["sample_times_s"])
        assert 0 < row["seconds_to_5"] < 5  # a frame every 40 ms of wall time, the fake analyses at once
        assert row["analyses"] >= 5
        assert row["samples_within_10s"] == 5
    lines = enroll.wall_report({"clip": list(rows.values())})
    assert lines[1].startswith("  clip full, 1 thread(s): 5 samples")
    assert lines[2].startswith("  clip lean, 1 thread(s): 5 samples")

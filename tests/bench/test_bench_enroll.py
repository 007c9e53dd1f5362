"""`faceapp bench enroll`'s pieces: the simulated capture stops at five samples and says when; bad options say why."""

from __future__ import annotations

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

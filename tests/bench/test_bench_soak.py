"""`faceapp bench soak`: the summary's verdicts, and a short real run of the window in a child process."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceapp.bench import soak


def _sample(t: float, rss: float, display: float = 25.0, none: int = 1000) -> dict[str, float]:
    return {
        "t_min": t,
        "rss_mb": rss,
        "display_fps": display,
        "captured_fps": display,
        "recognition_fps": 10.0,
        "source_fps": 25.0,
        "gui_latency_p95_ms": 3.0,
        "none_refcount": none,
        "painted": int(t * 1500),
    }


def test_growth_is_measured_from_the_first_sample_after_warm_up() -> None:
    samples = [_sample(0.5, 900), _sample(1.5, 1000), _sample(2.5, 1010), _sample(10, 1030, none=1000)]
    r = soak.summarize(samples, 0, 10)
    assert r["alive"]
    assert r["rss_after_warm_up_mb"] == 1010
    assert r["rss_growth_after_warm_up_mb"] == pytest.approx(20)
    assert "met" in soak.report_text(r)


def test_a_crashed_child_is_reported_dead_with_its_signal() -> None:
    samples = [_sample(0.5, 900), _sample(3.0, 1000, none=900), _sample(4.0, 1100, none=10)]
    r = soak.summarize(samples, -6, 30)  # what none_dealloc's abort() gives
    assert not r["alive"]
    assert r["end"] == "killed by signal SIGABRT"
    assert r["none_refcount_change"] == -890
    text = soak.report_text(r)
    assert "DIED" in text
    assert "MISSED" in text  # +100 MiB after warm-up


def test_a_run_cut_short_or_a_frozen_display_is_not_alive() -> None:
    assert not soak.summarize([_sample(0.5, 900), _sample(5.0, 900)], 0, 30)["alive"]  # 5 of 30 minutes
    assert not soak.summarize([_sample(0.5, 900), _sample(30.0, 900, display=0.0)], 0, 30)["alive"]


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    from faceapp.errors import BadInputError

    with pytest.raises(BadInputError, match="no such video file"):
        soak.main(["--source", str(tmp_path / "missing.mp4")])
    (tmp_path / "v.mp4").write_bytes(b"")
    with pytest.raises(BadInputError, match="positive"):
        soak.main(["--source", str(tmp_path / "v.mp4"), "--minutes", "0"])


def test_a_short_soak_runs_the_window_in_a_child_and_reports_it_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "loop.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (160, 120))
    for i in range(25):
        writer.write(np.full((120, 160, 3), 8 * i, np.uint8))
    writer.release()
    out = tmp_path / "soak.json"
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where the soak's own folder goes
    argv = ["--source", str(video), "--minutes", "0.15", "--interval", "3", "--truth", "--out", str(out)]
    code = soak.main(argv)
    r = json.loads(out.read_text())
    assert code == 0, r["end"]
    assert r["alive"]
    assert len(r["samples"]) >= 2
    assert r["last"]["display_fps"] > 10  # frames kept coming to the end of the run (source: 25 fps)
    assert np.isfinite(r["rss_end_mb"])
    # --truth: every span's status bar checked, its boxes after the window closed (a blank clip draws none)
    assert r["truth"]["spans"] == r["truth"]["spans_checked"] == len(r["samples"])
    assert r["truth"]["check_error"] == ""
    assert list(temp.iterdir()) == []  # the gallery, settings and stored frames went with the soak's folder


def _checked(t: float, gone_by: float = 0.0, status_error: float = 0.01) -> dict[str, float]:
    """A span's sample as the child prints it: clicks and status bar at once, boxes checked after the last span."""
    return {
        **_sample(t, 1000),
        "clicks": 10.0,
        "clicks_opened": 10.0 - gone_by,
        "clicks_gone_by": gone_by,
        "status_recognition_error": status_error,
        "status_display_error": 0.01,
    }


def _boxes(span: int, stale: float = 0.0, missed: float = 0.0) -> dict[str, float]:
    return {"truth_span": span, "drawn_boxes": 30.0, "stale_boxes": stale, "live_pass_missed": missed}


def test_truth_spans_add_up_and_any_stale_box_or_lost_click_is_a_miss() -> None:
    spans = [_checked(0.5), _checked(1.0), _checked(2.5)]
    good = soak.summarize([*spans, _boxes(0), _boxes(1, missed=2), _boxes(2)], 0, 2.5)
    assert good["truth"]["drawn_boxes"] == 90
    assert good["truth"]["spans"] == good["truth"]["spans_checked"] == 3
    assert len(good["samples"]) == 3  # the boxes' lines went into their spans
    text = soak.report_text(good)
    assert "MISSED" not in text
    assert "stale boxes drawn (over no face): 0 of 90 checked, over 3 of 3 spans (target 0: met); 2 more" in text
    spans = [_checked(0.5), _checked(1.0, gone_by=1), _checked(2.5, status_error=0.08)]
    bad = soak.summarize([*spans, _boxes(0), _boxes(1, stale=1, missed=0), _boxes(2)], 0, 2.5)
    text = soak.report_text(bad)
    assert "stale boxes drawn (over no face): 1 of 90" in text
    assert "29 of 30, 1 'already gone by'" in text
    assert "in 2 of 3 spans; worst recognition 8.0%" in text
    assert text.count("MISSED") == 3


def test_a_check_that_failed_after_the_window_closed_is_the_checks_miss_not_a_death() -> None:
    lines = [_checked(0.5), _checked(1.0), _checked(2.5), _boxes(0), {"truth_error": "MemoryError: "}]
    r = soak.summarize(lines, 0, 2.5)
    assert r["alive"]
    assert r["truth"]["spans_checked"] == 1
    assert "over 1 of 3 spans (target 0: MISSED, the check failed: MemoryError: )" in soak.report_text(r)


def test_a_soak_that_died_before_the_boxes_were_checked_says_so() -> None:
    r = soak.summarize([_checked(0.5), _checked(1.0)], -6, 2.5)
    assert r["truth"]["spans_checked"] == 0
    assert "over 0 of 2 spans (target 0: MISSED)" in soak.report_text(r)


def test_truth_is_left_out_of_a_soak_that_did_not_check() -> None:
    r = soak.summarize([_sample(0.5, 900), _sample(2.5, 910)], 0, 2.5)
    assert "truth" not in r
    assert "stale boxes" not in soak.report_text(r)

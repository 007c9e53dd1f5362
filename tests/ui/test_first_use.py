"""Issue 16: what the window shows is true. Mirroring, the status bar's figures, stale boxes, click-to-enroll late."""

from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from pytestqt.qtbot import QtBot

from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.types import Detection
from faceapp.core.video import FrameSource
from faceapp.settings import Settings
from faceapp.ui import flows
from faceapp.ui.widgets import RateMeter
from tests.fakes import SYNTHETIC_FACE, detection, dlib_like, synthetic_video
from tests.ui.helpers import WindowFactory, synthetic_detector, wait_for_faces


def figure(text: str) -> float:
    """The first number of a status label ("recognition 0.8 fps" -> 0.8)."""
    found = re.search(r"\d+(?:\.\d+)?", text)
    assert found is not None, text
    return float(found.group())


# -- item 1: a file is never mirrored -------------------------------------------------------------------------
def test_a_video_file_is_never_mirrored_while_a_camera_is_by_default(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    clip = tmp_path / "left_white.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (160, 120))
    for _ in range(20):
        image = np.zeros((120, 160, 3), np.uint8)
        image[:, :40] = 255  # white on the left of the file: text would read backwards if mirrored
        writer.write(image)
    writer.release()
    assert Settings().mirror_view  # the selfie view is the default ...
    window = make_window(clip, dlib_like(), start=False, mirror_view=True)
    window.open_source(str(clip))
    qtbot.waitUntil(lambda: window.view.painted >= 3, timeout=5000)
    assert not window.view.mirror  # ... but never for a file
    shot = window.view.grab().toImage()
    rect = window.view.image_rect()
    y = int(rect.center().y())
    left = shot.pixelColor(int(rect.left() + rect.width() * 0.1), y).lightness()
    right = shot.pixelColor(int(rect.left() + rect.width() * 0.9), y).lightness()
    assert left > 200 > 60 > right  # painted as the file has it
    window.session.stop()
    window.session.source = FrameSource("0")  # a camera (not opened: none on a test machine)
    window.apply_settings(window.settings, restart_source=False)
    assert window.view.mirror
    window.apply_settings(Settings(**{**window.settings.__dict__, "mirror_view": False}), restart_source=False)
    assert not window.view.mirror  # and the user can turn it off


# -- item 4: the status bar's figures are the measured rates ----------------------------------------------------
def test_rate_meter_reads_slow_and_fast_rates_within_five_percent() -> None:
    for fps in (0.4, 0.8, 3.0, 25.0, 30.0):
        meter = RateMeter()
        rng = np.random.default_rng(1)
        t = 0.0
        for _ in range(int(20 * fps)):
            t += (1.0 / fps) * (1 + rng.uniform(-0.05, 0.05))
            meter.tick(t)
        assert meter.rate(t + 0.5 / fps) == pytest.approx(fps, rel=0.05), fps
    stalled = RateMeter()
    for i in range(10):
        stalled.tick(i * 0.1)
    assert stalled.rate(6.0) < 1.0  # nothing came for 5 s: not "10 fps"
    assert stalled.rate(30.0) == 0.0


def test_status_bar_shows_the_measured_display_and_recognition_rates(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    """Recognition at under 1 fps (a slow machine) read 0.0 on the old two-second meter."""
    window = make_window(synthetic, dlib_like(), live=synthetic_detector(delay=1.2))
    arrivals: list[float] = []
    window.bridge.result_ready.connect(lambda result: arrivals.append(time.monotonic()))
    wait_for_faces(qtbot, window)
    painted0, t0 = window.view.painted, time.monotonic()
    qtbot.waitUntil(lambda: len(arrivals) >= 6, timeout=20000)
    painted1, t1 = window.view.painted, time.monotonic()
    window.status.refresh()
    recognition_real = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    display_real = (painted1 - painted0) / (t1 - t0)
    shown_recognition = figure(window.status.recognition_label.text())
    shown_display = figure(window.status.display_label.text())
    assert shown_recognition == pytest.approx(recognition_real, rel=0.05, abs=0.05)
    assert shown_display == pytest.approx(display_real, rel=0.05)
    assert shown_display <= window.session.source_fps * 1.05  # never more frames shown than the file has


def test_progress_bar_does_not_cover_the_status_message(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    window = make_window(synthetic, dlib_like(), start=False)
    message = "The gallery was made with dlib-resnet; loading its embeddings"
    window.status.showMessage(message)
    window.status.show_progress("Loading models...", 0, 0)
    qtbot.waitUntil(lambda: window.status.progress.isVisible(), timeout=2000)
    text_width = window.status.fontMetrics().horizontalAdvance(message)
    assert window.status.currentMessage() == message
    assert window.status.progress.geometry().left() > text_width


# -- item 2: no stale boxes ---------------------------------------------------------------------------------------
class PresenceDetector:
    """Finds the synthetic square only in frames that show it (after `delay` seconds)."""

    def __init__(self, delay: float) -> None:
        from faceapp.core.detect import DetectorConfig

        self.delay, self.config = delay, DetectorConfig()

    def detect(self, image: np.ndarray) -> list[Detection]:
        time.sleep(self.delay)
        x1, y1, x2, y2 = (int(v) for v in SYNTHETIC_FACE)
        return [detection(*SYNTHETIC_FACE)] if image[y1:y2, x1:x2].std() > 20 else []


def cut_clip(path: Path) -> Path:
    """80 frames at 25 fps: the textured square for 40, then a cut to a scene without it."""
    synthetic_video(path.with_suffix(".face.avi"), frames=1)
    face = cv2.VideoCapture(str(path.with_suffix(".face.avi"))).read()[1]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (160, 120))
    for i in range(80):
        writer.write(face if i < 40 else np.full((120, 160, 3), 170, np.uint8))
    writer.release()
    return path


def test_no_box_is_drawn_over_a_frame_without_the_face(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    """Recognition at 2 fps: the old view drew the last face over the empty scene until the next result came."""
    window = make_window(cut_clip(tmp_path / "cut.avi"), dlib_like(), live=PresenceDetector(0.5))
    wait_for_faces(qtbot, window)
    samples: list[tuple[int, list[LiveFace]]] = []
    timer = QTimer()
    timer.timeout.connect(lambda: samples.append(window.view.drawn))
    timer.start(15)
    qtbot.wait(6500)  # two passes of the clip, four cuts
    timer.stop()
    stale = [index for index, faces in samples if faces and index % 80 >= 40]
    shown = [index for index, faces in samples if faces and index % 80 < 40]
    assert len(samples) > 200
    assert stale == []
    assert len(shown) > 20  # boxes are still drawn where the face is


# -- item 3: click-to-enroll at any recognition rate -----------------------------------------------------------
def test_every_click_on_a_drawn_box_opens_the_enroll_dialog_on_its_own_frame(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result 2.2 s late is 55 frames old: the old window kept 48 and said "That frame has already gone by"."""
    opened: list[tuple[np.ndarray, LiveFace]] = []
    monkeypatch.setattr(flows, "enroll_face", lambda window, image, face: opened.append((image, face)))
    window = make_window(synthetic, dlib_like(), live=synthetic_detector(delay=2.2))
    wait_for_faces(qtbot, window, timeout=20000)
    messages: list[str] = []
    window.status.messageChanged.connect(messages.append)
    clicks = 0
    for _ in range(8):
        drawn = window.view.drawn[1]
        if drawn:
            result: FrameResult = window.view.result  # type: ignore[assignment]
            centre = window.view.box_rect(drawn[0]).center()
            qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=QPoint(int(centre.x()), int(centre.y())))
            clicks += 1
            assert opened, messages
            image, face = opened[-1]
            assert image is result.image  # the frame this box was found in, however old
            assert face.track_id == drawn[0].track_id
        qtbot.wait(400)
    assert clicks >= 6
    assert len(opened) == clicks
    assert not any("gone by" in m for m in messages)

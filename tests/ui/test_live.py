"""The live window on a synthetic clip: paints the video, keeps the source's frame rate with a slow model, and stops
its threads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.fakes import FakeEmbedder, dlib_like
from tests.ui.helpers import WindowFactory, synthetic_detector, wait_for_faces


def test_window_starts_on_a_video_file_and_paints_frames(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    window = make_window(synthetic, dlib_like(), live=synthetic_detector())
    qtbot.waitUntil(lambda: window.view.painted >= 15, timeout=5000)
    wait_for_faces(qtbot, window)
    qtbot.waitUntil(lambda: "display 0.0" not in window.status.display_label.text(), timeout=3000)
    assert "dlib-resnet" in window.status.model_label.text()
    assert "gallery: 0 people" in window.status.gallery_label.text()
    assert window.view.image_rect().width() > 0


def test_slow_embedder_does_not_slow_the_display(qtbot: QtBot, make_window: WindowFactory, synthetic: Path) -> None:
    slow = dlib_like(delay=0.3)  # the steady square is re-embedded every third update: detection is slow too
    window = make_window(synthetic, slow, live=synthetic_detector(delay=0.15))
    wait_for_faces(qtbot, window)
    start_captured, start_painted, t0 = window.session.captured, window.view.painted, time.monotonic()
    qtbot.wait(3000)
    captured = window.session.captured - start_captured
    painted = window.view.painted - start_painted
    elapsed = time.monotonic() - t0
    assert captured >= 0.9 * window.session.source_fps * elapsed  # the source keeps its pace
    assert painted >= captured - 2  # every captured frame is painted (one or two may be in flight)
    assert window.session.recognized < captured / 3  # while recognition lags far behind


def test_closing_stops_every_thread_within_a_second(qtbot: QtBot, make_window: WindowFactory, synthetic: Path) -> None:
    window = make_window(synthetic, dlib_like(delay=0.1), live=synthetic_detector())
    wait_for_faces(qtbot, window)
    threads = [window.session.capture, window.session.worker]
    assert all(t is not None and t.is_alive() for t in threads)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 1.0
    assert not any(t is not None and t.is_alive() for t in threads)


def test_missing_source_says_so_and_the_window_stays_usable(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path, synthetic: Path
) -> None:
    window = make_window(tmp_path / "nope.mp4", dlib_like(), live=synthetic_detector())
    assert window.banner.isVisible()
    assert "does not exist" in window.banner.label.text()
    assert [b.text() for b in window.banner._buttons][:2] == ["Try camera index...", "Open video file..."]
    assert window.open_source(str(synthetic))
    qtbot.waitUntil(lambda: window.view.painted >= 5, timeout=5000)
    assert not window.banner.isVisible()


def test_missing_weights_show_a_download_path(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faceapp.core import weights
    from faceapp.errors import ModelError

    def broken(name: str) -> FakeEmbedder:
        raise ModelError("The weights of facenet-vggface2 are not on this machine.")

    downloads: list[str] = []

    def download(model: str, check: object, progress: object = None) -> Path:
        downloads.append(model)
        return synthetic

    monkeypatch.setattr(weights, "download", download)
    window = make_window(synthetic, dlib_like(), live=synthetic_detector(), start=False, model="facenet-vggface2")
    assert window.engine is not None
    window.engine._factory = broken  # type: ignore[assignment]
    window.engine._embedder = None
    window.start()
    qtbot.waitUntil(window.banner.isVisible, timeout=5000)
    assert "not on this machine" in window.banner.label.text()
    offered = {b.text(): b for b in window.banner._buttons}
    assert {"Download weights", "Import weights file..."} <= set(offered)
    offered["Download weights"].click()  # the path the banner offers really downloads
    qtbot.waitUntil(lambda: downloads == ["facenet-vggface2"], timeout=5000)
    qtbot.waitUntil(lambda: window.view.painted >= 5, timeout=5000)  # the video still plays


def test_margin_in_settings_and_ambiguous_faces_in_the_view(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from faceapp.core.live import LiveFace
    from faceapp.ui import flows
    from faceapp.ui.settings_dialog import SettingsDialog
    from tests.fakes import detection

    window = make_window(synthetic, dlib_like(), live=synthetic_detector(), start=False)
    assert window.rule().margin == 0.35  # dlib-resnet's calibrated default
    close_call = LiveFace(1, detection(10, 10, 90, 90), 1, "Ada", 0.10, runner_up=0.12)
    text, _ = window.view.labeler(close_call)
    assert text.startswith("Unknown")
    assert "(ambiguous)" in text
    seen: list[str] = []

    def turn_the_guard_off() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        assert dialog.margin.value() == 35
        dialog.margin.setValue(0)
        seen.append(window.view.labeler(close_call)[0])  # previewed while the dialog is open
        dialog.accept()

    QTimer.singleShot(200, turn_the_guard_off)
    flows.open_settings(window)
    assert seen
    assert seen[0].startswith("Ada")
    assert window.settings.margin_for("dlib-resnet", 0.35) == 0.0
    assert window.rule().margin == 0.0


def test_an_untouched_margin_box_keeps_a_finer_saved_margin(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from faceapp.ui import flows
    from faceapp.ui.settings_dialog import SettingsDialog

    window = make_window(synthetic, dlib_like(), live=synthetic_detector(), start=False, margins={"dlib-resnet": 0.355})

    def change_something_else() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        assert dialog.margin.value() == 36  # shown in whole percent
        dialog.mirror.setChecked(True)
        dialog.accept()

    QTimer.singleShot(200, change_something_else)
    flows.open_settings(window)
    assert window.settings.mirror_view
    assert window.settings.margin_for("dlib-resnet", 0.35) == 0.355


def test_choosing_yunet_in_settings_switches_both_detectors(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from faceapp.ui import flows
    from faceapp.ui.settings_dialog import SettingsDialog

    window = make_window(hamilton, FakeEmbedder(), start=False)
    assert window.live_detector.name == "mtcnn"

    def pick_yunet() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        dialog.detector_box.setCurrentIndex(dialog.detector_box.findData("yunet"))
        dialog.accept()

    QTimer.singleShot(200, pick_yunet)
    flows.open_settings(window)
    assert window.settings.detector == "yunet"
    assert window.live_detector.name == "yunet"
    assert window.live_detector.config.scale == 0.5
    assert window.engine is not None
    assert window.engine.detector.name == "yunet"

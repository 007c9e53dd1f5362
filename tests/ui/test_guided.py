"""Guided enrollment driven as a user would: a video file as the camera, click a face (or Enroll person, or Add
samples), the dialog collects samples while the head "turns", the user types a name and saves, stops early or keeps
one sample."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QInputDialog
from pytestqt.qtbot import QtBot

from faceapp.core import align
from faceapp.core.catalog import BUILTIN
from faceapp.core.types import Detection, FaceSample
from faceapp.ui.guided_dialog import GuidedDialog
from faceapp.ui.main_window import MainWindow
from tests.core.test_guided import landmarks
from tests.fakes import SYNTHETIC_FACE, FakeDetector, FakeEmbedder
from tests.spies import OneAtATime
from tests.ui.helpers import WindowFactory, wait_for_faces

# The synthetic "face" looks straight, then left, right, up, down, one pose per detection call.
POSES = [(0.0, 0.0), (0.2, 0.0), (-0.2, 0.0), (0.0, 0.15), (0.0, -0.15)]


class TurningDetector(FakeDetector):
    """The synthetic clip's square, its landmarks turning through POSES from one call to the next."""

    def __init__(self) -> None:
        super().__init__([])
        self.calls = 0
        self.lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[Detection]:
        with self.lock:
            yaw, pitch = POSES[self.calls % len(POSES)]
            self.calls += 1
        return [Detection(SYNTHETIC_FACE, 0.99, landmarks(SYNTHETIC_FACE, yaw, pitch))]


class BoxEmbedder(FakeEmbedder):
    """The fake embedder's box-crop vector tiled to dlib's 128 dimensions: the same face whatever its landmarks, but
    each pose's chip a little apart (d ~ 1e-3 to 1e-2, as a real model's frames are), so no two are the same picture."""

    def __init__(self) -> None:
        super().__init__(info=BUILTIN["dlib-resnet"])

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        chip = super().align(image, detection).copy()  # a box crop: the same for every pose of the face...
        chip[0, :10] = np.clip(detection.landmarks.reshape(-1, 1), 0, 255)  # ...but for its first row: the pose
        return chip

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        small = super().embed_chips(chips)
        tiled = np.tile(small, (1, 8)) / np.sqrt(8)
        pose = chips[:, 0, :10, 0].astype(np.float64)  # the landmarks align wrote into the first row
        pose = np.pad(pose - pose.mean(axis=1, keepdims=True), ((0, 0), (0, 118)))
        out = tiled + 0.02 * pose
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def guided_window(make_window: WindowFactory, synthetic: Path) -> MainWindow:
    return make_window(synthetic, BoxEmbedder(), live=TurningDetector())


def when_guided(qtbot: QtBot, act: Callable[[GuidedDialog], None], ready: Callable[[GuidedDialog], bool]) -> list:
    """Once the modal guided dialog is up and `ready`, run `act` on it (the dialog runs in exec)."""
    seen: list[GuidedDialog] = []

    def poll(tries: int = 600) -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, GuidedDialog) and ready(dialog):
            seen.append(dialog)
            try:
                act(dialog)
            except BaseException:
                dialog.reject()  # a failed check must not leave the modal dialog waiting
                raise
        elif tries > 0:
            QTimer.singleShot(25, lambda: poll(tries - 1))
        elif isinstance(dialog, QDialog):
            dialog.reject()  # never ready (or another dialog): close it, so the test fails instead of hanging

    QTimer.singleShot(50, poll)
    return seen


def type_name_and_save(qtbot: QtBot, dialog: GuidedDialog, name: str | None) -> None:
    if name is not None:
        dialog.name.setFocus()
        dialog.name.lineEdit().selectAll()
        qtbot.keyClicks(dialog.name.lineEdit(), name)
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)  # Enter saves


def click_face(qtbot: QtBot, window: MainWindow) -> None:
    wait_for_faces(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.view.drawn[1]), timeout=5000)  # a box painted, to click
    face = window.view.drawn[1][0]
    centre = window.view.box_rect(face).center()
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=QPoint(int(centre.x()), int(centre.y())))


def samples_of(window: MainWindow, name: str) -> int:
    assert window.engine is not None
    return window.engine.person(name).sample_count


def test_click_a_face_collects_distinct_samples_and_saves_them(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    window = guided_window(make_window, synthetic)
    seen = when_guided(
        qtbot, lambda d: type_name_and_save(qtbot, d, "Guided Person"), lambda d: not d.capturing and bool(d.samples)
    )
    click_face(qtbot, window)
    assert seen, "the guided dialog did not open, or never finished its capture"
    dialog = seen[0]
    assert dialog.outcome.startswith("Saved 5 sample")
    assert sorted(s.bin for s in dialog.samples) == ["down", "frontal", "left", "right", "up"]
    assert dialog.ring.taken == 5
    assert dialog.thumbs.count() == 5
    assert samples_of(window, "Guided Person") == 5
    assert not window.session.paused  # live recognition has its frames back
    assert not window.session.taps
    qtbot.waitUntil(lambda: not any(t.name == "faceapp-guided" for t in threading.enumerate()), timeout=3000)


def test_stop_early_keeps_what_was_taken(qtbot: QtBot, make_window: WindowFactory, synthetic: Path) -> None:
    window = guided_window(make_window, synthetic)
    taken: list[int] = []

    def stop_then_save(dialog: GuidedDialog) -> None:
        qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
        taken.append(len(dialog.samples))
        assert not dialog.capturing
        assert not dialog.stop_button.isEnabled()
        type_name_and_save(qtbot, dialog, "Early")

    seen = when_guided(qtbot, stop_then_save, lambda d: 2 <= len(d.samples) < 5)
    active_window(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert seen, "Enroll person did not open the guided dialog"
    assert 2 <= taken[0] < 5
    assert samples_of(window, "Early") == taken[0]


def test_keep_one_saves_a_single_sample(qtbot: QtBot, make_window: WindowFactory, synthetic: Path) -> None:
    window = guided_window(make_window, synthetic)

    def keep_one(dialog: GuidedDialog) -> None:
        dialog.keep_one_button.setFocus()
        qtbot.keyClick(dialog.keep_one_button, Qt.Key.Key_Space)  # the keyboard's press
        assert len(dialog.samples) == 1
        assert dialog.samples[0].bin == "frontal"
        assert dialog.thumbs.count() == 1
        type_name_and_save(qtbot, dialog, "Just One")

    seen = when_guided(qtbot, keep_one, lambda d: len(d.samples) >= 3)
    click_face(qtbot, window)
    assert seen
    assert samples_of(window, "Just One") == 1


def test_removing_a_thumbnail_drops_that_sample(qtbot: QtBot, make_window: WindowFactory, synthetic: Path) -> None:
    window = guided_window(make_window, synthetic)
    removed: list[int] = []

    def remove_then_save(dialog: GuidedDialog) -> None:
        dialog.thumbs.setFocus()
        dialog.thumbs.setCurrentRow(1)
        removed.append(int(dialog.thumbs.currentItem().data(Qt.ItemDataRole.UserRole)))
        qtbot.keyClick(dialog.thumbs, Qt.Key.Key_Delete)
        assert removed[0] not in [s.id for s in dialog.samples]
        assert dialog.thumbs.count() == 4
        type_name_and_save(qtbot, dialog, "Four")

    seen = when_guided(qtbot, remove_then_save, lambda d: not d.capturing and len(d.samples) == 5)
    click_face(qtbot, window)
    assert seen
    assert samples_of(window, "Four") == 4


def test_add_samples_tops_up_an_existing_person(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = guided_window(make_window, synthetic)
    assert window.engine is not None
    wait_for_faces(qtbot, window)
    frame = window.view.frame
    assert frame is not None
    crop, moved = align.sample_crop(frame.image, Detection(SYNTHETIC_FACE, 0.99, landmarks(SYNTHETIC_FACE)))
    window.engine.enroll_samples("Ann", [FaceSample(crop, moved, "test")])
    qtbot.waitUntil(lambda: window.people_names() == ["Ann"], timeout=5000)
    asked: list[list[str]] = []

    def pick(parent: object, title: str, label: str, items: list[str], *args: object) -> tuple[str, bool]:
        asked.append(list(items))
        return "Ann", True

    monkeypatch.setattr(QInputDialog, "getItem", pick)
    names: list[str] = []

    def save(dialog: GuidedDialog) -> None:
        names.append(dialog.name.currentText())
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton)

    seen = when_guided(qtbot, save, lambda d: not d.capturing and bool(d.samples))
    window.actions_by_name["add_samples"].trigger()
    assert seen
    assert asked == [["Ann"]]
    assert names == ["Ann"]
    assert seen[0].windowTitle() == "Add samples of Ann"
    # The still synthetic clip's frontal capture is the very picture Ann was enrolled with: not stored twice.
    assert samples_of(window, "Ann") == 1 + len(seen[0].samples) - 1
    assert len(seen[0].samples) == 5


def active_window(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=10000)
    wait_for_faces(qtbot, window)


class SharedDetector(TurningDetector):
    """The turning face, found inside `guard` (the analyzer serves one thread at a time). The recognition worker
    lingers there (up to `linger` s, less if another thread comes in), so an overlap the code allows does happen."""

    def __init__(self, guard: OneAtATime, linger: float = 0.4) -> None:
        super().__init__()
        self.guard, self.linger = guard, linger

    def detect(self, image: np.ndarray) -> list[Detection]:
        live = threading.current_thread().name == "faceapp-recognition"
        with self.guard.use(self.linger if live else 0.0):
            return super().detect(image)


class SharedEmbedder(BoxEmbedder):
    """BoxEmbedder inside `guard`."""

    def __init__(self, guard: OneAtATime) -> None:
        super().__init__()
        self.guard = guard

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        with self.guard.use():
            return super().embed_chips(chips)


def recognition_goes_on(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.session.paused and not window.session.taps, timeout=5000)
    before = window.session.recognized
    qtbot.waitUntil(lambda: window.session.recognized >= before + 2, timeout=8000)


def test_the_guided_capture_never_shares_the_analyzer_with_live_recognition(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    guard = OneAtATime()
    window = make_window(synthetic, SharedEmbedder(guard), live=SharedDetector(guard))
    seen = when_guided(qtbot, lambda d: d.reject(), lambda d: not d.capturing and bool(d.samples))
    click_face(qtbot, window)  # the live worker is (nearly always) inside the detector, a frame in hand
    assert seen, "the guided dialog did not open, or never finished its capture"
    assert len(seen[0].samples) == 5
    recognition_goes_on(qtbot, window)
    assert guard.overlaps == []
    guided = [i for i, name in enumerate(guard.entries) if name == "faceapp-guided"]
    assert guided
    between = guard.entries[guided[0] : guided[-1] + 1]
    assert set(between) == {"faceapp-guided"}  # the live worker waited for the guided one to leave
    assert guard.entries[-1] == "faceapp-recognition"  # and then went on


def test_a_capture_cancelled_before_live_recognition_paused_leaves_it_running(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    guard = OneAtATime()
    window = make_window(synthetic, SharedEmbedder(guard), live=SharedDetector(guard, linger=0.0))
    wait_for_faces(qtbot, window)
    guard.block = True  # the live worker's next frame stays inside the analyzer until released
    qtbot.waitUntil(lambda: "faceapp-recognition" in guard.holder(), timeout=5000)
    entered = len(guard.entries)
    try:
        seen = when_guided(qtbot, lambda d: d.reject(), lambda d: True)
        click_face(qtbot, window)
        assert seen, "the guided dialog did not open"
    finally:
        guard.block = False
        guard.release.set()
    recognition_goes_on(qtbot, window)
    assert "faceapp-guided" not in guard.entries[entered:]  # it never got the analyzer
    assert guard.overlaps == []


def test_a_capture_that_fails_to_start_says_so_and_leaves_recognition_running(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faceapp.core import guided

    def fail(self: object) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(guided.GuidedWorker, "start", fail)
    window = guided_window(make_window, synthetic)
    messages: list[str] = []

    def read_and_cancel(dialog: GuidedDialog) -> None:
        messages.append(dialog.error_label.text())
        assert not dialog.capturing
        dialog.reject()

    seen = when_guided(qtbot, read_and_cancel, lambda d: bool(d.error_label.text()))
    click_face(qtbot, window)
    assert seen, "the guided dialog did not show the failure"
    assert messages == ["The capture could not start: can't start new thread"]
    recognition_goes_on(qtbot, window)

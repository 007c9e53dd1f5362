"""Recognition in the window with the real dlib model: right names on right faces, click-to-enroll, tau changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from faceapp.core.embedders.base import Embedder
from faceapp.core.live import FrameResult
from faceapp.core.types import MatchRule
from faceapp.core.video import Frame, iou
from faceapp.settings import Settings
from faceapp.ui import flows
from faceapp.ui.enroll_dialog import EnrollDialog
from faceapp.ui.guided_dialog import GuidedDialog
from faceapp.ui.settings_dialog import SettingsDialog
from tests.ui.helpers import STEADY_FACE, WindowFactory, wait_for_faces

LIN, ALEX = "Lin-Manuel Miranda", "Alex Lacamoire"
# Alex Lacamoire is only seen in profile at the piano; his nearest distance there is 0.17-0.19, just above the
# dlib model's LFW-optimal default (0.178), and Lin-Manuel Miranda is less than 1.35 times as far from that face
# (`bench video` names him at margin 0.2 but not at the default 0.35, which is calibrated for galleries of a thousand
# people). So this test loosens both as a user would in the settings dialog: tau 0.19, margin 0.2.
TAU = 0.19
MARGIN = 0.2
RULE = MatchRule(TAU, MARGIN)


def test_right_names_on_right_faces(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path, dlib_embedder: Embedder
) -> None:
    window = make_window(
        hamilton, dlib_embedder, start=False, thresholds={"dlib-resnet": TAU}, margins={"dlib-resnet": MARGIN}
    )
    engine = window.engine
    assert engine is not None
    engine.enroll(LIN, sorted((examples / "lin_manuel_miranda").iterdir()))
    engine.enroll(ALEX, sorted((examples / "alex_lacamoire").iterdir()))
    # The window loads gallery snapshots in the background; starting before the two-person one is shown would let
    # the worker match early frames against Lin-Manuel Miranda alone (and name Alex's face after him).
    qtbot.waitUntil(lambda: "gallery: 2 people" in window.status.gallery_label.text(), timeout=20000)
    frames: dict[int, np.ndarray] = {}
    results: list[FrameResult] = []
    results_frames: dict[int, np.ndarray] = {}

    def keep_frame(frame: Frame) -> None:
        frames[frame.index] = frame.image
        frames.pop(frame.index - 60, None)

    def keep_result(result: FrameResult) -> None:
        results.append(result)
        if any(f.accepted(RULE) for f in result.faces):
            results_frames[result.frame_index] = frames[result.frame_index]

    window.bridge.frame_ready.connect(keep_frame)
    window.bridge.result_ready.connect(keep_result)
    window.start()
    count = 0

    def seen(name: str) -> bool:
        return any(window.view.labeler(f)[0].startswith(name) for r in results for f in r.faces)

    # A name now waits for three fresh frames of evidence on its track (core.track_evidence). Alex Lacamoire is on
    # screen for 0.8 s per loop, moving, at the edge of tau and the margin: a loaded machine may give his track too few
    # frames to name him in a loop, so only Lin-Manuel Miranda is waited for; every name given is still checked.
    qtbot.waitUntil(lambda: seen(LIN) and len(results_frames) >= 30, timeout=20000)
    # Reference: the offline pipeline (full-size detection, no tracker) on the very frames the live view labelled.
    assert window.rule() == RULE
    named = [r for r in results if any(f.accepted(RULE) for f in r.faces)]
    for result in named[:: max(1, len(named) // 15)]:
        reference = engine.identify(results_frames[result.frame_index], RULE)
        for face in result.faces:
            if not face.accepted(RULE):
                continue
            best = max(reference, key=lambda r: iou(r.face.detection.box, face.detection.box), default=None)
            if best is None or iou(best.face.detection.box, face.detection.box) < 0.3:
                continue
            count += 1
            assert best.match.label in (face.name, "Unknown"), (
                f"frame {result.frame_index}: {face.name} vs {best.match}"
            )
    assert count >= 5


def test_click_to_enroll_then_recognized(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, dlib_embedder: Embedder
) -> None:
    window = make_window(hamilton, dlib_embedder)
    wait_for_faces(qtbot, window, STEADY_FACE)
    qtbot.waitUntil(lambda: bool(window.view.drawn[1]), timeout=15000)  # a box on the screen, to click
    face = max(window.view.drawn[1], key=lambda f: f.detection.area)
    assert face.label(window.rule()) == "Unknown"
    dialogs: list[GuidedDialog] = []

    def fill_in(tries: int = 1200) -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, GuidedDialog) or not dialog.samples:  # the clicked face is its first sample
            if tries > 0:
                QTimer.singleShot(25, lambda: fill_in(tries - 1))
            elif isinstance(dialog, GuidedDialog):
                dialog.reject()
            return
        dialogs.append(dialog)
        assert dialog.preview.pixmap() is not None
        assert not dialog.preview.pixmap().isNull()
        dialog.keep_one()
        dialog.name.setCurrentText("Clicked Person")
        dialog.buttons.accepted.emit()

    QTimer.singleShot(50, fill_in)
    centre = window.view.box_rect(face).center()
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=QPoint(int(centre.x()), int(centre.y())))
    assert dialogs
    assert dialogs[0].outcome.startswith("Saved 1 sample")
    assert "Clicked Person" in [p.name for p in window.engine.people()]  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: "gallery: 1 people" in window.status.gallery_label.text(), timeout=3000)

    def recognized() -> bool:
        shown = window.view.result
        return shown is not None and any(f.label(window.rule()) == "Clicked Person" for f in shown.faces)

    qtbot.waitUntil(recognized, timeout=3000)


def test_threshold_change_in_settings_relabels(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, dlib_embedder: Embedder
) -> None:
    window = make_window(hamilton, dlib_embedder)
    # The steady face follows a cut: its first name waits for a full pass and an embedding on threads of their own,
    # which on a loaded machine can outlast one pass of the steady frames (the clip loops).
    wait_for_faces(qtbot, window, STEADY_FACE, timeout=40000)
    result = window.view.result
    assert result is not None
    assert window.engine is not None
    face = max(result.faces, key=lambda f: f.detection.area)
    frame: Frame | None = window.view.frame
    assert frame is not None
    window.engine.enroll_samples("Someone", [EnrollDialog.sample_of(window.image_for(result.frame_index), face)])
    window.refresh_gallery()

    def labels() -> list[str]:
        shown = window.view.result
        return [window.view.labeler(f)[0].split("  ")[0] for f in shown.faces] if shown else []

    qtbot.waitUntil(lambda: "Someone" in labels(), timeout=3000)

    def set_tiny_tau_and(accept: bool) -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        # The slider opens where tau is: a quarter of its range (which runs to 4 x the model's default).
        assert dialog.slider.value() == dialog.slider.maximum() // 4
        dialog.tau.setValue(0.001)
        assert "Someone" not in labels()  # relabelled at once, while the dialog is open
        (dialog.accept if accept else dialog.reject)()

    QTimer.singleShot(200, lambda: set_tiny_tau_and(accept=False))
    flows.open_settings(window)
    assert window.view.rule.threshold == window.engine.default_threshold  # Cancel restored tau
    qtbot.waitUntil(lambda: "Someone" in labels(), timeout=3000)
    QTimer.singleShot(200, lambda: set_tiny_tau_and(accept=True))
    flows.open_settings(window)
    assert isinstance(window.settings, Settings)
    assert window.settings.threshold_for("dlib-resnet", 0.16) == 0.001
    assert "Someone" not in labels()

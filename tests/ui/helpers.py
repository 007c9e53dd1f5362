"""UI test helpers (fixtures are in conftest.py): waiting for recognition, the synthetic clip's detector, and
answers to the dialogs' questions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from faceapp.ui.main_window import MainWindow
from tests.fakes import SYNTHETIC_FACE, FakeDetector, detection

WindowFactory = Callable[..., MainWindow]


def synthetic_detector(delay: float = 0.0) -> FakeDetector:
    """Finds the synthetic clip's square in every frame (taking `delay` seconds per frame)."""
    return FakeDetector([detection(*SYNTHETIC_FACE)], delay)


# Frames 95-190 of the Hamilton clip hold one face (Lin-Manuel Miranda) steadily in view.
STEADY_FACE = (95, 190)


def wait_for_faces(
    qtbot: QtBot, window: MainWindow, frames: tuple[int, int] = (0, 10**9), timeout: int = 15000
) -> None:
    """Until recognition has reported a frame with at least one face (within `frames` of the looping clip)."""

    def ready() -> bool:
        result = window.view.result
        if result is None or not result.faces:
            return False
        return frames[0] <= result.frame_index % 275 <= frames[1]

    qtbot.waitUntil(ready, timeout=timeout)


def answer_photo_dialog(name: str | None, seen: list[object] | None = None, tries: int = 300) -> None:
    """When the enroll-from-photos dialog is up and has found its faces: type `name` (None: keep it) and press Enter.

    The dialog runs modally (exec), so this polls from the event loop; `seen` collects the dialog for later checks.
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from faceapp.ui.photos_dialog import PhotoEnrollDialog

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, PhotoEnrollDialog) or not dialog.found:
            if tries > 0:
                answer_photo_dialog(name, seen, tries - 1)
            return
        if seen is not None:
            seen.append(dialog)
        if name is not None:
            dialog.name.setEditText(name)
        from pytestqt.qtbot import QtBot

        QtBot.keyClick(dialog.name, Qt.Key.Key_Return)

    from PySide6.QtCore import Qt

    QTimer.singleShot(50, answer)


def answer_wrong_sample(
    monkeypatch: pytest.MonkeyPatch, button: str | None, asked: list[tuple[str, list[str], str]]
) -> None:
    """Answer the "Wrong sample" question as a user would, without a modal loop (a failed check would hang it):
    note its text, buttons and default, then click `button` (None: the default, as Return does)."""

    def click(box: QMessageBox) -> int:
        default = box.defaultButton()
        asked.append((box.text(), sorted(b.text() for b in box.buttons()), default.text() if default else ""))
        chosen = default if button is None else next(b for b in box.buttons() if b.text() == button)
        assert chosen is not None
        chosen.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", click)

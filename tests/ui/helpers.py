"""UI test helpers (fixtures are in conftest.py): waiting for recognition, and the synthetic clip's detector."""

from __future__ import annotations

from collections.abc import Callable

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

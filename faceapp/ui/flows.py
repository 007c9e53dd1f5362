"""User flows the main window starts: enrolling, the gallery and settings dialogs, sources and model weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QProgressDialog

from faceapp.core import weights
from faceapp.core.embedders.base import MODELS
from faceapp.core.live import LiveFace
from faceapp.errors import ModelError

if TYPE_CHECKING:
    from faceapp.ui.bridge import BackgroundTask
    from faceapp.ui.main_window import MainWindow

Work = Callable[["BackgroundTask"], Any]
Slot = Callable[[Any], None]
FailSlot = Callable[[str], None]
PHOTO_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp)"


def enroll_face(window: MainWindow, image: np.ndarray, face: LiveFace) -> None:
    """Click-to-enroll: the enroll dialog on the clicked face; the gallery refreshes after a save."""
    from faceapp.ui.enroll_dialog import EnrollDialog

    dialog = EnrollDialog(window, image, face)
    if dialog.exec():
        window.gallery_changed.emit()
        window.status.showMessage(dialog.outcome, 6000)


def enroll_photos(
    window: MainWindow, files: list[str] | None, name: str | None = None, done: Callable[[], None] | None = None
) -> None:
    """Enroll from photo files (chosen here when `files` is None) on a background thread."""
    engine = window.engine
    if engine is None or window.analyzer is None:
        window.show_error("The models are not loaded yet; enroll once recognition is running.")
        return
    if files is None:
        files, _ = QFileDialog.getOpenFileNames(window, "Enroll from photos", "", PHOTO_FILTER)
    if not files:
        return
    if name is None:
        names = window.people_names()
        name, ok = QInputDialog.getItem(
            window, "Enroll from photos", f"{len(files)} photo(s). Name (new, or an existing person):", names, -1, True
        )
        if not ok or not name.strip():
            return
    window.status.show_progress(f"Enrolling {name}...", 0, 0)
    chosen = name

    def on_done(result: Any) -> None:
        window.status.hide_progress()
        window.gallery_changed.emit()
        notes = "; ".join(result.notes)
        skipped = f", {result.skipped} skipped" if result.skipped else ""
        window.status.showMessage(f"Enrolled {chosen}: {result.added} photo(s) added{skipped}. {notes}", 12000)
        if done is not None:
            done()

    def on_failed(message: str) -> None:
        window.status.hide_progress()
        window.show_error(message)

    window.run_task("enroll-photos", lambda task: engine.enroll(chosen, list(files)), on_done, on_failed)


def open_gallery(window: MainWindow) -> None:
    """The gallery dialog (changes refresh the live view's snapshot as they happen)."""
    if window.engine is None:
        window.show_error("The gallery is not open.")
        return
    from faceapp.ui.gallery_dialog import GalleryDialog

    GalleryDialog(window).exec()


def open_settings(window: MainWindow) -> None:
    """The settings dialog: previews live, OK keeps and saves, Cancel restores."""
    from faceapp.ui.settings_dialog import SettingsDialog

    original = window.settings
    dialog = SettingsDialog(window)
    if not dialog.exec():
        window.apply_settings(original, restart_source=False)
        return
    window.apply_settings(dialog.result_settings(), restart_source=True)
    window.save_settings()
    model = dialog.chosen_model()
    if window.engine is not None and model != window.engine.model:
        switch_model(window, model)


def choose_video_file(window: MainWindow) -> None:
    """Pick a video file as the source."""
    path, _ = QFileDialog.getOpenFileName(window, "Open video file", "", "Videos (*.mp4 *.avi *.mov *.mkv);;All (*)")
    if path:
        set_source(window, path)


def choose_camera(window: MainWindow) -> None:
    """Pick another camera index as the source."""
    index, ok = QInputDialog.getInt(window, "Camera", "Camera index:", 0, 0, 16)
    if ok:
        set_source(window, str(index))


def set_source(window: MainWindow, spec: str) -> None:
    """Switch the source, and remember it when it opened."""
    if window.open_source(spec):
        window.settings = replace(window.settings, source=spec)
        window.save_settings()


def weights_actions(window: MainWindow, model: str) -> list[tuple[str, Callable[[], None]]]:
    """Banner buttons for missing weights: download (FaceNet only) and import a file."""
    actions: list[tuple[str, Callable[[], None]]] = []
    if model != "dlib-resnet":
        actions.append(("Download weights", lambda: download_weights(window, model, window.load_models)))
    actions.append(("Import weights file...", lambda: import_weights(window, model, window.load_models)))
    return actions


def _progress_dialog(window: MainWindow, text: str) -> QProgressDialog:
    dialog = QProgressDialog(text, "Cancel", 0, 0, window)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    return dialog


def _show_progress(dialog: QProgressDialog, done: int, total: int) -> None:
    dialog.setMaximum(max(total, 0))
    dialog.setValue(done)


def download_weights(window: MainWindow, model: str, then: Callable[[], None]) -> None:
    """Download `model`'s weights with progress; `then` runs after success."""
    dialog = _progress_dialog(window, f"Downloading the {MODELS[model].title} weights...")

    def on_done(_: object) -> None:
        dialog.close()
        then()

    def on_failed(message: str) -> None:
        dialog.close()
        window.show_error(message)

    def work(task: BackgroundTask) -> object:
        def progress(done: int, total: int) -> None:
            if task.cancelled:
                raise ModelError("Download cancelled.")
            task.report(done // 1024, total // 1024)

        return weights.download(model, progress)

    task = window.run_task("download-weights", work, on_done, on_failed)
    task.progress_changed.connect(lambda d, t: _show_progress(dialog, d, t))
    dialog.canceled.connect(task.cancel)
    dialog.show()


def import_weights(window: MainWindow, model: str, then: Callable[[], None]) -> None:
    """Import a local weights file for `model`; `then` runs after success."""
    path, _ = QFileDialog.getOpenFileName(
        window, f"Import weights for {model}", "", "Weights (*.pt *.pth *.dat);;All (*)"
    )
    if not path:
        return
    window.run_task(
        "import-weights", lambda task: weights.import_file(model, Path(path)), lambda _: then(), window.show_error
    )


def switch_model(window: MainWindow, model: str) -> None:
    """Re-embed the gallery with `model` (downloading its weights first when missing), with progress and cancel."""
    engine = window.engine
    assert engine is not None
    if not weights.is_available(model):
        answer = QMessageBox.question(
            window, "Weights missing", weights.missing_message(model) + "\n\nDownload them now?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            download_weights(window, model, lambda: switch_model(window, model))
        return
    dialog = _progress_dialog(window, f"Re-embedding the gallery with {MODELS[model].title}...")

    def on_done(finished: object) -> None:
        dialog.close()
        if finished:
            window.status.showMessage(f"The gallery now uses {model}.", 6000)
            window.load_models()
        else:
            window.status.showMessage("Model change cancelled; the gallery keeps its model.", 6000)

    def on_failed(message: str) -> None:
        dialog.close()
        window.show_error(message)

    def work(task: BackgroundTask) -> bool:
        return engine.switch_model(model, task.report, lambda: task.cancelled)

    task = window.run_task("switch-model", work, on_done, on_failed)
    task.progress_changed.connect(lambda d, t: _show_progress(dialog, d, t))
    dialog.canceled.connect(task.cancel)
    dialog.show()

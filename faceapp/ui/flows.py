"""The user's actions: each opens a dialog with the data it needs and runs the work on a background thread.

Nothing here imports the main window: the window is typed by the Window protocol, the few things flows use.
Gallery reads and writes go to the window's GalleryRunner (one thread, in order); the engine announces every
change, so no flow has to say that the gallery changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QProgressDialog, QWidget

from faceapp.core import catalog, weights
from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.embedders import registry
from faceapp.core.live import LiveFace
from faceapp.core.types import FaceSample, MatchRule
from faceapp.engine import EnrollResult, default_model
from faceapp.errors import ModelError
from faceapp.settings import Settings

if TYPE_CHECKING:
    from faceapp.engine import Engine
    from faceapp.ui.bridge import BackgroundTask, GalleryRunner, PipelineBridge
    from faceapp.ui.enroll_dialog import EnrollDialog
    from faceapp.ui.gallery_dialog import GalleryDialog
    from faceapp.ui.settings_dialog import SettingsDialog
    from faceapp.ui.widgets import LiveStatusBar

Work = Callable[["BackgroundTask"], Any]
Slot = Callable[[Any], None]
FailSlot = Callable[[str], None]
PHOTO_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp)"


class Window(Protocol):
    """What the flows use of the main window."""

    engine: Engine | None
    analyzer: FaceAnalyzer | None
    settings: Settings
    runner: GalleryRunner
    bridge: PipelineBridge
    status: LiveStatusBar

    def as_widget(self) -> QWidget: ...
    def people_names(self) -> list[str]: ...
    def rule(self) -> MatchRule: ...
    def image_for(self, result_index: int) -> np.ndarray | None: ...
    def run_task(self, name: str, work: Work, on_done: Slot, on_failed: FailSlot) -> BackgroundTask: ...
    def apply_settings(self, new: Settings, restart_source: bool = True) -> None: ...
    def preview_settings(self, preview: Settings | None) -> None: ...
    def save_settings(self) -> None: ...
    def open_source(self, spec: str) -> bool: ...
    def load_models(self) -> None: ...
    def show_error(self, message: str) -> None: ...


def enroll_dialog(window: Window, image: np.ndarray, face: LiveFace) -> EnrollDialog:
    """The enroll dialog on a clicked face; its Save runs the enrollment on the gallery runner."""
    from faceapp.ui.enroll_dialog import EnrollDialog

    engine = window.engine
    assert engine is not None

    def save(name: str, samples: list[FaceSample], done: Slot, failed: FailSlot) -> None:
        window.runner.submit("enroll-samples", lambda task: engine.enroll_samples(name, samples), done, failed)

    rule = window.rule()
    known = face.name if face.name is not None and face.accepted(rule) else None
    return EnrollDialog(
        image, face, window.people_names(), known, save, window.bridge.result_ready, window.image_for,
        window.as_widget(),
    )  # fmt: skip


def enroll_face(window: Window, image: np.ndarray, face: LiveFace) -> None:
    """Click-to-enroll: the enroll dialog on the clicked face."""
    dialog = enroll_dialog(window, image, face)
    if dialog.exec():
        window.status.showMessage(dialog.outcome, 6000)


def enroll_photos(
    window: Window, files: list[str] | None, name: str | None = None, done: Callable[[], None] | None = None
) -> None:
    """Enroll from photo files (chosen here when `files` is None) on the gallery runner."""
    engine = window.engine
    if engine is None or window.analyzer is None:
        window.show_error("The models are not loaded yet; enroll once recognition is running.")
        return
    parent = window.as_widget()
    if files is None:
        files, _ = QFileDialog.getOpenFileNames(parent, "Enroll from photos", "", PHOTO_FILTER)
    if not files:
        return
    if name is None:
        names = window.people_names()
        name, ok = QInputDialog.getItem(
            parent, "Enroll from photos", f"{len(files)} photo(s). Name (new, or an existing person):", names, -1, True
        )
        if not ok or not name.strip():
            return
    window.status.show_progress(f"Enrolling {name}...", 0, 0)
    chosen = name

    def on_done(result: EnrollResult) -> None:
        window.status.hide_progress()
        notes = "; ".join(result.notes)
        skipped = f", {result.skipped} skipped" if result.skipped else ""
        window.status.showMessage(f"Enrolled {chosen}: {result.added} photo(s) added{skipped}. {notes}", 12000)
        if done is not None:
            done()

    def on_failed(message: str) -> None:
        window.status.hide_progress()
        window.show_error(message)

    window.runner.submit("enroll-photos", lambda task: engine.enroll(chosen, list(files)), on_done, on_failed)


def gallery_dialog(window: Window) -> GalleryDialog:
    """The gallery dialog on the window's engine and runner."""
    from faceapp.ui.gallery_dialog import GalleryDialog

    assert window.engine is not None

    def add_photos(name: str, done: Callable[[], None]) -> None:
        enroll_photos(window, None, name, done)

    return GalleryDialog(window.engine, window.runner, add_photos, window.as_widget())


def open_gallery(window: Window) -> None:
    """The gallery dialog (its changes reach the live view through the engine's announcements)."""
    if window.engine is None:
        window.show_error("The gallery is not open.")
        return
    gallery_dialog(window).exec()


def settings_dialog(window: Window) -> SettingsDialog:
    """The settings dialog on a copy of the window's settings, previewing through the window."""
    from faceapp.ui.settings_dialog import SettingsDialog

    engine = window.engine
    model = engine.model if engine is not None else default_model()
    defaults = MatchRule(engine.default_threshold, engine.default_margin) if engine is not None else MatchRule(0.5)
    return SettingsDialog(
        window.settings,
        model,
        defaults,
        window.rule(),
        preview=window.preview_settings,
        results=window.bridge.result_ready,
        download=lambda name, then: download_weights(window, name, then),
        import_file=lambda name, then: import_weights(window, name, then),
        parent=window.as_widget(),
    )


def open_settings(window: Window) -> None:
    """The settings dialog: previews live; OK applies and saves the edited copy; Cancel leaves everything as it was."""
    dialog = settings_dialog(window)
    if not dialog.exec():
        return
    window.apply_settings(dialog.result_settings(), restart_source=True)
    window.save_settings()
    model = dialog.chosen_model()
    if window.engine is not None and model != window.engine.model:
        switch_model(window, model)


def choose_video_file(window: Window) -> None:
    """Pick a video file as the source."""
    path, _ = QFileDialog.getOpenFileName(
        window.as_widget(), "Open video file", "", "Videos (*.mp4 *.avi *.mov *.mkv);;All (*)"
    )
    if path:
        set_source(window, path)


def choose_camera(window: Window) -> None:
    """Pick another camera index as the source."""
    index, ok = QInputDialog.getInt(window.as_widget(), "Camera", "Camera index:", 0, 0, 16)
    if ok:
        set_source(window, str(index))


def set_source(window: Window, spec: str) -> None:
    """Switch the source, and remember it when it opened."""
    if window.open_source(spec):
        window.settings = replace(window.settings, source=spec)
        window.save_settings()


def weights_actions(window: Window, model: str) -> list[tuple[str, Callable[[], None]]]:
    """Banner buttons for missing weights: download (where the catalog names a URL) and import a file, for the
    model or, for a fused model, for each missing part (a trained model's file is written by training only)."""
    info = catalog.spec(model)
    missing = [p for p in info.parts if not weights.is_available(p)] if info.parts else [model]
    actions: list[tuple[str, Callable[[], None]]] = []

    def then(part: str, act: Callable[[Window, str, Callable[[], None]], None]) -> Callable[[], None]:
        return lambda: act(window, part, window.load_models)

    for part in missing:
        suffix = f" ({part})" if info.parts else ""
        if weights.can_download(part):
            actions.append((f"Download weights{suffix}", then(part, download_weights)))
        if weights.can_import(part):
            actions.append((f"Import weights file...{suffix}", then(part, import_weights)))
    return actions


def _progress_dialog(window: Window, text: str) -> QProgressDialog:
    dialog = QProgressDialog(text, "Cancel", 0, 0, window.as_widget())
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    return dialog


def _show_progress(dialog: QProgressDialog, done: int, total: int) -> None:
    dialog.setMaximum(max(total, 0))
    dialog.setValue(done)


def download_weights(window: Window, model: str, then: Callable[[], None]) -> None:
    """Download `model`'s weights with progress; `then` runs after success."""
    dialog = _progress_dialog(window, f"Downloading the {catalog.spec(model).title} weights...")

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

        return registry.download_weights(model, progress)

    task = window.run_task("download-weights", work, on_done, on_failed)
    task.progress_changed.connect(lambda d, t: _show_progress(dialog, d, t))
    dialog.canceled.connect(task.cancel)
    dialog.show()


def import_weights(window: Window, model: str, then: Callable[[], None]) -> None:
    """Import a local weights file for `model`; `then` runs after success."""
    path, _ = QFileDialog.getOpenFileName(
        window.as_widget(), f"Import weights for {model}", "", "Weights (*.pt *.pth *.dat);;All (*)"
    )
    if not path:
        return
    window.run_task(
        "import-weights", lambda task: registry.import_weights(model, Path(path)), lambda _: then(), window.show_error
    )


def switch_model(window: Window, model: str) -> None:
    """Re-embed the gallery with `model` (downloading its weights first when missing), with progress and cancel."""
    engine = window.engine
    assert engine is not None
    if not weights.is_available(model):
        answer = QMessageBox.question(
            window.as_widget(), "Weights missing", weights.missing_message(model) + "\n\nDownload them now?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            download_weights(window, model, lambda: switch_model(window, model))
        return
    dialog = _progress_dialog(window, f"Re-embedding the gallery with {catalog.spec(model).title}...")

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

    task = window.runner.submit("switch-model", work, on_done, on_failed)
    task.progress_changed.connect(lambda d, t: _show_progress(dialog, d, t))
    dialog.canceled.connect(task.cancel)
    dialog.show()

"""The user's actions: each opens a dialog with the data it needs and runs the work on a background thread.

Nothing here imports the main window: the window is typed by the Window protocol, the few things flows use.
Gallery reads and writes go to the window's GalleryRunner (one thread, in order); the engine announces every
change, so no flow has to say that the gallery changed.
"""

from __future__ import annotations

import threading
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
from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import FaceSample, MatchRule, Person
from faceapp.engine import default_model
from faceapp.errors import BadInputError, ModelError
from faceapp.settings import Settings
from faceapp.ui.photos_dialog import PhotoFace

if TYPE_CHECKING:
    from faceapp.engine import Engine
    from faceapp.ui.bridge import BackgroundTask, GalleryRunner, PipelineBridge
    from faceapp.ui.enroll_dialog import EnrollDialog
    from faceapp.ui.gallery_dialog import GalleryDialog
    from faceapp.ui.guided_dialog import CaptureHandle, GuidedDialog
    from faceapp.ui.photos_dialog import PhotoEnrollDialog
    from faceapp.ui.session import LiveSession
    from faceapp.ui.settings_dialog import SettingsDialog
    from faceapp.ui.widgets import LiveStatusBar

Work = Callable[["BackgroundTask"], Any]
Slot = Callable[[Any], None]
FailSlot = Callable[[str], None]
ProgressSlot = Callable[[int, int], None]
PHOTO_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp)"


class Window(Protocol):
    """What the flows use of the main window."""

    engine: Engine | None
    analyzer: FaceAnalyzer | None
    settings: Settings
    runner: GalleryRunner
    bridge: PipelineBridge
    status: LiveStatusBar
    session: LiveSession
    snapshot: GallerySnapshot | None
    people: list[Person]

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
        if still_open(window, engine, failed):
            window.runner.submit("enroll-samples", lambda task: engine.enroll_samples(name, samples), done, failed)

    rule = window.rule()
    known = face.name if face.name is not None and face.accepted(rule) else None
    return EnrollDialog(
        image, face, window.people_names(), known, save, window.bridge.result_ready, window.image_for,
        window.as_widget(),
    )  # fmt: skip


def enroll_face(window: Window, image: np.ndarray, face: LiveFace) -> None:
    """Click-to-enroll: a guided capture that follows the clicked face (topping up the person it is recognised as)."""
    rule = window.rule()
    known = face.name if face.name is not None and face.accepted(rule) else None
    run_guided(window, guided_dialog(window, known, (image, face)))


def enroll_person(window: Window, faces: list[LiveFace], image: np.ndarray | None) -> None:
    """Gallery > Enroll person: a guided capture of the one face in view (`faces`, shown on `image`), or of the
    next face to come when none is in view; with several, the user is asked to click one."""
    if len(faces) > 1:
        window.status.showMessage(f"{len(faces)} faces in view: click the one to enroll.", 6000)
        return
    if faces and image is not None:
        enroll_face(window, image, faces[0])
        return
    run_guided(window, guided_dialog(window, None, None))


def add_samples(window: Window) -> None:
    """Gallery > Add samples: pick a person, then a guided capture that tops them up."""
    names = window.people_names()
    if not names:
        window.status.showMessage("Nobody is enrolled yet: use Enroll person first.", 6000)
        return
    name, ok = QInputDialog.getItem(window.as_widget(), "Add samples", "Add samples of:", names, 0, False)
    if ok and name:
        run_guided(window, guided_dialog(window, name, None))


GALLERY_CHANGED = "Another gallery was opened while this dialog was open: nothing was saved. Open the dialog again."


def still_open(window: Window, engine: Engine, failed: FailSlot) -> bool:
    """GUI thread, when a dialog saves: whether the gallery it was opened on is still the window's (another gallery
    may have opened meanwhile: its writes must not go to the old one); otherwise says so through `failed`."""
    if window.engine is engine:
        return True
    failed(GALLERY_CHANGED)
    return False


def run_guided(window: Window, dialog: GuidedDialog | None) -> None:
    """Show a guided dialog modally and report its outcome."""
    if dialog is not None and dialog.exec():
        window.status.showMessage(dialog.outcome, 6000)


class GuidedRun:
    """A running guided capture: its worker and the session's frame tap (live recognition paused meanwhile).

    The hand-over of the shared analyzer (it serves one thread at a time) is a handshake both ways: the guided worker
    touches it only once the live worker has acknowledged its pause (`LiveSession.wait_paused`: its frame in hand
    finished), and the live worker goes on only once the guided worker has ended (joined, then untapped).
    """

    def __init__(self, session: LiveSession, worker: Any, mailbox: Any) -> None:
        self.session, self.worker, self.mailbox = session, worker, mailbox

    def stop(self) -> None:
        """Stop the worker, and give the frames back to live recognition once it has left the analyzer; the wait is
        on a thread of its own, not the GUI's. A worker stuck in the analyzer keeps recognition paused (never two
        threads in it)."""
        self.worker.stop()

        def hand_back() -> None:
            while self.worker.is_alive():
                self.worker.join(1.0)
            self.session.untap(self.mailbox)

        threading.Thread(target=hand_back, name="faceapp-guided-stop", daemon=True).start()

    def remove(self, sample_id: int) -> None:
        """Drop a sample in the worker's session."""
        self.worker.remove(sample_id)


def guided_dialog(window: Window, name: str | None, seed: tuple[np.ndarray, LiveFace] | None) -> GuidedDialog | None:
    """The guided dialog: its capture runs on a GuidedWorker fed by a tap on the live session (the live worker
    pauses meanwhile); Save enrolls on the gallery runner. `name`: the person topped up; `seed`: the clicked face."""
    from faceapp.core.guided import GuidedCapture, GuidedWorker
    from faceapp.ui.guided_dialog import GuidedDialog

    engine, analyzer = window.engine, window.analyzer
    if engine is None or analyzer is None or not window.session.running:
        window.status.showMessage("Enrollment needs the video and the models running.", 6000)
        return None
    anchor = person_embeddings(window, name)
    tau = window.rule().threshold

    def start(on_update: Callable[[Any], None], on_error: Callable[[str], None]) -> CaptureHandle:
        capture = GuidedCapture(tau, anchor=anchor)  # a bad value fails here, before recognition is paused
        first = (seed[0], seed[1].detection) if seed is not None else None
        mailbox = window.session.tap()
        try:
            worker = GuidedWorker(
                mailbox,
                analyzer,
                capture,
                on_update,
                on_error,
                seed=first,
                ready=lambda timeout: window.session.wait_paused(timeout, mailbox),
            )
            worker.start()
        except BaseException:
            window.session.untap(mailbox)
            raise
        return GuidedRun(window.session, worker, mailbox)

    def save(chosen: str, samples: list[FaceSample], done: Slot, failed: FailSlot) -> None:
        if still_open(window, engine, failed):
            window.runner.submit("enroll-samples", lambda task: engine.enroll_samples(chosen, samples), done, failed)

    return GuidedDialog(window.people_names(), start, save, name, parent=window.as_widget())


def person_embeddings(window: Window, name: str | None) -> np.ndarray | None:
    """The enrolled embeddings of `name` in the window's latest snapshot (None: nobody, or not found)."""
    snapshot = window.snapshot
    person = next((p for p in window.people if p.name == name), None)
    if name is None or snapshot is None or person is None:
        return None
    rows = snapshot.rows_of(person.id)[0]
    return rows if rows.shape[0] else None


def not_person(
    window: Window,
    face: LiveFace,
    result: FrameResult,
    undo: Callable[[LiveFace], None] | None = None,
) -> None:
    """The "Not <name>" menu on a live face: its crop (from the frame its box came from) becomes a correction of that
    person, embedded and stored on the gallery runner; the engine's announcement brings the corrected gallery to the
    worker.

    The view already shows the face as Unknown; `undo(face)` runs when the correction cannot be recorded.
    """
    from faceapp.core.align import sample_crop

    engine, person_id, name = window.engine, face.person_id, face.name
    image = result.image if result.image is not None else window.image_for(result.frame_index)
    if engine is None or person_id is None or image is None:
        if undo is not None:
            undo(face)
        window.status.showMessage("That frame has already gone by; try again on the face.", 5000)
        return

    def work(task: BackgroundTask) -> int:
        crop, moved = sample_crop(image, face.detection)
        return engine.add_negative(person_id, FaceSample(crop, moved, f"live view, frame {result.frame_index}"))

    def done(_: object) -> None:
        window.status.showMessage(f"Recorded: this face is not {name} (the gallery lists it; remove it there).", 8000)

    def failed(message: str) -> None:
        if undo is not None:
            undo(face)
        window.show_error(message)

    window.runner.submit("not-person", work, done, failed)


def photo_faces(engine: Engine, files: list[str], task: BackgroundTask | None = None) -> list[PhotoFace]:
    """The gallery runner: the face each photo would be enrolled with (the largest of several), or why none.

    One photo that fails in any way is noted and skipped, never the batch; `task` reports progress per photo and a
    cancelled task stops before the next photo (what was found so far is returned).
    """
    from faceapp.core.align import sample_crop
    from faceapp.engine import unexpected
    from faceapp.errors import FaceAppError

    found: list[PhotoFace] = []
    for i, path in enumerate(files):
        if task is not None:
            if task.cancelled:
                break
            task.report(i, len(files))
        try:
            rgb, detection, note = engine.one_detection(path, "enroll")
            crop, moved = sample_crop(rgb, detection)
        except BadInputError as exc:
            found.append(PhotoFace(path, None, str(exc).removeprefix(f"{path}: ")))
            continue
        except FaceAppError:  # missing weights and the like: not this photo's fault, the whole search stops
            raise
        except Exception as exc:  # a decoder or detector bug on one odd photo must not cost the others
            found.append(PhotoFace(path, None, str(unexpected(path, exc)).removeprefix(f"{path}: ")))
            continue
        found.append(PhotoFace(path, FaceSample(crop, moved, path), (note or "").removeprefix(f"{path}: ")))
    return found


def photos_dialog(
    window: Window, files: list[str], name: str | None = None, parent: QWidget | None = None
) -> PhotoEnrollDialog:
    """The enroll-from-photos dialog: faces found on the gallery runner, Save enrolls them there too."""
    from faceapp.ui.photos_dialog import PhotoEnrollDialog

    engine = window.engine
    assert engine is not None

    def find(done: Slot, failed: FailSlot, progress: ProgressSlot) -> Callable[[], None]:
        paths = list(files)
        task = window.runner.submit("find-photo-faces", lambda task: photo_faces(engine, paths, task), done, failed)
        task.progress_changed.connect(progress)
        return task.cancel

    def save(chosen: str, samples: list[FaceSample], done: Slot, failed: FailSlot) -> None:
        if still_open(window, engine, failed):
            window.runner.submit("enroll-photos", lambda task: engine.enroll_samples(chosen, samples), done, failed)

    return PhotoEnrollDialog(len(files), window.people_names(), find, save, name, parent or window.as_widget())


def enroll_photos(
    window: Window,
    files: list[str] | None,
    name: str | None = None,
    done: Callable[[], None] | None = None,
    parent: QWidget | None = None,
    failed: FailSlot | None = None,
) -> None:
    """Enroll from photo files (chosen here when `files` is None): a dialog previews the faces, then saves them.

    `parent` and `failed`: the dialog this was opened from (the gallery's), which shows the errors itself.
    """
    engine = window.engine
    if engine is None or window.analyzer is None:
        (failed or window.show_error)("The models are not loaded yet; enroll once recognition is running.")
        return
    owner = parent or window.as_widget()
    if files is None:
        files, _ = QFileDialog.getOpenFileNames(owner, "Enroll from photos", "", PHOTO_FILTER)
    if not files:
        return
    dialog = photos_dialog(window, list(files), name, owner)
    if dialog.exec():
        window.status.showMessage(dialog.outcome, 12000)
        if done is not None:
            done()


def gallery_dialog(window: Window) -> GalleryDialog:
    """The gallery dialog on the window's engine and runner."""
    from faceapp.ui.gallery_dialog import GalleryDialog

    assert window.engine is not None

    def add_photos(name: str | None, done: Callable[[], None], dialog: QWidget, failed: FailSlot) -> None:
        enroll_photos(window, None, name, done, dialog, failed)

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
        download=lambda name, then, failed: download_weights(window, name, then, failed),
        import_file=lambda name, then, failed: import_weights(window, name, then, failed),
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
    """Switch the source. A camera that opened becomes the start-up source; a file plays for this session only
    (the next start opens the camera again; Settings can make a file the start-up source)."""
    if window.open_source(spec) and spec.strip().isdigit():
        window.settings = replace(window.settings, source=spec.strip())
        window.save_settings()


def weights_actions(window: Window, model: str) -> list[tuple[str, Callable[[], None]]]:
    """Banner buttons for missing weights: download (where the catalog names a URL) and import a file, for the
    model or, for a fused model, for each missing part (a trained model's file is written by training only)."""
    info = catalog.spec(model)
    needed = info.parts or info.requires  # a fused model's parts, a trained model's base
    missing = [p for p in needed if not weights.is_available(p)] or [model]
    actions: list[tuple[str, Callable[[], None]]] = []

    def then(part: str, act: Callable[[Window, str, Callable[[], None]], None]) -> Callable[[], None]:
        return lambda: act(window, part, window.load_models)

    for part in missing:
        suffix = f" ({part})" if part != model else ""
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


def download_failure(message: str) -> str:
    """A failed download in words: `<urlopen error [Errno -3] ...>` says little to a user."""
    import re

    found = re.search(r"<urlopen error (.*)>", message)
    if found is None:
        return message
    reason = re.sub(r"^\[Errno -?\d+\]\s*", "", found.group(1)).strip()
    return (
        f"The download failed: the server could not be reached ({reason}). Check the internet connection, "
        "or use Import weights... with a file you already have."
    )


def download_weights(window: Window, model: str, then: Callable[[], None], failed: FailSlot | None = None) -> None:
    """Download `model`'s weights with progress; `then` runs after success, `failed` (default: the banner) after
    a failure, with the reason in words."""
    dialog = _progress_dialog(window, f"Downloading the {catalog.spec(model).title} weights...")

    def on_done(_: object) -> None:
        dialog.close()
        then()

    def on_failed(message: str) -> None:
        dialog.close()
        (failed or window.show_error)(download_failure(message))

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


def import_weights(window: Window, model: str, then: Callable[[], None], failed: FailSlot | None = None) -> None:
    """Import a local weights file for `model`; `then` runs after success, `failed` (default: the banner) after a
    failure."""
    path, _ = QFileDialog.getOpenFileName(
        window.as_widget(), f"Import weights for {model}", "", "Weights (*.pt *.pth *.dat);;All (*)"
    )
    if not path:
        return
    window.run_task(
        "import-weights",
        lambda task: registry.import_weights(model, Path(path)),
        lambda _: then(),
        failed or window.show_error,
    )


def _missing_weights(model: str) -> str:
    from faceapp.ui.settings_dialog import missing_weights

    return missing_weights(model)


def switch_model(window: Window, model: str) -> None:
    """Re-embed the gallery with `model` (downloading its weights first when missing), with progress and cancel."""
    engine = window.engine
    assert engine is not None
    if not weights.is_available(model):
        answer = QMessageBox.question(
            window.as_widget(), "Weights missing", _missing_weights(model) + "\n\nDownload them now?"
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

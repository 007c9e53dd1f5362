"""Gallery > Open gallery and New gallery (and the banner's buttons when no gallery could be opened): choose a file and
open it off the GUI thread. The window switches to it only once it has opened, so a bad file (not a faceapp gallery,
unreadable, damaged, from a newer faceapp) costs one line in the banner and leaves the open gallery as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtWidgets import QFileDialog, QWidget

from faceapp.core.detectors import create_detector
from faceapp.engine import Engine
from faceapp.errors import DatabaseError
from faceapp.settings import Settings

if TYPE_CHECKING:
    from faceapp.ui.bridge import BackgroundTask
    from faceapp.ui.widgets import LiveStatusBar

GALLERY_FILTER = "faceapp gallery (*.sqlite3 *.db);;All (*)"


class GalleryHost(Protocol):
    """What opening a gallery uses of the main window."""

    engine: Engine | None
    settings: Settings
    status: LiveStatusBar

    def as_widget(self) -> QWidget: ...
    def run_task(
        self,
        name: str,
        work: Callable[[BackgroundTask], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
    ) -> BackgroundTask: ...
    def switch_gallery(self, engine: Engine, path: Path) -> None: ...
    def gallery_failed(self, message: str) -> None: ...


def choose_gallery(window: GalleryHost) -> None:
    """Gallery > Open gallery: pick an existing gallery file and open it."""
    path, _ = QFileDialog.getOpenFileName(window.as_widget(), "Open a gallery", "", GALLERY_FILTER)
    if path:
        open_gallery_file(window, Path(path), must_exist=True)


def new_gallery(window: GalleryHost) -> None:
    """Gallery > New gallery: name a new gallery file and open it (created empty)."""
    path, _ = QFileDialog.getSaveFileName(
        window.as_widget(), "New gallery", "gallery.sqlite3", "faceapp gallery (*.sqlite3)"
    )
    if path:
        open_gallery_file(window, Path(path))


def open_gallery_file(window: GalleryHost, path: Path, must_exist: bool = False) -> None:
    """Open (or, unless `must_exist`, create) the gallery at `path` on a background thread; on success the window
    switches to it (and it becomes the start-up gallery), on failure the window shows why and keeps the gallery it
    has."""
    path = path.expanduser().resolve()
    current = window.engine.gallery_path if window.engine is not None else None
    if current is not None and current.resolve() == path:
        window.status.showMessage(f"{path.name} is the gallery already open.", 5000)
        return
    detector = create_detector(window.settings.detector)
    if current is None:
        window.status.set_model("opening the gallery...")

    def failed(message: str) -> None:
        if current is None:
            window.status.set_model("none (no gallery open)")
            after = "Recognition is off; the video still plays."
        else:
            after = f"The gallery {current} stays open."
        window.gallery_failed(f"The gallery {path} cannot be opened: {message} {after}")

    def opened(engine: Engine) -> None:
        window.switch_gallery(engine, path)

    def work(task: BackgroundTask) -> Engine:
        if must_exist and not path.exists():  # Open never creates a gallery where the chosen file has gone
            raise DatabaseError(f"{path} does not exist (moved or deleted?); choose another file.")
        return Engine.open(path, None, detector=detector)

    window.run_task("open-gallery", work, opened, failed)

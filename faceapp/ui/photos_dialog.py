"""Enroll from photos: the face found in each photo (and what was skipped, and why), a name, then Save."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from faceapp.core.types import FaceSample
from faceapp.engine import EnrollResult
from faceapp.ui.video_view import to_qimage

PREVIEW = 112
COLUMNS = 4
SAVING = "Saving..."


@dataclass(frozen=True)
class PhotoFace:
    """What was found in one photo: its sample (None when skipped) and a note for the user (several faces, why not)."""

    path: str
    sample: FaceSample | None
    note: str = ""


# find(on_found(list[PhotoFace]), on_failed(message), on_progress(done, total)) -> cancel() and
# save(name, samples, on_done(EnrollResult), on_failed): both run off the GUI thread and call back on it.
FindFn = Callable[[Callable[[Any], None], Callable[[str], None], Callable[[int, int], None]], Callable[[], None]]
SaveFn = Callable[[str, list[FaceSample], Callable[[Any], None], Callable[[str], None]], None]


class PhotoEnrollDialog(QDialog):
    """Shows the face found in each photo before anything is saved; the name starts empty. GUI thread.

    `names` are the enrolled people (to pick from, never pre-selected unless `name` is given: the gallery dialog's
    "Add photos" for a chosen person). Notes (several faces, no face) stay in the dialog until it closes.
    """

    def __init__(
        self,
        count: int,
        names: list[str],
        find: FindFn,
        save: SaveFn,
        name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Enroll from photos")
        self.resize(560, 420)
        self._save = save
        self._names = names
        self._searching = True
        self.found: list[PhotoFace] = []
        self.outcome = ""
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setMinimumWidth(260)
        self.name.addItems(names)
        self.name.setCurrentIndex(-1)
        self.name.setEditText(name or "")  # never someone else's name: Enter would file the photos under them
        edit = self.name.lineEdit()
        if edit is not None:
            edit.setPlaceholderText("Type a new name or pick a person")
        self.name.editTextChanged.connect(self._update)
        self.status = QLabel(f"Looking for a face in {count} photo(s)...")
        self.status.setWordWrap(True)
        self.grid = QGridLayout()
        holder = QWidget()
        holder.setLayout(self.grid)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #c03030;")
        self.error_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        label = QLabel("&Name:")
        label.setBuddy(self.name)
        layout.addWidget(label)
        layout.addWidget(self.name)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self._update()
        self._cancel_search = find(self._on_found, self._on_find_failed, self._on_progress)

    def samples(self) -> list[FaceSample]:
        """The faces that will be saved."""
        return [f.sample for f in self.found if f.sample is not None]

    def notes(self) -> list[str]:
        """The notes shown under the previews."""
        return [f"{f.path}: {f.note}" for f in self.found if f.note]

    def _update(self, *_: object) -> None:
        name = self.name.currentText().strip()
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(bool(name) and bool(self.samples()) and self.error_label.text() != SAVING)
        if name and name in self._names:
            save.setText(f"Add to {name}")
        else:
            save.setText("Save new person" if name else "Save")

    def _on_progress(self, done: int, total: int) -> None:
        if self._searching:
            self.status.setText(f"Looking for a face: photo {done + 1} of {total}... (Cancel stops)")

    def _on_found(self, found: list[PhotoFace]) -> None:
        self._searching = False
        self.found = found
        for i, face in enumerate(found):
            cell = QVBoxLayout()
            picture = QLabel()
            picture.setFixedSize(PREVIEW, PREVIEW)
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            if face.sample is not None:
                pixmap = QPixmap.fromImage(to_qimage(face.sample.image)).scaled(
                    PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
                picture.setPixmap(pixmap)
            else:
                picture.setText("no face")
            caption = QLabel(face.path.rsplit("/", 1)[-1] + (f"\n{face.note}" if face.note else ""))
            caption.setWordWrap(True)
            caption.setMaximumWidth(PREVIEW + 20)
            if face.note:
                caption.setStyleSheet("color: #b06000;")
            cell.addWidget(picture)
            cell.addWidget(caption)
            cell.addStretch(1)
            self.grid.addLayout(cell, i // COLUMNS, i % COLUMNS)
        usable = len(self.samples())
        skipped = len(found) - usable
        self.status.setText(
            f"{usable} face(s) to enroll" + (f", {skipped} photo(s) skipped (see below)." if skipped else ".")
            if usable
            else "No face found in these photos; nothing can be enrolled. Choose other photos."
        )
        self._update()

    def _on_find_failed(self, message: str) -> None:
        self._searching = False
        self.status.setText("The photos could not be read.")
        self.error_label.setText(message)

    def _on_save(self) -> None:
        name = self.name.currentText().strip()
        if not name or not self.samples():
            return
        self.error_label.setText(SAVING)
        self._update()
        self._save(name, self.samples(), self._on_saved, self._on_save_failed)

    def reject(self) -> None:
        """Cancel and Esc stop a search still running; they are ignored while saving, so the outcome is shown."""
        if self.error_label.text() == SAVING:
            return
        if self._searching:
            self._searching = False
            self._cancel_search()
        super().reject()

    def _on_saved(self, result: EnrollResult) -> None:
        skipped = len(self.found) - result.added
        self.outcome = f"Enrolled {result.person.name}: {result.added} photo(s) added" + (
            f", {skipped} skipped." if skipped else "."
        )
        self.accept()

    def _on_save_failed(self, message: str) -> None:
        """Errors stay in the dialog, which can be saved again."""
        self.error_label.setText(message)
        self._update()

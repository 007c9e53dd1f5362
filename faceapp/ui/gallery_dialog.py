"""The gallery dialog: people with a thumbnail and sample count; rename, delete, delete one sample, add photos."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
)

from faceapp.errors import FaceAppError
from faceapp.ui import flows
from faceapp.ui.video_view import to_qimage

if TYPE_CHECKING:
    from faceapp.ui.main_window import MainWindow

ID_ROLE = Qt.ItemDataRole.UserRole


def icon_of(image: np.ndarray | None, side: int = 96) -> QIcon:
    """A square-ish icon of an RGB image (blank when None)."""
    if image is None:
        return QIcon()
    pixmap = QPixmap.fromImage(to_qimage(image))
    return QIcon(
        pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    )


class GalleryDialog(QDialog):
    """Browse and edit the gallery. Every change is committed at once and refreshes the live view."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        assert window.engine is not None
        self.setWindowTitle("Gallery")
        self.resize(760, 480)
        self.window_ = window
        self.repo = window.engine.repo
        self.people = QListWidget()
        self.people.setIconSize(QSize(64, 64))
        self.samples = QListWidget()
        self.samples.setViewMode(QListView.ViewMode.IconMode)
        self.samples.setIconSize(QSize(96, 96))
        self.samples.setResizeMode(QListView.ResizeMode.Adjust)
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout(self)
        grid.addWidget(QLabel("People"), 0, 0)
        grid.addWidget(QLabel("Samples of the selected person"), 0, 1)
        grid.addWidget(self.people, 1, 0)
        grid.addWidget(self.samples, 1, 1)
        box = QDialogButtonBox()
        for key, title, slot in (
            ("rename", "Rename...", self._on_rename),
            ("delete_person", "Delete person", self._on_delete_person),
            ("delete_sample", "Delete sample", self._on_delete_sample),
            ("add_photos", "Add photos...", self._on_add_photos),
        ):
            button = box.addButton(title, QDialogButtonBox.ButtonRole.ActionRole)
            button.clicked.connect(slot)
            self.buttons[key] = button
        box.addButton(QDialogButtonBox.StandardButton.Close).clicked.connect(self.accept)
        grid.addWidget(box, 2, 0, 1, 2)
        grid.setColumnStretch(1, 2)
        self.people.currentItemChanged.connect(self._on_person_selected)
        self.samples.currentItemChanged.connect(self._update_buttons)
        self.reload()

    def person_id(self) -> int | None:
        """The selected person's id."""
        item = self.people.currentItem()
        return int(item.data(ID_ROLE)) if item is not None else None

    def reload(self, keep: int | None = None) -> None:
        """Refill the people list from the database (keeping the selection when possible)."""
        keep = keep if keep is not None else self.person_id()
        self.people.clear()
        try:
            people = self.repo.list_people()
            for person in people:
                item = QListWidgetItem(
                    icon_of(self.repo.thumbnail(person.id)), f"{person.name}\n{person.sample_count} sample(s)"
                )
                item.setData(ID_ROLE, person.id)
                self.people.addItem(item)
                if person.id == keep:
                    self.people.setCurrentItem(item)
        except FaceAppError as exc:
            QMessageBox.warning(self, "Gallery", str(exc))
        if self.people.currentItem() is None and self.people.count():
            self.people.setCurrentRow(0)
        self._on_person_selected()

    def _on_person_selected(self, *_: object) -> None:
        self.samples.clear()
        pid = self.person_id()
        try:
            stored_samples = self.repo.samples_of(pid) if pid is not None else []
        except FaceAppError as exc:
            QMessageBox.warning(self, "Gallery", str(exc))
            stored_samples = []
        for stored in stored_samples:
            item = QListWidgetItem(icon_of(stored.sample.image), stored.created_at.strftime("%Y-%m-%d %H:%M"))
            item.setData(ID_ROLE, stored.id)
            item.setToolTip(stored.sample.source or "")
            self.samples.addItem(item)
        self._update_buttons()

    def _update_buttons(self, *_: object) -> None:
        has_person = self.person_id() is not None
        for key in ("rename", "delete_person", "add_photos"):
            self.buttons[key].setEnabled(has_person)
        self.buttons["delete_sample"].setEnabled(self.samples.currentItem() is not None)

    def _changed(self, keep: int | None = None) -> None:
        self.window_.gallery_changed.emit()
        self.reload(keep)

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Gallery",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _name(self) -> str:
        item = self.people.currentItem()
        return item.text().split("\n")[0] if item is not None else ""

    def _on_rename(self) -> None:
        pid = self.person_id()
        if pid is None:
            return
        new, ok = QInputDialog.getText(self, "Rename", "New name:", text=self._name())
        if not ok or not new.strip():
            return
        try:
            self.repo.rename_person(pid, new)
        except FaceAppError as exc:
            QMessageBox.warning(self, "Rename", str(exc))
            return
        self._changed(pid)

    def _on_delete_person(self) -> None:
        pid = self.person_id()
        if pid is None or not self._confirm(f"Delete {self._name()} and all their samples? This cannot be undone."):
            return
        try:
            self.repo.remove_person(pid)
        except FaceAppError as exc:
            QMessageBox.warning(self, "Delete", str(exc))
        self._say_if_purge_pending()
        self._changed()

    def _say_if_purge_pending(self) -> None:
        """Tell the user when deleted data could not be erased from the -wal file yet (another reader holds it)."""
        if self.repo.purge_pending:
            QMessageBox.information(
                self,
                "Delete",
                "Deleted. Another program is reading the gallery, so the deleted data stays in its -wal file "
                "until that program stops; faceapp erases it at its next change to the gallery.",
            )

    def _on_delete_sample(self) -> None:
        item = self.samples.currentItem()
        pid = self.person_id()
        if item is None or not self._confirm(f"Delete this sample of {self._name()}?"):
            return
        try:
            self.repo.remove_sample(int(item.data(ID_ROLE)))
        except FaceAppError as exc:
            QMessageBox.warning(self, "Delete", str(exc))
        self._say_if_purge_pending()
        self._changed(pid)

    def _on_add_photos(self) -> None:
        pid = self.person_id()
        if pid is not None:
            flows.enroll_photos(self.window_, None, self._name(), done=lambda: self.reload(pid))

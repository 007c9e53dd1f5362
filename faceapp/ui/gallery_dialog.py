"""The gallery dialog: people with a thumbnail, sample count and spread; rename, delete, "Wrong sample", add photos,
and each person's corrections (faces recorded as not them) with a way to remove one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QWidget,
)

from faceapp import archive
from faceapp.core.types import Person
from faceapp.engine import Engine
from faceapp.storage.repository import StoredSample
from faceapp.ui.bridge import GalleryRunner
from faceapp.ui.video_view import to_qimage

ID_ROLE = Qt.ItemDataRole.UserRole
PERSON_ICON, SAMPLE_ICON, NEGATIVE_ICON = 64, 96, 64
ONE_SAMPLE_HINT = "add a few more: one sample recognizes less reliably"
# (the person's name, or None for a new person; then; the dialog, which shows errors; on_failed(message)) -> None
AddPhotos = Callable[[str | None, Callable[[], None], QWidget, Callable[[str], None]], None]
EMPTY_HINT = (
    "No one is enrolled yet. Click a face in the video to enroll it, or use Add photos... to enroll someone "
    "from photos."
)


COUNT_ROLE = Qt.ItemDataRole.UserRole + 1
ARCHIVE_FILTER = "faceapp gallery archives (*.zip);;All files (*)"
SPREAD_TIP = (
    "Spread: the largest distance d between two of the person's samples. More samples, in different poses and light "
    "(a larger spread), recognize the person more reliably."
)


def samples_line(count: int, spread: float) -> str:
    """The second line of a person's entry: how many samples, and their spread (or the hint for one sample)."""
    if count == 1:
        return "1 sample: add a few more"  # the whole hint is the entry's tooltip and under the samples
    if count > 1 and np.isfinite(spread):
        return f"{count} sample(s), spread d {spread:.2f}"
    return f"{count} sample(s)"


def shrink(image: np.ndarray | None, side: int) -> np.ndarray | None:
    """`image` scaled to fit a side x side square (any thread: plain numpy and OpenCV)."""
    if image is None:
        return None
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale == 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def icon_of(image: np.ndarray | None) -> QIcon:
    """An icon of an RGB image already shrunk to size (blank when None). GUI thread."""
    return QIcon() if image is None else QIcon(QPixmap.fromImage(to_qimage(image)))


REMEMBER, ONLY_REMOVE = "remember", "only-remove"


def ask_wrong_sample(parent: QWidget, name: str) -> str | None:
    """Ask what "Wrong sample" does: REMEMBER (the default: the face becomes a correction, "this face is not
    <name>"), ONLY_REMOVE, or None (cancelled). GUI thread; modal."""
    box = QMessageBox(QMessageBox.Icon.Question, "Wrong sample", f"This sample is not {name}?", parent=parent)
    box.setInformativeText(
        f"Remembering it as not {name} also keeps this face, and faces like it, from being named {name} again "
        "(it is listed under the corrections, where it can be removed). Only removing deletes it and nothing more."
    )
    remember = box.addButton(f"Remove and remember as not {name}", QMessageBox.ButtonRole.AcceptRole)
    only = box.addButton("Only remove", QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(remember)
    box.setEscapeButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    return REMEMBER if clicked is remember else ONLY_REMOVE if clicked is only else None


class GalleryDialog(QDialog):
    """Browse and edit the gallery through the engine. Thread affinity: GUI thread.

    Reading (people, thumbnails, samples, decoded and shrunk) and writing (rename, delete) run on the gallery runner;
    every write is announced by the engine, so the live view follows without this dialog telling it.
    """

    def __init__(
        self, engine: Engine, runner: GalleryRunner, add_photos: AddPhotos, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Gallery")
        self.resize(820, 500)
        self.engine = engine
        self.runner = runner
        self.add_photos = add_photos
        self.loads = 0  # completed people-list loads (tests wait on it)
        self.last_message = ""  # the last export or import summary shown
        self._wanted: int | None = None  # the person whose samples were last asked for
        self.people = QListWidget()
        self.people.setIconSize(QSize(PERSON_ICON, PERSON_ICON))
        self.samples = QListWidget()
        self.samples.setViewMode(QListView.ViewMode.IconMode)
        self.samples.setIconSize(QSize(SAMPLE_ICON, SAMPLE_ICON))
        self.samples.setResizeMode(QListView.ResizeMode.Adjust)
        self.negatives = QListWidget()
        self.negatives.setViewMode(QListView.ViewMode.IconMode)
        self.negatives.setIconSize(QSize(NEGATIVE_ICON, NEGATIVE_ICON))
        self.negatives.setResizeMode(QListView.ResizeMode.Adjust)
        self.negatives.setMaximumHeight(NEGATIVE_ICON + 48)
        self.negatives.setAccessibleName("Faces recorded as not this person")
        self.negatives_title = QLabel("Faces recorded as not this person (corrections)")
        self.person_hint = QLabel()  # one sample: say that a few more recognize better
        self.person_hint.setWordWrap(True)
        self.person_hint.hide()
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout(self)
        grid.addWidget(QLabel("People"), 0, 0)
        grid.addWidget(QLabel("Samples of the selected person"), 0, 1)
        grid.addWidget(self.people, 1, 0, 4, 1)
        grid.addWidget(self.samples, 1, 1)
        grid.addWidget(self.person_hint, 2, 1)
        grid.addWidget(self.negatives_title, 3, 1)
        grid.addWidget(self.negatives, 4, 1)
        self.hint = QLabel(EMPTY_HINT)
        self.hint.setWordWrap(True)
        self.hint.hide()
        self.error_label = QLabel()  # this dialog's own errors: the main window's banner is hidden behind it
        self.error_label.setStyleSheet("color: #c03030;")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        grid.addWidget(self.hint, 5, 0, 1, 2)
        grid.addWidget(self.error_label, 6, 0, 1, 2)
        box = QDialogButtonBox()
        for key, title, slot in (
            ("rename", "Rename...", self._on_rename),
            ("delete_person", "Delete person", self._on_delete_person),
            ("delete_sample", "Wrong sample...", self._on_delete_sample),
            ("remove_negative", "Remove correction", self._on_remove_negative),
            ("add_photos", "Add photos...", self._on_add_photos),
            ("export", "Export...", self._on_export),
            ("import", "Import...", self._on_import),
        ):
            button = box.addButton(title, QDialogButtonBox.ButtonRole.ActionRole)
            button.clicked.connect(slot)
            self.buttons[key] = button
        box.addButton(QDialogButtonBox.StandardButton.Close).clicked.connect(self.accept)
        self.buttons["delete_sample"].setToolTip(
            "Remove the selected sample: it is not this person (and remember that face as not them)"
        )
        self.buttons["remove_negative"].setToolTip("Forget the selected correction: that face may be this person")
        self.buttons["export"].setToolTip("Write everyone (photos' face crops, corrections, embeddings) to an archive")
        self.buttons["import"].setToolTip("Add the people of an archive; faces already here are not added twice")
        grid.addWidget(box, 7, 0, 1, 2)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(1, 1)
        self.people.currentItemChanged.connect(self._on_person_selected)
        self.samples.currentItemChanged.connect(self._update_buttons)
        self.negatives.currentItemChanged.connect(self._update_buttons)
        self._update_buttons()
        self.reload()

    def person_id(self) -> int | None:
        """The selected person's id."""
        item = self.people.currentItem()
        return int(item.data(ID_ROLE)) if item is not None else None

    def reload(self, keep: int | None = None) -> None:
        """Refill the people list from the gallery, read on the runner (keeping the selection when possible)."""
        keep = keep if keep is not None else self.person_id()
        engine = self.engine

        def work(task: object) -> list[tuple[Person, np.ndarray | None, float]]:
            snapshot = engine.snapshot()  # cached by the engine: the spreads cost no database read
            return [(p, shrink(engine.thumbnail(p.id), PERSON_ICON), snapshot.spread(p.id)) for p in engine.people()]

        self.runner.submit("gallery-people", work, lambda people: self._fill_people(people, keep), self._warn)

    def _fill_people(self, people: list[tuple[Person, np.ndarray | None, float]], keep: int | None) -> None:
        self.people.blockSignals(True)
        self.people.clear()
        for person, thumb, spread in people:
            item = QListWidgetItem(icon_of(thumb), f"{person.name}\n{samples_line(person.sample_count, spread)}")
            item.setData(ID_ROLE, person.id)
            item.setData(COUNT_ROLE, person.sample_count)
            item.setToolTip(f"One sample: {ONE_SAMPLE_HINT}." if person.sample_count == 1 else SPREAD_TIP)
            self.people.addItem(item)
            if person.id == keep:
                self.people.setCurrentItem(item)
        if self.people.currentItem() is None and self.people.count():
            self.people.setCurrentRow(0)
        self.people.blockSignals(False)
        self.hint.setVisible(not people)
        self.loads += 1
        self._on_person_selected()

    def _on_person_selected(self, *_: object) -> None:
        pid = self.person_id()
        self._wanted = pid
        self.samples.clear()
        self.negatives.clear()
        item = self.people.currentItem()
        one = item is not None and item.data(COUNT_ROLE) == 1
        self.person_hint.setText(f"{self._name()} has one sample; {ONE_SAMPLE_HINT} (Add photos...)." if one else "")
        self.person_hint.setVisible(one)
        self.negatives_title.setText(f"Faces recorded as not {self._name()} (corrections)" if item else "Corrections")
        self._update_buttons()
        if pid is None:
            return
        engine = self.engine
        Thumbs = list[tuple[StoredSample, np.ndarray | None]]

        def work(task: object) -> tuple[Thumbs, Thumbs]:
            samples = [(s, shrink(s.sample.image, SAMPLE_ICON)) for s in engine.samples_of(pid)]
            return samples, [(n, shrink(n.sample.image, NEGATIVE_ICON)) for n in engine.negatives_of(pid)]

        self.runner.submit("gallery-samples", work, lambda found: self._fill_samples(pid, *found), self._warn)

    def _fill_samples(
        self,
        pid: int,
        samples: list[tuple[StoredSample, np.ndarray | None]],
        negatives: list[tuple[StoredSample, np.ndarray | None]],
    ) -> None:
        if pid != self._wanted:
            return  # the user has picked someone else meanwhile
        for view, found in ((self.samples, samples), (self.negatives, negatives)):
            view.clear()
            for stored, thumb in found:
                item = QListWidgetItem(icon_of(thumb), stored.created_at.strftime("%Y-%m-%d %H:%M"))
                item.setData(ID_ROLE, stored.id)
                item.setToolTip(stored.sample.source or "")
                view.addItem(item)
        self.negatives_title.setText(f"Faces recorded as not {self._name()} (corrections): {len(negatives)}")
        self._update_buttons()

    def _update_buttons(self, *_: object) -> None:
        has_person = self.person_id() is not None
        for key in ("rename", "delete_person"):
            self.buttons[key].setEnabled(has_person)
        self.buttons["add_photos"].setText("Add photos..." if has_person else "Add a person from photos...")
        self.buttons["delete_sample"].setEnabled(self.samples.currentItem() is not None)
        self.buttons["remove_negative"].setEnabled(self.negatives.currentItem() is not None)

    def _warn(self, message: str) -> None:
        """A failure, shown in this dialog (until the next action succeeds)."""
        self.error_label.setText(message)
        self.error_label.show()

    def _write(
        self,
        name: str,
        work: Callable[[], object],
        keep: int | None = None,
        then: Callable[[object], None] | None = None,
        reload: bool = True,
    ) -> None:
        """A gallery write on the runner, then `then(result)` and a reload (also after a failure: it may be stale;
        not after a mere read such as an export)."""

        def done(result: object) -> None:
            self.error_label.hide()
            if then is not None:
                then(result)
            if reload:
                self.reload(keep)

        def failed(message: str) -> None:
            self._warn(message)
            if reload:
                self.reload(keep)

        self.runner.submit(name, lambda task: work(), done, failed)

    def _on_export(self) -> None:
        """Write the whole gallery to an archive the user names (`faceapp gallery export`), on the runner."""
        path, _ = QFileDialog.getSaveFileName(self, "Export gallery", "gallery.faceapp.zip", ARCHIVE_FILTER)
        if not path:
            return
        target = Path(path)

        def said(moved: object) -> None:
            self._moved(f"Exported to {target.name}", moved)

        self._write("export", lambda: archive.export(self.engine, target), then=said, reload=False)

    def _on_import(self) -> None:
        """Add the people of an archive (`faceapp gallery import`): re-embedded when its model differs."""
        path, _ = QFileDialog.getOpenFileName(self, "Import gallery archive", "", ARCHIVE_FILTER)
        if not path:
            return
        source = Path(path)

        def said(moved: object) -> None:
            self._moved(f"Imported {source.name}", moved)

        self._write("import", lambda: archive.import_archive(self.engine, source), then=said)

    def _moved(self, what: str, moved: object) -> None:
        """Say what an export or import moved (and whom an import skipped, and why: the first ten)."""
        assert isinstance(moved, archive.Moved)
        people = "1 person" if moved.people == 1 else f"{moved.people} people"
        lines = [f"{what}: {people}, {moved.samples} samples, {moved.corrections} corrections."]
        lines += list(moved.skipped[:10])
        if len(moved.skipped) > 10:
            lines.append(f"... and {len(moved.skipped) - 10} more skipped")
        self.last_message = "\n".join(lines)
        QMessageBox.information(self, "Gallery", self.last_message)

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
        self._write("rename", lambda: self.engine.rename(pid, new), pid)

    def _on_delete_person(self) -> None:
        pid = self.person_id()
        question = f"Delete {self._name()} with all their samples and corrections? This cannot be undone."
        if pid is None or not self._confirm(question):
            return

        def work() -> bool:
            self.engine.remove_person(pid)
            return self.engine.purge_pending  # read on the runner, right after the deletion

        self._write("delete-person", work, then=self._say_if_purge_pending)

    def _say_if_purge_pending(self, pending: object) -> None:
        """Tell the user when deleted data could not be erased from the -wal file yet (another reader holds it)."""
        if pending:
            QMessageBox.information(
                self,
                "Delete",
                "Deleted. Another program is reading the gallery, so the deleted data stays in its -wal file "
                "until that program stops; faceapp erases it at its next change to the gallery.",
            )

    def _on_delete_sample(self) -> None:
        """The "Wrong sample" button: remove the selected sample (it is not this person), after asking whether to
        remember the face as not them (the default) so that it is not named them again."""
        item = self.samples.currentItem()
        pid = self.person_id()
        name = self._name()
        if item is None or pid is None:
            return
        choice = ask_wrong_sample(self, name)
        if choice is None:
            return
        sample_id = int(item.data(ID_ROLE))
        remember = choice == REMEMBER

        def work() -> bool:
            self.engine.forget_sample(sample_id, pid, remember_as_not=remember)
            return not remember and self.engine.purge_pending  # read on the runner, right after the deletion

        self._write("delete-sample", work, pid, self._say_if_purge_pending)

    def _on_remove_negative(self) -> None:
        """Forget the selected correction: that face may be named this person again."""
        item = self.negatives.currentItem()
        pid = self.person_id()
        if item is None or pid is None:
            return
        negative_id = int(item.data(ID_ROLE))
        self._write("remove-negative", lambda: self.engine.remove_negative(negative_id, pid), pid)

    def _on_add_photos(self) -> None:
        """Photos for the selected person, or for a new one when nobody is selected (an empty gallery)."""
        pid = self.person_id()
        self.error_label.hide()
        self.add_photos(self._name() if pid is not None else None, lambda: self.reload(pid), self, self._warn)

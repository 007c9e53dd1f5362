"""Who is this? The panel of unknown faces, grouped by person: name a group, merge two, or forget one.

The panel is handed a `ReviewActions` (what to run, and where: the gallery runner) and the names of the people
enrolled; it never reads the store or the database itself. Thread affinity: GUI thread; the actions call back on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QHideEvent, QIcon, QImage, QKeyEvent, QPainter, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from faceapp.core.review import THUMBNAILS, Group, Retention, ReviewStore

if TYPE_CHECKING:
    from faceapp.engine import Engine, EnrollResult
    from faceapp.ui.bridge import GalleryRunner

Done = Callable[[Any], None]
Ids = tuple[int, ...]
Failed = Callable[[str], None]
THUMB = 64  # pixels per crop in a group's strip
POLL_MS = 1500  # how often the panel asks whether the store changed (a counter read, no work)
CONSENT = (
    "These are faces of people who have <b>not agreed to be enrolled</b>, seen by the camera and not recognised. "
    "They stay on this computer; nothing leaves it. Name only people who agree, and forget the others."
)


@dataclass(frozen=True)
class ReviewActions:
    """What the panel can ask for; each runs off the GUI thread and calls `done` or `failed` back on it."""

    load: Callable[[Done, Failed], object]  # done(list[Group])
    # The candidate ids the panel showed as one group (Group.ids): the action touches exactly those faces, however
    # the groups were recomputed since, and fails in one line when some are gone.
    name: Callable[[Ids, str, Done, Failed], object]  # done(EnrollResult)
    merge: Callable[[Ids, Ids, Done, Failed], object]  # done(Group)
    forget: Callable[[Ids, Done, Failed], object]  # done(int: tracks deleted)
    version: Callable[[], int]  # the store's change counter (cheap, any thread)


def runner_actions(runner: GalleryRunner, engine: Engine, store: ReviewStore) -> ReviewActions:
    """The actions on the gallery runner: grouping, enrolling (embedding the crops) and deleting all run there."""

    def name(ids: Ids, person: str) -> EnrollResult:
        group = store.pick(ids)
        result = engine.enroll_samples(person, group.samples)
        store.remove(group)  # its crops are the person's samples now
        return result

    return ReviewActions(
        load=lambda done, failed: runner.submit("review-load", lambda t: store.groups(), done, failed),
        name=lambda g, n, done, failed: runner.submit("review-name", lambda t: name(g, n), done, failed),
        merge=lambda a, b, done, failed: runner.submit("review-merge", lambda t: store.merge(a, b), done, failed),
        forget=lambda g, done, failed: runner.submit("review-forget", lambda t: store.forget(g), done, failed),
        version=lambda: store.version,
    )


def strip(images: list[np.ndarray]) -> QPixmap:
    """A group's crops side by side, each scaled into THUMB x THUMB (GUI thread: it builds a QPixmap)."""
    out = QPixmap(THUMB * THUMBNAILS, THUMB)  # always as wide as THUMBNAILS crops: the texts line up
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    for i, image in enumerate(images[:THUMBNAILS]):
        rgb = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
        h, w = rgb.shape[:2]
        qimage = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        scaled = qimage.scaled(
            THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        painter.drawImage(i * THUMB + (THUMB - scaled.width()) // 2, (THUMB - scaled.height()) // 2, scaled)
    painter.end()
    return out


def when(seen: float, now: float | None = None) -> str:
    """A last-seen time as people say it: today at 14:05, or the date."""
    now = time.time() if now is None else now
    if time.strftime("%Y%m%d", time.localtime(seen)) == time.strftime("%Y%m%d", time.localtime(now)):
        return "today " + time.strftime("%H:%M", time.localtime(seen))
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seen))


def describe(group: Group, current_model: str | None) -> str:
    """A group's line: how often and when it was seen (and its model when it is not the gallery's)."""
    times = "once" if group.times_seen == 1 else f"{group.times_seen} times"
    text = f"Seen {times}, last {when(group.last_seen)}"
    return text if group.model == current_model else f"{text} (seen with {group.model})"


class ChoiceDialog(QDialog):
    """A question with one combo box: an editable one for a name (with completion), or a fixed list of groups."""

    def __init__(
        self, title: str, label: str, items: Sequence[tuple[str, object]], editable: bool, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.combo = QComboBox()
        self.combo.setEditable(editable)
        self.combo.setMinimumWidth(280)
        for text, data in items:
            self.combo.addItem(text, data)
        if editable:
            self.combo.setCurrentIndex(-1)
            self.combo.setEditText("")
            self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        form = QFormLayout(self)
        form.addRow(label, self.combo)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.combo.setFocus()

    def text(self) -> str:
        """The name typed or chosen."""
        return self.combo.currentText().strip()

    def data(self) -> object:
        """The chosen item's data."""
        return self.combo.currentData()


class ReviewPanel(QDialog):
    """The groups of unknown faces, most recently seen first, with Name..., Merge with... and Forget."""

    def __init__(
        self,
        actions: ReviewActions,
        people: Callable[[], list[str]],
        retention: Retention,
        model: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Who is this?")
        self.resize(620, 520)
        self.ops = actions
        self.people = people
        self.model = model
        self.groups: list[Group] = []
        self.dialog: ChoiceDialog | None = None  # the open Name or Merge question (tests answer it)
        self._seen_version = -1
        consent = QLabel(CONSENT)
        consent.setWordWrap(True)
        consent.setObjectName("consent")
        self.retention = QLabel(self._retention_text(retention))
        self.retention.setWordWrap(True)
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMBNAILS * THUMB, THUMB))
        self.list.setSpacing(2)
        self.list.setAccessibleName("Unknown faces, grouped by person")
        self.empty = QLabel("No unknown faces yet: people the camera does not recognise appear here.")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.name_button = QPushButton("&Name...")
        self.merge_button = QPushButton("&Merge with...")
        self.forget_button = QPushButton("&Forget")
        self.forget_button.setToolTip("Delete this group's faces and embeddings (Delete)")
        self.name_button.setToolTip("Enroll this group as a new or existing person (Enter)")
        close = QPushButton("&Close")
        row = QHBoxLayout()
        for button in (self.name_button, self.merge_button, self.forget_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(consent)
        layout.addWidget(self.retention)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self.name_button.clicked.connect(self.ask_name)
        self.merge_button.clicked.connect(self.ask_merge)
        self.forget_button.clicked.connect(self.forget_selected)
        close.clicked.connect(self.close)
        self.list.itemActivated.connect(lambda _: self.ask_name())  # Enter or a double click names the group
        self.list.currentRowChanged.connect(lambda _: self._enable())
        self.list.installEventFilter(self)  # Delete in the list forgets the group under the cursor
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_poll)
        self._enable()
        self.reload()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Delete (or Backspace) in the list: Forget."""
        key = event.key() if watched is self.list and isinstance(event, QKeyEvent) else None
        if event.type() == QEvent.Type.KeyPress and key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.forget_selected()
            return True
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:
        """Follow the store while shown (a counter read every POLL_MS), and catch up at once."""
        self._timer.start()
        self._on_poll()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        """Hidden: stop following the store."""
        self._timer.stop()
        super().hideEvent(event)

    # -- loading ----------------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Ask for the groups again (on the runner); the list is rebuilt when they come."""
        self._seen_version = self.ops.version()
        self.ops.load(self._on_loaded, self._on_failed)

    def _on_poll(self) -> None:
        if self.ops.version() != self._seen_version:
            self.reload()

    def _on_loaded(self, groups: list[Group]) -> None:
        selected = self.selected()
        keep = selected.id if selected is not None else None
        self.groups = groups
        self.list.clear()
        for group in groups:
            item = QListWidgetItem(QIcon(strip(group.thumbnails)), describe(group, self.model))
            item.setData(Qt.ItemDataRole.UserRole, group.id)
            item.setToolTip(f"{group.crop_count} face crop(s) from {group.times_seen} appearance(s)")
            self.list.addItem(item)
        ids = [g.id for g in groups]
        self.list.setCurrentRow(ids.index(keep) if keep in ids else (0 if groups else -1))
        self.empty.setVisible(not groups)
        self._enable()

    def selected(self) -> Group | None:
        """The group under the cursor, or None."""
        row = self.list.currentRow()
        return self.groups[row] if 0 <= row < len(self.groups) else None

    # -- the user's actions -----------------------------------------------------------------------------------
    def ask_name(self) -> None:
        """Name...: a new person's name, or an existing person chosen (completion from the gallery's names)."""
        group = self.selected()
        if group is None:
            return
        names: list[tuple[str, object]] = [(n, n) for n in self.people()]
        self.dialog = ChoiceDialog("Name this person", "Name (new or enrolled):", names, True, self)
        self.dialog.accepted.connect(lambda: self._on_named(group, self.dialog.text() if self.dialog else ""))
        self.dialog.open()

    def _on_named(self, group: Group, name: str) -> None:
        if not name:
            self.status.setText("No name given: nothing was enrolled.")
            return
        self.status.setText(f"Enrolling {name}...")
        self.ops.name(group.ids, name, self._on_enrolled, self._on_failed)

    def _on_enrolled(self, result: EnrollResult) -> None:
        self.status.setText(f"{result.person.name}: {result.added} sample(s) added; the group is now in the gallery.")
        self.reload()

    def ask_merge(self) -> None:
        """Merge with...: the other groups of the same model, described as in the list."""
        group = self.selected()
        if group is None:
            return
        others = [
            (f"{describe(g, self.model)}", g.ids) for g in self.groups if g.id != group.id and g.model == group.model
        ]
        if not others:
            self.status.setText("There is no other group to merge this one with.")
            return
        self.dialog = ChoiceDialog("Merge groups", "The same person as:", others, False, self)
        self.dialog.accepted.connect(lambda: self._on_merge_chosen(group, self.dialog.data() if self.dialog else None))
        self.dialog.open()

    def _on_merge_chosen(self, group: Group, other: object) -> None:
        if not isinstance(other, tuple | list):  # the ids given to the combo box (Qt may hand a list back)
            return
        self.ops.merge(group.ids, tuple(int(i) for i in other), self._on_merged, self._on_failed)

    def _on_merged(self, merged: Group) -> None:
        self.status.setText(f"Merged: one group seen {merged.times_seen} times.")
        self.reload()

    def forget_selected(self) -> None:
        """Forget: delete the group's crops and embeddings (memory and database)."""
        group = self.selected()
        if group is None:
            return
        self.ops.forget(group.ids, self._on_forgotten, self._on_failed)

    def _on_forgotten(self, gone: int) -> None:
        self.status.setText(f"Forgotten: {gone} appearance(s) deleted, with their face crops and embeddings.")
        self.reload()

    def _on_failed(self, message: str) -> None:
        self.status.setText(message)
        self.reload()

    def _enable(self) -> None:
        chosen = self.selected() is not None
        for button in (self.name_button, self.merge_button, self.forget_button):
            button.setEnabled(chosen)

    @staticmethod
    def _retention_text(retention: Retention) -> str:
        if retention.mode == "off":
            return "Keeping unknown faces is off (Settings): nothing new is kept."
        if retention.mode == "session":
            return "Kept for this session only, in memory: closing faceapp forgets them (Settings to change)."
        return f"Kept for {retention.days} days in the gallery file, then deleted (Settings to change)."

"""Guided enrollment: the face live, a progress ring, what to do next, why a frame was refused, the samples taken.

The capture itself runs elsewhere (core.guided.GuidedWorker on its own thread, started through the `start`
callback); its updates come back through a signal, so every pixmap is built here on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QObject, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from faceapp.core.guided import GuidedUpdate, Sample, best_sample
from faceapp.core.types import FaceSample
from faceapp.engine import EnrollResult
from faceapp.ui.video_view import to_qimage

SaveFn = Callable[[str, list[FaceSample], Callable[[Any], None], Callable[[str], None]], None]
SAVING = "Saving..."
PREVIEW = 220
THUMB = 72


class CaptureHandle(Protocol):
    """What the dialog may ask of a running capture (core.guided.GuidedWorker and the flow's wrapper)."""

    def stop(self) -> None: ...
    def remove(self, sample_id: int) -> None: ...


# start(on_update, on_error) -> the running capture; both callbacks may be called from any thread.
StartFn = Callable[[Callable[[GuidedUpdate], None], Callable[[str], None]], CaptureHandle]


class _Relay(QObject):
    """Carries the worker's updates to the GUI thread (queued: the relay lives on the GUI thread)."""

    update_ready = Signal(object)
    failed = Signal(str)


class ProgressRing(QWidget):
    """A ring that fills as samples are taken, with "taken / wanted" in the middle."""

    def __init__(self, wanted: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.taken, self.wanted = 0, wanted
        self.setFixedSize(84, 84)
        self.setAccessibleName("Samples taken")

    def set_taken(self, taken: int) -> None:
        """Show `taken` samples of the wanted number."""
        self.taken = taken
        self.setAccessibleDescription(f"{taken} of {self.wanted} samples")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """The grey track, the blue arc and the count."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(7, 7, self.width() - 14, self.height() - 14)
        painter.setPen(QPen(QColor("#d0d4da"), 8))
        painter.drawEllipse(rect)
        share = min(1.0, self.taken / self.wanted) if self.wanted else 0.0
        arc = QPen(QColor("#208040" if share >= 1 else "#2f7de1"), 8)
        arc.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(arc)
        painter.drawArc(rect, 90 * 16, -round(share * 360 * 16))
        painter.setPen(self.palette().text().color())
        font = painter.font()
        font.setPointSize(13)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{self.taken}/{self.wanted}")


def face_view(image: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """The region around a face (the whole frame without one), square, for the live preview."""
    if box is None:
        return image
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * 1.8
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    right, bottom = int(min(cx + side / 2, w)), int(min(cy + side / 2, h))
    crop = image[top:bottom, left:right]
    return np.ascontiguousarray(crop) if crop.size else image


class GuidedDialog(QDialog):
    """Enroll a person (or top one up) from a few seconds of live video. GUI thread.

    Takes the names for the picker, the name to preset (topping up an existing person), `start` to run the capture
    elsewhere and `save` to store the samples elsewhere; "Stop" keeps what was taken, "Keep one" the best sample.
    """

    def __init__(
        self,
        names: list[str],
        start: StartFn,
        save: SaveFn,
        name: str | None = None,
        wanted: int = 5,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Add samples of {name}" if name else "Enroll a person")
        self._start, self._save = start, save
        self._handle: CaptureHandle | None = None
        self._started = False
        self.capturing = False
        self.samples: list[Sample] = []
        self.removed: set[int] = set()
        self.reasons: list[str] = []  # every refused frame's reason, in order (shown: the latest)
        self.outcome = ""
        self._relay = _Relay(self)
        self._relay.update_ready.connect(self._on_update)
        self._relay.failed.connect(self._on_capture_failed)
        self._build(names, name, wanted)

    def _build(self, names: list[str], name: str | None, wanted: int) -> None:
        self.preview = QLabel("Starting the camera capture...")
        self.preview.setFixedSize(PREVIEW, PREVIEW)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background: #20242a; color: #e0e0e0;")
        self.ring = ProgressRing(wanted)
        self.instruction = QLabel("Look straight at the camera")
        big = QFont(self.instruction.font())
        big.setPointSize(big.pointSize() + 3)
        big.setBold(True)
        self.instruction.setFont(big)
        self.instruction.setWordWrap(True)
        self.reason = QLabel(" ")
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #b06000;")
        self.reason.setMinimumHeight(2 * self.reason.fontMetrics().height() + 6)
        self.instruction.setMinimumHeight(2 * QFontMetrics(big).height() + 6)
        self.thumbs = QListWidget()
        self.thumbs.setViewMode(QListWidget.ViewMode.IconMode)
        self.thumbs.setIconSize(QSize(THUMB, THUMB))
        self.thumbs.setFixedHeight(THUMB + 34)
        self.thumbs.setFlow(QListWidget.Flow.LeftToRight)
        self.thumbs.setWrapping(False)
        self.thumbs.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.thumbs.setAccessibleName("Samples taken (Delete removes the selected one)")
        self.thumbs.installEventFilter(self)
        self.remove_button = QPushButton("&Remove sample")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.stop_button = QPushButton("&Stop")
        self.stop_button.setToolTip("Stop capturing and keep the samples taken")
        self.stop_button.clicked.connect(self.stop_capture)
        self.keep_one_button = QPushButton("&Keep one")
        self.keep_one_button.setToolTip("Stop and keep only the best sample")
        self.keep_one_button.clicked.connect(self.keep_one)
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setMinimumWidth(240)
        self.name.addItems(names)
        self.name.setCurrentIndex(-1)
        edit = self.name.lineEdit()
        if edit is not None:
            edit.setPlaceholderText("Type a new name or pick a person")
        if name is not None:
            self.name.setCurrentText(name)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #c03030;")
        self.error_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        for button in (self.remove_button, self.stop_button, self.keep_one_button):
            button.setAutoDefault(False)  # Enter saves (the Save button is the default), whatever has the focus
        self._layout()

    def _layout(self) -> None:
        head = QHBoxLayout()
        head.addWidget(self.ring)
        head.addWidget(self.instruction, 1)
        side = QVBoxLayout()
        side.addLayout(head)
        side.addWidget(self.reason)
        side.addStretch(1)
        controls = QHBoxLayout()
        controls.addWidget(self.stop_button)
        controls.addWidget(self.keep_one_button)
        controls.addWidget(self.remove_button)
        side.addLayout(controls)
        top = QHBoxLayout()
        top.addWidget(self.preview)
        top.addLayout(side, 1)
        name_row = QHBoxLayout()
        label = QLabel("&Name:")
        label.setBuddy(self.name)
        name_row.addWidget(label)
        name_row.addWidget(self.name, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(QLabel("Samples taken:"))
        layout.addWidget(self.thumbs)
        layout.addLayout(name_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(620, 470)
        self._refresh_controls()

    # -- the capture ---------------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        """The capture starts when the dialog is first shown."""
        super().showEvent(event)
        if not self._started:
            self._started = True
            self.capturing = True
            try:
                self._handle = self._start(self._relay.update_ready.emit, self._relay.failed.emit)
            except Exception as exc:  # the start undid itself (recognition goes on): say so in one line
                self.capturing = False
                self.error_label.setText(f"The capture could not start: {exc}")
                self.instruction.setText("No capture: Cancel and try again.")
            self._refresh_controls()
            self.name.setFocus()

    @Slot(object)
    def _on_update(self, update: GuidedUpdate) -> None:
        if update.frame is not None:
            box = update.verdict.detection.box if update.verdict.detection is not None else None
            pixmap = QPixmap.fromImage(to_qimage(face_view(update.frame.image, box)))
            self.preview.setPixmap(
                pixmap.scaled(
                    PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )
            if not update.verdict.taken:
                self.reasons.append(update.verdict.reason)
                self.reason.setText(f"Not taken: {update.verdict.reason}.")
            else:
                self.reason.setText(f"Sample taken ({update.verdict.bin}).")
        if self.capturing:
            self._show_samples([s for s in update.state.samples if s.id not in self.removed])
            self.instruction.setText(update.state.instruction)
        if update.frame is None and self.capturing:  # the worker's last word: done, timed out or stopped
            self._finish(update.state.instruction)

    @Slot(str)
    def _on_capture_failed(self, message: str) -> None:
        self.error_label.setText(message)

    def _finish(self, why: str) -> None:
        self.capturing = False
        if self._handle is not None:
            self._handle.stop()
        count = len(self.samples)
        if count:
            self.instruction.setText(f"{why}. {count} sample(s): type a name and save.")
        else:
            self.instruction.setText(f"{why}. No sample was taken; Cancel and try again.")
        self._refresh_controls()

    def stop_capture(self) -> None:
        """Stop early, keeping the samples taken."""
        if self.capturing:
            self._finish("Stopped")

    def keep_one(self) -> None:
        """Stop and keep only the best sample."""
        best = best_sample(self.samples)
        if self.capturing:
            self._finish("Stopped")
        if best is not None:
            self.removed |= {s.id for s in self.samples if s.id != best.id}
            self._show_samples([best])
            self.instruction.setText("One sample kept: type a name and save.")
        self._refresh_controls()

    def _show_samples(self, samples: list[Sample]) -> None:
        if [s.id for s in samples] == [s.id for s in self.samples]:
            self.samples = samples  # a replacement keeps its id: redraw only when the ids change
            return
        current = self.thumbs.currentRow()
        self.samples = samples
        self.thumbs.clear()
        for i, sample in enumerate(samples, 1):
            pixmap = QPixmap.fromImage(to_qimage(sample.sample.image)).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            item = QListWidgetItem(QIcon(pixmap), f"{i}: {sample.bin}")
            item.setData(Qt.ItemDataRole.UserRole, sample.id)
            self.thumbs.addItem(item)
        if samples:
            self.thumbs.setCurrentRow(min(max(current, 0), len(samples) - 1))
        self.ring.set_taken(len(samples))
        self._refresh_controls()

    def remove_sample(self, sample_id: int) -> None:
        """Drop one sample (its thumbnail); a running capture may take another in its place."""
        self.removed.add(sample_id)
        if self._handle is not None and self.capturing:
            self._handle.remove(sample_id)
        self._show_samples([s for s in self.samples if s.id != sample_id])

    def _on_remove_clicked(self) -> None:
        item = self.thumbs.currentItem()
        if item is not None:
            self.remove_sample(int(item.data(Qt.ItemDataRole.UserRole)))

    def eventFilter(self, watched: QObject, event: Any) -> bool:
        """Delete or Backspace on the thumbnails removes the selected sample."""
        pressed = isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress
        if watched is self.thumbs and pressed and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self._on_remove_clicked()
            return True
        return super().eventFilter(watched, event)

    def _refresh_controls(self) -> None:
        saving = self.error_label.text() == SAVING
        self.stop_button.setEnabled(self.capturing and not saving)
        self.keep_one_button.setEnabled(len(self.samples) > 1 or (self.capturing and bool(self.samples)))
        self.remove_button.setEnabled(bool(self.samples) and not saving)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(bool(self.samples) and not saving)

    # -- saving and closing --------------------------------------------------------------------------------------
    def _on_save(self) -> None:
        """Stop the capture and save the samples under the chosen name off the GUI thread; closes once stored."""
        name = self.name.currentText().strip()
        if not name:
            self.error_label.setText("Type a name, or pick a person to add these samples to.")
            return
        if not self.samples:
            self.error_label.setText("No sample to save yet.")
            return
        self.stop_capture()
        self.error_label.setText(SAVING)
        self.buttons.setEnabled(False)
        self._refresh_controls()
        self._save(name, [s.sample for s in self.samples], self._on_saved, self._on_save_failed)

    def _on_saved(self, result: EnrollResult) -> None:
        self.outcome = f"Saved {result.added} sample(s) of {result.person.name}."
        self.accept()

    def _on_save_failed(self, message: str) -> None:
        self.error_label.setText(message)
        self.buttons.setEnabled(True)
        self._refresh_controls()

    def reject(self) -> None:
        """Cancel, Esc or the close button: the capture stops; ignored while saving."""
        if self.error_label.text() == SAVING:
            return
        self.stop_capture()
        super().reject()

    def done(self, result: int) -> None:
        """However the dialog closes, the capture thread is told to stop."""
        if self._handle is not None:
            self._handle.stop()
        super().done(result)

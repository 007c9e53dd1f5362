"""The enroll dialog: the clicked face's crop, quality warnings, a name, and optional extra samples from the video."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, SignalInstance
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from faceapp.core.align import sample_crop
from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.quality import assess
from faceapp.core.types import FaceSample
from faceapp.core.video import iou
from faceapp.engine import EnrollResult
from faceapp.ui.video_view import to_qimage

# save(name, samples, on_done(EnrollResult), on_failed(message)): runs the enrollment off the GUI thread.
SaveFn = Callable[[str, list[FaceSample], Callable[[Any], None], Callable[[str], None]], None]
FrameLookup = Callable[[int], np.ndarray | None]
SAVING = "Saving..."
CAPTURE_SECONDS = 3.0
CAPTURE_GAP = 0.4
MAX_EXTRA = 6


class EnrollDialog(QDialog):
    """Enroll the clicked face as a new person or as another sample of an existing one. GUI thread.

    Takes the data it shows (the frame, the face, the enrolled names, the name the face is known by) and callbacks:
    `save` runs the enrollment elsewhere and calls back; `results` and `frame_of` feed "Capture more".
    """

    def __init__(
        self,
        image: np.ndarray,
        face: LiveFace,
        names: list[str],
        known_as: str | None,
        save: SaveFn,
        results: SignalInstance,
        frame_of: FrameLookup,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Enroll this face")
        self._save = save
        self._results = results
        self._frame_of = frame_of
        self.face = face
        self.samples: list[FaceSample] = []
        self.outcome = ""
        self._last_capture = 0.0
        self._capturing = False
        self.preview = QLabel()
        self.preview.setFixedSize(180, 180)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.quality_label = QLabel()
        self.quality_label.setWordWrap(True)
        self.count_label = QLabel()
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setMinimumWidth(240)
        self.name.addItems(names)
        self.name.setCurrentIndex(-1)
        edit = self.name.lineEdit()
        if edit is not None:
            edit.setPlaceholderText("Type a new name or pick a person")
        if known_as is not None:
            self.name.setCurrentText(known_as)
        self.capture_button = QPushButton(f"Capture more ({CAPTURE_SECONDS:.0f} s)")
        self.capture_button.clicked.connect(self._on_capture_clicked)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #c03030;")
        self.error_label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_save)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        side = QVBoxLayout()
        side.addWidget(QLabel("Name:"))
        side.addWidget(self.name)
        side.addWidget(self.quality_label)
        side.addWidget(self.count_label)
        side.addWidget(self.capture_button)
        side.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.preview)
        top.addLayout(side, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self._add_sample(image, face)
        self._capture_timer = QTimer(self)
        self._capture_timer.setSingleShot(True)
        self._capture_timer.timeout.connect(self._on_capture_finished)

    @staticmethod
    def sample_of(image: np.ndarray | None, face: LiveFace) -> FaceSample:
        """The gallery sample of a face seen live: a wide crop and the detection moved into it."""
        assert image is not None
        crop, moved = sample_crop(image, face.detection)
        return FaceSample(crop, moved, "live view")

    def _add_sample(self, image: np.ndarray, face: LiveFace) -> None:
        self.samples.append(self.sample_of(image, face))
        crop = self.samples[-1].image
        if len(self.samples) == 1:
            pixmap = QPixmap.fromImage(to_qimage(crop))
            self.preview.setPixmap(
                pixmap.scaled(180, 180, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            )
            quality = assess(image, face.detection)
            if quality.ok:
                self.quality_label.setText("Good sample.")
                self.quality_label.setStyleSheet("color: #208040;")
            else:
                self.quality_label.setText("Warning: " + "; ".join(quality.problems) + ".")
                self.quality_label.setStyleSheet("color: #b06000;")
        self.count_label.setText(f"{len(self.samples)} sample(s) to save")

    def _on_capture_clicked(self) -> None:
        self._capturing = True
        self.capture_button.setEnabled(False)
        self.capture_button.setText("Capturing... keep looking at the camera")
        self._results.connect(self._on_result_ready)
        self._capture_timer.start(int(CAPTURE_SECONDS * 1000))

    def _on_result_ready(self, result: FrameResult) -> None:
        """While capturing: take the tracked face from a new frame every CAPTURE_GAP seconds."""
        now = time.monotonic()
        if not self._capturing or now - self._last_capture < CAPTURE_GAP or len(self.samples) > MAX_EXTRA:
            return
        same = [f for f in result.faces if f.track_id == self.face.track_id]
        if not same:
            same = [f for f in result.faces if iou(f.detection.box, self.face.detection.box) > 0.3]
        image = result.image if result.image is not None else self._frame_of(result.frame_index)
        if not same or image is None:
            return
        self.face = same[0]
        self._last_capture = now
        self._add_sample(image, same[0])

    def _on_capture_finished(self) -> None:
        self._capturing = False
        self._results.disconnect(self._on_result_ready)
        self.capture_button.setText(f"Capture more ({CAPTURE_SECONDS:.0f} s)")
        self.capture_button.setEnabled(True)

    def _on_save(self) -> None:
        """Save every sample under the chosen name off the GUI thread; the dialog closes once it is stored."""
        name = self.name.currentText().strip()
        if not name:
            self.error_label.setText("Type a name, or pick a person to add this sample to.")
            return
        if self._capturing:
            self._capture_timer.stop()
            self._on_capture_finished()
        self.buttons.setEnabled(False)
        self.capture_button.setEnabled(False)
        self.error_label.setText(SAVING)
        self._save(name, list(self.samples), self._on_saved, self._on_save_failed)

    def reject(self) -> None:
        """Cancel, Esc or the close button; ignored while saving, so the outcome (or the error) is shown."""
        if self.error_label.text() == SAVING:
            return
        super().reject()

    def _on_saved(self, result: EnrollResult) -> None:
        self.outcome = f"Saved {result.added} sample(s) of {result.person.name}."
        self.accept()

    def _on_save_failed(self, message: str) -> None:
        """Errors stay in the dialog, which can be saved again."""
        self.error_label.setText(message)
        self.buttons.setEnabled(True)
        self.capture_button.setEnabled(True)

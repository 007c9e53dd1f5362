"""Verification mode (1:1): the user picks the claimed person; faces show ACCEPT or REJECT with their distance."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QWidget

from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.types import Person
from faceapp.ui.video_view import ACCEPT_COLOUR, REJECT_COLOUR


class VerifyPanel(QWidget):
    """A toolbar panel: a verify switch, the claimed person, and the verdict for the largest face in view.

    The worker measures each face's distance to the claimed person, in the same frame and model as everything
    else in the result (FrameResult.claimed_id says for whom); the panel only applies tau to it.
    """

    mode_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.switch = QCheckBox("Verify (1:1) as")
        self.people = QComboBox()
        self.people.setMinimumWidth(160)
        self.people.setEnabled(False)
        self.verdict = QLabel("")
        self.verdict.setMinimumWidth(260)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.switch)
        layout.addWidget(self.people)
        layout.addWidget(self.verdict)
        self.threshold = 0.5
        self._result_claim: int | None = None  # whom the latest result's claimed distances are for
        self.switch.toggled.connect(self._on_toggled)
        self.people.currentIndexChanged.connect(self._on_person_changed)

    @property
    def active(self) -> bool:
        """Whether verification mode is on and a person is picked."""
        return self.switch.isChecked() and self.claimed_id() is not None

    def claimed_id(self) -> int | None:
        """The id of the person being claimed."""
        data = self.people.currentData()
        return int(data) if data is not None else None

    def set_people(self, people: list[Person]) -> None:
        """Refill the person list, keeping the current pick when it still exists."""
        current = self.claimed_id()
        self.people.blockSignals(True)
        self.people.clear()
        for person in people:
            self.people.addItem(person.name, person.id)
        index = self.people.findData(current) if current is not None else -1
        self.people.setCurrentIndex(max(index, 0) if people else -1)
        self.people.blockSignals(False)
        self.switch.setEnabled(bool(people))
        if not people:
            self.switch.setChecked(False)
        if self.claimed_id() != current and self.switch.isChecked():
            self.mode_changed.emit(self.active)  # the claimed person was deleted: the worker must measure the new one

    def check(self, face: LiveFace) -> tuple[bool, float]:
        """(accepted, distance) of `face` against the claimed person's samples, as the worker measured them."""
        pid = self.claimed_id()
        if pid is None or pid != self._result_claim:
            return False, float("inf")  # a result from before this claim: no verdict yet
        return face.verified(self.threshold), face.claimed_distance

    def label(self, face: LiveFace) -> tuple[str, QColor]:
        """The view's label for `face` in verification mode."""
        ok, dist = self.check(face)
        shown = f"{dist:.2f}" if np.isfinite(dist) else "--"
        return (f"ACCEPT  {shown}", ACCEPT_COLOUR) if ok else (f"REJECT  {shown}", REJECT_COLOUR)

    def update_verdict(self, result: FrameResult) -> None:
        """Show the verdict for the largest face in `result`."""
        self._result_claim = result.claimed_id
        if not self.active:
            self.verdict.setText("")
            return
        if not result.faces:
            self.verdict.setText("no face in view")
            self.verdict.setStyleSheet("")
            return
        face = max(result.faces, key=lambda f: f.detection.area)
        ok, dist = self.check(face)
        word = "ACCEPT" if ok else "REJECT"
        self.verdict.setText(f"{word}  d = {dist:.3f}  (tau {self.threshold:.3f})")
        colour = ACCEPT_COLOUR if ok else REJECT_COLOUR
        self.verdict.setStyleSheet(f"color: {colour.name()}; font-weight: bold;")

    def _on_toggled(self, on: bool) -> None:
        self.people.setEnabled(on)
        self.mode_changed.emit(self.active)

    def _on_person_changed(self, index: int) -> None:
        self.mode_changed.emit(self.active)

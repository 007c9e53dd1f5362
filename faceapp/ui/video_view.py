"""The live view: paints every captured frame and draws the latest recognition result over it while it still fits.

A result is computed on an older frame than the one shown (recognition is slower than the video). Its boxes are
drawn only while the shown frame still shows what the result's frame showed: no box after a scene cut, and no box
where the content under it changed (the face moved or left); older results fade, and past MAX_AGE they are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.types import MatchRule
from faceapp.core.video import Frame
from faceapp.ui.display import MAX_AGE, DisplayPrep, Prepared, placement, stale_boxes

# (text, colour) for one face; the main window swaps this for verification mode.
Labeler = Callable[[LiveFace], tuple[str, QColor]]

ACCEPT_COLOUR = QColor(40, 200, 90)
REJECT_COLOUR = QColor(230, 70, 60)
UNDECIDED_COLOUR = QColor(120, 120, 132)  # a track whose evidence is not yet clear: no name, no verdict colour
UNDECIDED_MARK = "…"
UNDECIDED_OPACITY = 0.8
BACKGROUND = QColor(24, 24, 28)
FRESH_AGE = 1.0  # seconds between the result's frame and the shown one below which boxes are drawn fully opaque
# ... above MAX_AGE (ui.display) they are not drawn at all (in between they fade to FADED)
FADED = 0.35
MAX_REFUSED = 1000  # "Not X" overrides remembered, (track, person), oldest forgotten first
# How long a "Not X" override holds: long enough for the corrected gallery to reach the worker (which then refuses
# the person itself), short enough that a removed correction or a reused track number does not keep a face nameless.
REFUSAL_HOLD_S = 15.0


def to_qimage(image: np.ndarray) -> QImage:
    """A QImage owning a copy of an RGB uint8 array. GUI thread only."""
    rgb = np.ascontiguousarray(image)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class VideoView(QWidget):
    """Shows the newest frame scaled to fit, boxes and labels from the newest result; a click on a box picks a face."""

    face_clicked = Signal(object, object)  # (LiveFace, the FrameResult it belongs to)
    not_person = Signal(object, object)  # "Not <name>" from the face's menu: (LiveFace as named, its FrameResult)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # arrows pick a face, Enter enrolls it
        self.setAccessibleName("Live video")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # the paint covers every pixel: no erase first
        self.selected_track: int | None = None  # the face the keyboard picked (the largest when None)
        # The capture thread readies each frame for this view (scaled, mirrored, boxes checked): LiveSession calls it.
        self.prep = DisplayPrep()
        self._mirror = False
        self.rule = MatchRule(0.5)
        self.labeler: Labeler = self.default_label
        self.placeholder = "Opening the video source..."
        self.frame: Frame | None = None
        self.result: FrameResult | None = None
        self._raw_result: FrameResult | None = None  # the worker's result `result` was made from (refusals applied)
        self._image: QImage | None = None  # the frame as drawn: at its own size, or prepared (self._prepared)
        self._frame_size: tuple[int, int] | None = None  # (w, h) of the frame's pixels
        self._prepared: Prepared | None = None
        self.prepared_paints = 0  # frames painted from the capture thread's prepared image (bench gui reads it)
        self.painted = 0
        self.last_painted_index = -1
        self._visible: tuple[int, int, list[tuple[LiveFace, float]]] | None = None  # (frame, result id, faces)
        self.drawn: tuple[int, list[LiveFace]] = (-1, [])  # the faces drawn on the last painted frame (tests read it)
        self.drawn_result: FrameResult | None = None  # the result those faces came from
        # "Not X" on a track: shown Unknown at once, before the corrected gallery reaches the worker (and for the
        # rest of the track: the user said so).
        self.refused: dict[tuple[int, int], float] = {}  # (track, person) -> when the user said "Not X"
        self.menu: QMenu | None = None  # the face menu while it is open (tests drive it)

    @property
    def mirror(self) -> bool:
        """Whether frames are shown mirrored (a camera, when the user wants it)."""
        return self._mirror

    @mirror.setter
    def mirror(self, value: bool) -> None:
        self._mirror = value
        self.prep.set_target(self.width(), self.height(), value)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Frames prepared from now on are for the new size."""
        self.prep.set_target(self.width(), self.height(), self._mirror)
        super().resizeEvent(event)

    # -- data in ------------------------------------------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        """Display `frame` now (painted synchronously, so no frame is skipped by update coalescing). The capture
        thread's prepared image is used when it is for this size and mirroring; else the frame is converted here."""
        self.frame = frame
        h, w = frame.image.shape[:2]
        self._frame_size = (w, h)
        prepared = self.prep.take(frame)
        if prepared is not None and prepared.target == self.prep.target:
            self._prepared, self._image = prepared, prepared.image
        else:
            self._prepared, self._image = None, to_qimage(frame.image)
        if self.isVisible():
            self.repaint()

    def show_result(self, result: FrameResult | None) -> None:
        """Use `result` for the boxes and labels from the next painted frame on; None takes the boxes off at once
        (a gallery switch: no click may act on the old gallery's faces, even on a frame that stays on the screen)."""
        self._raw_result = result
        self.result = self._with_refusals(result)
        self._visible = None
        if result is None:
            self.drawn, self.drawn_result = (self.drawn[0], []), None
            self.update()

    def _with_refusals(self, result: FrameResult | None) -> FrameResult | None:
        """`result` with every face the user said is not its person shown as nobody's."""
        if result is None or not self.refused:
            return result
        now = time.monotonic()  # an override only bridges the wait for the corrected gallery to reach the worker
        self.refused = {k: t for k, t in self.refused.items() if now - t <= REFUSAL_HOLD_S}
        if not any((f.track_id, f.person_id) in self.refused for f in result.faces if f.person_id is not None):
            return result
        inf = float("inf")

        def refused(f: LiveFace) -> LiveFace:
            claimed = inf if result.claimed_id == f.person_id else f.claimed_distance  # only a claim of that person
            return replace(f, person_id=None, name=None, distance=inf, runner_up=inf, claimed_distance=claimed)

        faces = tuple(
            refused(f) if f.person_id is not None and (f.track_id, f.person_id) in self.refused else f
            for f in result.faces
        )
        return replace(result, faces=faces)

    def refuse(self, face: LiveFace) -> None:
        """Show this track as not its person from now on (the "Not X" menu); repaints."""
        if face.person_id is None:
            return
        self.refused[(face.track_id, face.person_id)] = time.monotonic()
        while len(self.refused) > MAX_REFUSED:
            del self.refused[next(iter(self.refused))]
        self.show_result(self._raw_result)
        self.update()

    def unrefuse(self, face: LiveFace) -> None:
        """Undo refuse() (recording the correction failed)."""
        if face.person_id is not None:
            self.refused.pop((face.track_id, face.person_id), None)

    def set_placeholder(self, text: str) -> None:
        """The text shown while there is no video."""
        self.placeholder = text
        self.update()

    def clear(self) -> None:
        """Forget the current frame and result (the source stopped)."""
        self.frame, self._image, self.result, self._raw_result = None, None, None, None
        self._frame_size, self._prepared = None, None
        self.prep.reset()
        self._visible = None
        self.drawn, self.drawn_result = (-1, []), None
        self.refused.clear()  # a new source or worker numbers its tracks afresh
        self.update()

    def default_label(self, face: LiveFace) -> tuple[str, QColor]:
        """Name or Unknown, with the distance to the nearest enrolled person (and why, when too close to call);
        a grey "…" while the track's evidence is not yet clear."""
        if face.certainty == "undecided":
            return UNDECIDED_MARK, UNDECIDED_COLOUR
        dist = "" if not np.isfinite(face.distance) else f"  {face.distance:.2f}"
        if face.ambiguous(self.rule):
            dist += " (ambiguous)"
        colour = ACCEPT_COLOUR if face.accepted(self.rule) else REJECT_COLOUR
        return f"{face.label(self.rule)}{dist}", colour

    # -- geometry -----------------------------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the frame is drawn in widget coordinates (aspect kept, centred)."""
        if self._frame_size is None:
            return QRectF()
        return QRectF(*placement(*self._frame_size, self.width(), self.height()))

    def box_rect(self, face: LiveFace) -> QRectF:
        """The face's box in widget coordinates (mirrored when the view is)."""
        target = self.image_rect()
        if self._frame_size is None:
            return QRectF()
        iw = self._frame_size[0]
        s = target.width() / iw
        x1, y1, x2, y2 = face.detection.box
        if self.mirror:
            x1, x2 = iw - x2, iw - x1
        return QRectF(target.left() + x1 * s, target.top() + y1 * s, (x2 - x1) * s, (y2 - y1) * s)

    def visible_faces(self) -> list[tuple[LiveFace, float]]:
        """The faces of the latest result that still fit the shown frame, each with its opacity (0.35 to 1)."""
        result, frame = self.result, self.frame
        if result is None:
            return []
        if frame is None or result.image is None or frame.index == result.frame_index:
            return [(f, 1.0) for f in result.faces]
        key = (frame.index, result.frame_index)
        if self._visible is not None and self._visible[:2] == key:
            return self._visible[2]
        age = abs(frame.timestamp - result.timestamp)
        faces: list[tuple[LiveFace, float]] = []
        if age <= MAX_AGE and frame.scene == result.scene:  # the capture thread numbers scenes (core.video.Frame)
            fade = 1.0 if age <= FRESH_AGE else 1.0 - (1.0 - FADED) * (age - FRESH_AGE) / (MAX_AGE - FRESH_AGE)
            prepared = self._prepared
            if prepared is not None and prepared.frame is frame and prepared.result is self._raw_result:
                stale = prepared.stale  # checked on the capture thread, against this very result
            else:
                stale = stale_boxes(result, frame)  # refusals keep every face's box
            if stale is not None:  # (None: not comparable, which the conditions above already rule out)
                faces = [(f, fade) for f, gone in zip(result.faces, stale, strict=True) if not gone]
        self._visible = (*key, faces)
        return faces

    def on_screen(self) -> tuple[list[LiveFace], FrameResult | None]:
        """The faces the user sees, and the result they belong to: those of the last paint while its frame is still
        the one shown (a result that came in since is not on screen until the next paint, and a click or key acts
        on what is), else those the next paint will draw."""
        if self.frame is not None and self.drawn[0] == self.frame.index:
            return self.drawn[1], self.drawn_result
        return [f for f, _ in self.visible_faces()], self.result

    def face_at(self, point: QPointF) -> LiveFace | None:
        """The drawn face whose box contains `point` (the smallest when boxes overlap)."""
        hits = [f for f in self.on_screen()[0] if self.box_rect(f).contains(point)]
        return min(hits, key=lambda f: f.detection.area, default=None)

    def selected_face(self) -> LiveFace | None:
        """The face the arrow keys picked, else the largest drawn one."""
        drawn = self.on_screen()[0]
        chosen = [f for f in drawn if f.track_id == self.selected_track]
        return chosen[0] if chosen else max(drawn, key=lambda f: f.detection.area, default=None)

    def enroll_selected(self) -> bool:
        """Emit face_clicked for the selected face (the keyboard's click); False when no face is drawn."""
        face = self.selected_face()
        if face is not None:
            self.face_clicked.emit(face, self.on_screen()[1])
        return face is not None

    def face_menu(self, face: LiveFace) -> QMenu:
        """The menu of one face: "Not <name>" on a named face (records it as a correction), and Enroll."""
        menu = QMenu(self)
        result = self.on_screen()[1]
        if face.name is not None and face.accepted(self.rule):
            action = menu.addAction(f"Not {face.name}")
            action.setToolTip(f"Remember that this face is not {face.name}")
            action.triggered.connect(lambda: self._on_not_person(face, result))
        menu.addAction("Enroll this face...").triggered.connect(lambda: self.face_clicked.emit(face, result))
        return menu

    def _on_not_person(self, face: LiveFace, result: FrameResult | None) -> None:
        if result is None:
            return
        self.refuse(face)
        self.not_person.emit(face, result)

    def open_face_menu(self, face: LiveFace | None, at: QPoint) -> bool:
        """Show `face`'s menu at `at` (widget coordinates) until the user picks or dismisses; False without a face."""
        if face is None:
            return False
        self.menu = self.face_menu(face)
        try:
            self.menu.exec(self.mapToGlobal(at))
        finally:
            self.menu.deleteLater()
            self.menu = None
        return True

    # -- events -------------------------------------------------------------------------------------------------
    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """Right click on a face (or the menu key: the selected face): its menu, with "Not <name>"."""
        keyboard = event.reason() == QContextMenuEvent.Reason.Keyboard
        face = self.selected_face() if keyboard else self.face_at(QPointF(event.pos()))
        at = self.box_rect(face).center().toPoint() if keyboard and face is not None else event.pos()
        if not self.open_face_menu(face, at):
            super().contextMenuEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Left/Right (or Up/Down) pick the next face in view from left to right; Enter or Space enrolls it; the
        menu key or Shift+F10 opens the selected face's menu ("Not <name>")."""
        key = Qt.Key(event.key())
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.enroll_selected()
            return
        shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if key == Qt.Key.Key_Menu or (key == Qt.Key.Key_F10 and shift):
            face = self.selected_face()
            if face is not None:
                self.open_face_menu(face, self.box_rect(face).center().toPoint())
            return
        steps = {Qt.Key.Key_Right: 1, Qt.Key.Key_Down: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_Up: -1}
        if key not in steps:
            super().keyPressEvent(event)
            return
        faces = sorted(self.on_screen()[0], key=lambda f: self.box_rect(f).left())
        if faces:
            current = self.selected_face()
            at = faces.index(current) if current in faces else -1
            self.selected_track = faces[(at + steps[key]) % len(faces)].track_id
            self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """A left click on a face box emits face_clicked."""
        face = self.face_at(event.position()) if event.button() == Qt.MouseButton.LeftButton else None
        if face is not None:
            self.face_clicked.emit(face, self.on_screen()[1])
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """A pointing hand over a face, to say it can be clicked."""
        over = self.face_at(event.position()) is not None
        self.setCursor(Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Frame, then each face's box and label."""
        painter = QPainter(self)
        blitted = False
        try:
            if self._image is None:
                painter.fillRect(self.rect(), BACKGROUND)
                painter.setPen(QColor(200, 200, 200))
                flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
                painter.drawText(self.rect(), flags, self.placeholder)
                return
            target = self.image_rect()
            inner = target.toRect()
            for margin in (  # the bars beside the frame (the paint covers every pixel: WA_OpaquePaintEvent)
                QRect(0, 0, self.width(), inner.top()),
                QRect(0, inner.bottom() + 1, self.width(), self.height() - inner.bottom() - 1),
                QRect(0, inner.top(), inner.left(), inner.height()),
                QRect(inner.right() + 1, inner.top(), self.width() - inner.right() - 1, inner.height()),
            ):
                if not margin.isEmpty():
                    painter.fillRect(margin, BACKGROUND)
            prepared = self._prepared
            if prepared is not None and QRect(*prepared.rect) == target.toRect():
                painter.drawImage(target.topLeft(), self._image)  # prepared at this size: pixels copied, no scaling
                blitted = True
            else:
                image = self._image  # a prepared one is mirrored already
                if prepared is None and self.mirror:
                    image = image.flipped(Qt.Orientation.Horizontal)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(target, image)
            self._draw_faces(painter)
            if self.hasFocus():  # the focus ring: the keyboard is here
                painter.setOpacity(1.0)
                painter.setPen(QPen(self.palette().highlight().color(), 3))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5))
        finally:
            painter.end()  # also when drawing raised: an open painter breaks every later paint of the window
        if self.frame is not None and self.frame.index != self.last_painted_index:
            self.painted += 1
            self.prepared_paints += blitted
            self.last_painted_index = self.frame.index

    def _draw_faces(self, painter: QPainter) -> None:
        visible = self.visible_faces()
        self.drawn = (self.frame.index if self.frame is not None else -1, [f for f, _ in visible])
        self.drawn_result = self.result
        if not visible:
            return
        font = QFont(self.font())
        font.setPointSizeF(max(9.0, min(14.0, self.width() / 60)))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for face, opacity in visible:
            painter.setOpacity(opacity * (UNDECIDED_OPACITY if face.certainty == "undecided" else 1.0))
            rect = self.box_rect(face)
            text, colour = self.labeler(face)
            painter.setPen(QPen(colour, 2.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
            tw, th = metrics.horizontalAdvance(text) + 10, metrics.height() + 4
            top = rect.top() - th if rect.top() - th >= 0 else rect.bottom()
            left = max(0.0, min(rect.left(), self.width() - tw))  # keep the label inside the view
            label = QRectF(left, top, tw, th)
            painter.fillRect(label, colour)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(label, Qt.AlignmentFlag.AlignCenter, text)
            if self.hasFocus() and face is self.selected_face():
                painter.setPen(QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine))
                painter.drawRect(rect.adjusted(-4, -4, 4, 4))

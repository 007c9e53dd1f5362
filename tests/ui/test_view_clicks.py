"""A click on a box acts on what is on the screen: the boxes of the last paint, not a result that came in since and
is not painted yet (issue 16: every click on a drawn box opens the enroll dialog)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.types import Detection
from faceapp.core.video import Frame
from faceapp.ui.video_view import VideoView


def result_with_box(index: int, image: np.ndarray, box: tuple[float, float, float, float]) -> FrameResult:
    face = LiveFace(7, Detection(box, 0.99, np.zeros((5, 2))), None, None, float("inf"))
    return FrameResult(index, index / 30, (face,), {}, "test", image=image)


def test_a_click_on_a_painted_box_finds_its_face_after_a_newer_result_came_in(qtbot: QtBot) -> None:
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(20)  # the first show settles before the synchronous repaints below
    image = np.full((480, 640, 3), 90, np.uint8)
    clicked: list[tuple[LiveFace, FrameResult]] = []
    view.face_clicked.connect(lambda face, result: clicked.append((face, result)))

    shown = result_with_box(10, image, (100, 100, 200, 220))
    view.show_result(shown)
    view.show_frame(Frame(10, 10 / 30, image))  # painted at once: this box is on the screen
    assert [f.detection.box for f in view.drawn[1]] == [(100, 100, 200, 220)]
    centre = view.box_rect(shown.faces[0]).center()

    # The face moved; its new result reached the view, which draws it with the next frame only.
    view.show_result(result_with_box(10, image, (400, 100, 500, 220)))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(int(centre.x()), int(centre.y())))

    assert len(clicked) == 1, "the click on the box on the screen found no face"
    face, result = clicked[0]
    assert face.detection.box == (100, 100, 200, 220)  # the face the user saw...
    assert result is shown  # ...and the frame it is from

    view.show_frame(Frame(11, 11 / 30, image))  # the next paint draws the new box, and clicks follow it
    assert view.face_at(centre) is None
    assert view.face_at(view.box_rect(view.drawn[1][0]).center()) is view.drawn[1][0]


def test_enter_and_the_face_menu_act_on_the_painted_face_and_a_cleared_result_leaves_nothing_to_click(
    qtbot: QtBot,
) -> None:
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(20)
    image = np.full((480, 640, 3), 90, np.uint8)
    clicked: list[tuple[LiveFace, FrameResult]] = []
    view.face_clicked.connect(lambda face, result: clicked.append((face, result)))
    shown = result_with_box(10, image, (100, 100, 200, 220))
    view.show_result(shown)
    view.show_frame(Frame(10, 10 / 30, image))
    centre = view.box_rect(shown.faces[0]).center()
    view.show_result(result_with_box(10, image, (400, 100, 500, 220)))  # not painted yet

    qtbot.keyClick(view, Qt.Key.Key_Return)  # Enter enrolls the selected face: the one on the screen
    assert [(f.detection.box, r) for f, r in clicked] == [((100, 100, 200, 220), shown)]
    menu = view.face_menu(view.on_screen()[0][0])
    menu.actions()[-1].trigger()  # "Enroll this face..." from the face's menu
    assert clicked[-1][1] is shown
    menu.deleteLater()

    view.show_result(None)  # a gallery switch: the old gallery's faces are not clickable, even before a repaint
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(int(centre.x()), int(centre.y())))
    assert len(clicked) == 2
    assert view.on_screen() == ([], None)

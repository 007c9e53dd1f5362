"""The capture thread readies each frame for the view (ui.display): the frame scaled and mirrored to the view's size,
and the stale-box check against the newest result. The view paints such a frame by copying its pixels, draws what
the prepared check says, and does the work itself whenever the prepared frame is not for what it shows."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.types import Detection
from faceapp.core.video import Frame
from faceapp.ui import display, video_view
from faceapp.ui.display import DisplayPrep, placement
from faceapp.ui.session import LiveSession
from faceapp.ui.video_view import VideoView


def textured(seed: int, h: int = 240, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def result_for(index: int, image: np.ndarray, *boxes: tuple[float, float, float, float]) -> FrameResult:
    faces = tuple(
        LiveFace(i, Detection(box, 0.99, np.zeros((5, 2))), None, None, float("inf")) for i, box in enumerate(boxes)
    )
    return FrameResult(index, index / 30, faces, {}, "test", image=image)


def pixels(image: QImage) -> np.ndarray:
    """RGB array of a QImage."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = rgb.height(), rgb.width()
    rows = np.frombuffer(rgb.constBits(), np.uint8, h * rgb.bytesPerLine()).reshape(h, -1)
    return rows[:, : 3 * w].reshape(h, w, 3).copy()  # a copy: the converted image goes when this returns


@pytest.mark.parametrize(("frame_size", "view", "expected"), [
    ((640, 480), (960, 564), (104, 0, 752, 564)),  # taller than wide: bars left and right
    ((512, 512), (400, 300), (50, 0, 300, 300)),
    ((640, 360), (640, 480), (0, 60, 640, 360)),  # bars above and below
])  # fmt: skip
def test_placement_fits_the_frame_in_whole_pixels_centred(
    frame_size: tuple[int, int], view: tuple[int, int], expected: tuple[int, int, int, int]
) -> None:
    assert placement(*frame_size, *view) == expected


@pytest.mark.parametrize("mirror", [False, True])
def test_a_prepared_frame_is_the_frame_scaled_and_mirrored_for_the_view(mirror: bool) -> None:
    prep = DisplayPrep()
    prep.set_target(400, 300, mirror)
    image = textured(1)
    frame = Frame(3, 0.1, image)
    prep.prepare(frame)
    prepared = prep.take(frame)
    assert prepared is not None
    assert prepared.rect == (0, 0, 400, 300)
    expected = cv2.resize(image, (400, 300), interpolation=cv2.INTER_LINEAR)
    expected = cv2.flip(expected, 1) if mirror else expected
    assert np.array_equal(pixels(prepared.image), expected)
    assert prep.take(frame) is None, "a prepared frame is handed out once"


def test_take_gives_only_the_frame_it_was_prepared_for() -> None:
    prep = DisplayPrep()
    prep.set_target(320, 240, False)
    old = Frame(5, 0.0, textured(1))
    prep.prepare(old)
    assert prep.take(Frame(5, 0.0, textured(2))) is None  # same number, another frame (a new source)
    prep.prepare(Frame(6, 0.1, textured(3)))
    prep.prepare(later := Frame(7, 0.2, textured(4)))
    assert prep.take(later) is not None
    assert not prep._ready, "older frames are dropped once a newer one is shown"


def test_the_prepared_check_finds_the_box_a_face_left_as_the_view_would() -> None:
    before, after = textured(1), textured(1)
    after[40:140, 40:140] = textured(9)[40:140, 40:140]  # the first box's content changed; the second did not
    result = result_for(1, before, (50, 50, 130, 130), (200, 60, 280, 140))
    prep = DisplayPrep()
    prep.set_target(320, 240, False)
    prep.note_result(result)
    frame = Frame(2, 2 / 30, after)
    prep.prepare(frame)
    prepared = prep.take(frame)
    assert prepared is not None
    assert prepared.result is result
    assert prepared.stale == (True, False)
    assert display.stale_boxes(result, Frame(1, 1 / 30, before)) is None  # the result's own frame: nothing to check


def shown_view(qtbot: QtBot, width: int = 480, height: int = 360) -> VideoView:
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(20)
    return view


def test_the_view_paints_a_prepared_frame_by_copying_it_and_looks_the_same(qtbot: QtBot) -> None:
    view = shown_view(qtbot)
    image = textured(2, h=180)  # wider than the view: bars above and below
    view.show_frame(Frame(1, 0.0, image))  # not prepared: converted and scaled in the paint
    assert view.prepared_paints == 0
    unprepared = pixels(view.grab().toImage())

    frame = Frame(2, 1 / 30, image)
    view.prep.prepare(frame)
    view.show_frame(frame)
    assert view.prepared_paints == 1
    prepared = pixels(view.grab().toImage())
    assert prepared.shape == unprepared.shape
    # The same picture: OpenCV's bilinear scaling against Qt's smooth transform differ by a grey level or two.
    assert np.abs(prepared.astype(int) - unprepared.astype(int)).mean() < 3.0
    inside = prepared[5:-5, 5:-5]  # inside the focus ring
    assert (inside[:40] == (24, 24, 28)).all(), "the bars beside the frame are painted"
    assert (inside[-40:] == (24, 24, 28)).all()
    assert not (inside[40:-40] == (24, 24, 28)).all(axis=2).all(axis=1).any(), "the frame fills the rest"


def test_a_frame_prepared_for_another_size_or_mirroring_is_not_used(qtbot: QtBot) -> None:
    view = shown_view(qtbot)
    frame = Frame(1, 0.0, textured(2))
    view.prep.prepare(frame)
    view.resize(300, 300)  # the view changed size after the frame was readied
    view.show_frame(frame)
    assert view.prepared_paints == 0
    view.mirror = True
    prepared = Frame(2, 0.1, textured(2))
    view.prep.prepare(prepared)
    view.show_frame(prepared)
    assert view.prepared_paints == 1
    view.prep.prepare(stale := Frame(3, 0.2, textured(2)))
    view.mirror = False
    view.show_frame(stale)
    assert view.prepared_paints == 1


def test_the_view_draws_what_the_prepared_check_says_and_checks_itself_otherwise(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked_here: list[str] = []
    real = video_view.stale_boxes

    def spy(result: FrameResult, frame: Frame) -> tuple[bool, ...] | None:
        checked_here.append(threading.current_thread().name)
        return real(result, frame)

    monkeypatch.setattr(video_view, "stale_boxes", spy)
    view = shown_view(qtbot)
    before, after = textured(1), textured(1)
    after[40:140, 40:140] = textured(9)[40:140, 40:140]
    result = result_for(1, before, (50, 50, 130, 130), (200, 60, 280, 140))
    view.prep.note_result(result)
    view.show_result(result)
    frame = Frame(2, 2 / 30, after)
    view.prep.prepare(frame)
    view.show_frame(frame)
    assert [f.track_id for f in view.drawn[1]] == [1], "the box whose face left is not drawn"
    assert checked_here == [], "the prepared check was used: no pixels compared on the GUI thread"

    newer = result_for(1, before, (50, 50, 130, 130), (200, 60, 280, 140))  # came in after the frame was readied
    view.show_result(newer)
    view.prep.prepare(frame3 := Frame(3, 3 / 30, after))
    view.show_frame(frame3)
    assert [f.track_id for f in view.drawn[1]] == [1]
    assert checked_here == ["MainThread"], "a result the frame was not readied against is checked in the paint"


def test_the_session_readies_each_frame_on_the_capture_thread_before_posting_it() -> None:
    order: list[tuple[str, object, str]] = []

    class Bridge:
        def post_frame(self, frame: Frame) -> None:
            order.append(("post_frame", frame.index, threading.current_thread().name))

        def post_result(self, result: FrameResult) -> None:
            order.append(("post_result", result.frame_index, threading.current_thread().name))

    class Prep(DisplayPrep):
        def prepare(self, frame: Frame) -> None:
            order.append(("prepare", frame.index, threading.current_thread().name))

        def note_result(self, result: FrameResult | None) -> None:
            order.append(("note_result", result.frame_index if result else None, threading.current_thread().name))

    session = LiveSession(Bridge(), Prep())  # type: ignore[arg-type]
    worker = threading.Thread(target=lambda: session._on_frame(Frame(4, 0.0, textured(1)), 0), name="capture")
    worker.start()
    worker.join()
    session._on_result(result_for(4, textured(1)), 0)
    assert order == [
        ("prepare", 4, "capture"),
        ("post_frame", 4, "capture"),
        ("note_result", 4, "MainThread"),
        ("post_result", 4, "MainThread"),
    ]


def test_a_failing_prep_leaves_the_capture_running_and_the_view_converting_frames(
    caplog: pytest.LogCaptureFixture,
) -> None:
    posted: list[int] = []

    class Bridge:
        def post_frame(self, frame: Frame) -> None:
            posted.append(frame.index)

    class Broken(DisplayPrep):
        calls = 0

        def prepare(self, frame: Frame) -> None:
            Broken.calls += 1
            raise cv2.error("bad frame")

    session = LiveSession(Bridge(), Broken())  # type: ignore[arg-type]
    session._on_frame(Frame(1, 0.0, textured(1)), 0)
    session._on_frame(Frame(2, 0.1, textured(1)), 0)
    assert posted == [1, 2]
    assert Broken.calls == 1, "tried once, then left to the view"
    assert "preparing frames for the view failed" in caplog.text

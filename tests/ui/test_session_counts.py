"""The live rates count frames: a frame the staged pipeline reports again (core.pipeline, timings "again") is passed
on to the view but counted neither in the session's tally nor in the status bar's recognition rate."""

from __future__ import annotations

from faceapp.core.live import FrameResult
from faceapp.ui.bridge import PipelineBridge
from faceapp.ui.session import LiveSession


def result(index: int, again: bool = False) -> FrameResult:
    return FrameResult(index, 0.0, (), {"again": 1.0} if again else {}, "m")


def test_a_frame_reported_again_is_shown_but_not_counted(qapp: object) -> None:
    bridge = PipelineBridge()
    passed: list[FrameResult] = []
    bridge.post_result = passed.append  # type: ignore[method-assign]
    session = LiveSession(bridge)
    for r in (result(0), result(0, again=True), result(1), result(1, again=True), result(2)):
        session._on_result(r, session._generation)
    assert session.recognized == 3
    assert len(passed) == 5  # the view still gets the names the repeats carry


def test_the_status_bar_ticks_once_a_frame(qapp: object) -> None:
    from faceapp.ui.main_window import MainWindow

    ticks: list[int] = []

    from types import SimpleNamespace

    window = SimpleNamespace(
        status=SimpleNamespace(recognition=SimpleNamespace(tick=lambda: ticks.append(1))),
        recent_results=[],
        view=SimpleNamespace(show_result=lambda r: None),
        verify=SimpleNamespace(update_verdict=lambda r: None),
    )
    for r in (result(0), result(0, again=True), result(1)):
        MainWindow._on_result_ready(window, r)  # type: ignore[arg-type]
    assert len(ticks) == 2

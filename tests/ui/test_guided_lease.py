"""The shared analyzer serves one thread at a time, also across two guided captures and a pause that comes late
(review findings of the guided hand-over: a second capture entered while the first was still inside; the staged
pipeline could acknowledge a pause that arrived between its check and its hold, with a stage still busy)."""

from __future__ import annotations

import time
from typing import Any

from faceapp.core.guided import GuidedCapture, GuidedWorker
from faceapp.core.live import RecognitionWorker
from faceapp.core.pipeline import PipelineWorker
from faceapp.core.video import Frame, PauseGate
from faceapp.ui.flows import GuidedRun
from faceapp.ui.session import LiveSession
from tests.core.test_handover import FACE, IMAGE, live_worker, until
from tests.fakes import detection
from tests.spies import OneAtATime


class Bridge:
    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def test_a_second_capture_waits_for_the_first_to_leave_the_analyzer() -> None:
    guard = OneAtATime()
    session = LiveSession(Bridge())  # type: ignore[arg-type]
    live = live_worker(RecognitionWorker, guard)
    analyzer = live._state.analyzer
    session.worker = live
    live.start()
    first = second = None
    try:
        mb1 = session.tap()
        guard.block = True  # the first capture's analysis is slow: it stays inside
        first = GuidedWorker(
            mb1,
            analyzer,
            GuidedCapture(0.2, timeout_s=60),
            lambda u: None,
            seed=(IMAGE, detection(*FACE)),
            ready=lambda t: session.wait_paused(t, mb1),
        )
        first.start()
        assert until(lambda: guard.holder() == ["faceapp-guided"])
        GuidedRun(session, first, mb1).stop()  # its dialog closed; the worker is still inside the analyzer
        guard.block = False
        mb2 = session.tap()  # the next dialog, at once
        second = GuidedWorker(
            mb2,
            analyzer,
            GuidedCapture(0.2, timeout_s=60),
            lambda u: None,
            seed=(IMAGE, detection(*FACE)),
            ready=lambda t: session.wait_paused(t, mb2),
        )
        second.start()
        time.sleep(0.5)
        assert guard.overlaps == []
        guard.release.set()  # the first leaves; the second may go in now
        assert until(lambda: not first.is_alive())
    finally:
        guard.release.set()
        for w in (first, second):
            if w is not None:
                w.stop()
                w.join(2)
        live.stop()
        live.join(2)
    assert guard.overlaps == []


class LateGate(PauseGate):
    """A pause that arrives right after the pipeline's `requested` check at the top of its loop."""

    def __init__(self) -> None:
        super().__init__()
        self.arm = False

    @property  # type: ignore[override]
    def requested(self) -> bool:
        asked = self._pauses > 0
        if not asked and self.arm:
            self.arm = False
            self.pause()  # the GUI thread's tap() lands here
        return asked


def test_the_pipeline_acknowledges_a_late_pause_only_with_its_stages_idle() -> None:
    guard = OneAtATime()
    worker = live_worker(PipelineWorker, guard)
    gate = LateGate()
    worker.gate = gate
    worker.start()
    try:
        time.sleep(0.2)
        guard.block = True
        worker.mailbox.put(Frame(0, 0.0, IMAGE))
        assert until(lambda: bool(guard.holder()))  # a stage is inside the analyzer
        gate.arm = True
        acknowledged = gate.wait_paused(1.0, worker.is_alive)
        assert not (acknowledged and guard.holder()), "acknowledged while a stage is in the analyzer"
    finally:
        guard.release.set()
        worker.stop()
        worker.join(2)

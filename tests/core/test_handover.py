"""Lending the shared analyzer between two workers (core.video.PauseGate): the live worker acknowledges a pause only
once it has finished its frame in hand and left the analyzer (both stages, in the staged pipeline), takes no frame
while paused and goes on when resumed; the guided worker touches the analyzer only once the live worker is held."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.guided import GuidedCapture, GuidedUpdate, GuidedWorker
from faceapp.core.live import RecognitionWorker
from faceapp.core.matching import GallerySnapshot
from faceapp.core.pipeline import PipelineWorker
from faceapp.core.types import Detection
from faceapp.core.video import Frame, LatestFrameMailbox, PauseGate
from tests.fakes import FakeDetector, FakeEmbedder, detection
from tests.spies import OneAtATime

FACE = (20.0, 20.0, 84.0, 84.0)
IMAGE = np.random.default_rng(5).integers(0, 255, (128, 128, 3), dtype=np.uint8)


class GuardedDetector(FakeDetector):
    """Finds FACE, inside the guard."""

    def __init__(self, guard: OneAtATime) -> None:
        super().__init__([detection(*FACE)])
        self.guard = guard

    def detect(self, image: np.ndarray) -> list[Detection]:
        with self.guard.use():
            return super().detect(image)


class GuardedEmbedder(FakeEmbedder):
    """The fake embedder, inside the guard."""

    def __init__(self, guard: OneAtATime) -> None:
        super().__init__()
        self.guard = guard

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        with self.guard.use():
            return super().embed_chips(chips)


def until(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def never(timeout: float) -> bool:
    """A `ready` that waits its timeout and says no: the live worker never lets go."""
    time.sleep(timeout)
    return False


def live_worker(kind: type, guard: OneAtATime) -> Any:
    analyzer = FaceAnalyzer(GuardedDetector(guard), GuardedEmbedder(guard))  # type: ignore[arg-type]
    results: list[Any] = []
    return kind(LatestFrameMailbox(), analyzer, GallerySnapshot.empty("fake", 16), results.append)


@pytest.mark.parametrize("kind", [RecognitionWorker, PipelineWorker])
def test_a_pause_is_acknowledged_once_the_frame_in_hand_has_left_the_analyzer(kind: type) -> None:
    guard = OneAtATime()
    worker = live_worker(kind, guard)
    guard.block = True  # whoever enters the analyzer stays there until released
    worker.start()
    try:
        worker.mailbox.put(Frame(0, 0.0, IMAGE))
        assert until(lambda: bool(guard.holder())), "the worker never reached the analyzer"
        worker.gate.pause()
        assert not worker.gate.wait_paused(0.3, worker.is_alive)  # still inside with its frame
        guard.block = False
        guard.release.set()
        assert worker.gate.wait_paused(3.0, worker.is_alive)
        assert guard.holder() == []  # acknowledged outside the analyzer (and, staged, with both stages idle)
        entered = len(guard.entries)
        for i in range(1, 6):
            worker.mailbox.put(Frame(i, 0.0, IMAGE))
            time.sleep(0.05)
        assert len(guard.entries) == entered  # held: no frame taken
        worker.gate.resume()
        worker.mailbox.put(Frame(9, 0.0, IMAGE))
        assert until(lambda: len(guard.entries) > entered), "the worker did not go on after resume"
    finally:
        guard.release.set()
        worker.stop()
        worker.join(2.0)
    assert not worker.is_alive()
    assert guard.overlaps == []


def test_a_pause_of_a_worker_that_is_not_running_holds_nothing() -> None:
    gate = PauseGate()
    gate.pause()
    assert gate.wait_paused(0.1, lambda: False)
    assert not gate.wait_paused(0.1, lambda: True)  # running and never held: not paused
    gate.resume()
    assert not gate.requested


def test_the_guided_worker_waits_for_ready_before_the_analyzer_and_starts_its_clock_then() -> None:
    guard = OneAtATime()
    analyzer = FaceAnalyzer(GuardedDetector(guard), GuardedEmbedder(guard))  # type: ignore[arg-type]
    ready = threading.Event()
    asked: list[float] = []

    def is_ready(timeout: float) -> bool:
        asked.append(timeout)
        return ready.wait(timeout)

    updates: list[GuidedUpdate] = []
    mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
    seed = (IMAGE, detection(*FACE))
    worker = GuidedWorker(
        mailbox, analyzer, GuidedCapture(0.2, timeout_s=60), updates.append, seed=seed, ready=is_ready
    )
    worker.start()
    try:
        time.sleep(0.3)
        assert guard.entries == []  # not ready: the seed is not embedded yet
        assert len(asked) >= 2  # asked again and again, with short waits (so a stop is heard)
        ready.set()
        assert until(lambda: bool(updates)), "the worker did not start once ready"
        assert guard.entries == ["faceapp-guided"]
        assert updates[0].state.elapsed < 0.2  # the wait did not eat the capture's time
    finally:
        worker.stop()
        worker.join(2.0)
    assert not worker.is_alive()


def test_a_guided_worker_stopped_while_waiting_never_touches_the_analyzer() -> None:
    guard = OneAtATime()
    analyzer = FaceAnalyzer(GuardedDetector(guard), GuardedEmbedder(guard))  # type: ignore[arg-type]
    errors: list[str] = []
    updates: list[GuidedUpdate] = []
    worker = GuidedWorker(
        LatestFrameMailbox(), analyzer, GuidedCapture(0.2), updates.append, errors.append,
        seed=(IMAGE, detection(*FACE)), ready=never,
    )  # fmt: skip
    worker.start()
    time.sleep(0.15)
    worker.stop()
    worker.join(2.0)
    assert not worker.is_alive()
    assert guard.entries == []
    assert errors == []  # a cancel is not an error
    assert updates[-1].frame is None  # the dialog still hears that the capture ended


def test_a_guided_worker_whose_analyzer_is_never_free_gives_up_with_a_message() -> None:
    guard = OneAtATime()
    analyzer = FaceAnalyzer(GuardedDetector(guard), GuardedEmbedder(guard))  # type: ignore[arg-type]
    errors: list[str] = []
    updates: list[GuidedUpdate] = []
    worker = GuidedWorker(
        LatestFrameMailbox(), analyzer, GuidedCapture(0.2), updates.append, errors.append,
        ready=never, ready_timeout_s=0.3,
    )  # fmt: skip
    worker.start()
    worker.join(3.0)
    assert not worker.is_alive()
    assert guard.entries == []
    assert len(errors) == 1
    assert "live recognition did not pause" in errors[0]
    assert "\n" not in errors[0]
    assert updates[-1].frame is None

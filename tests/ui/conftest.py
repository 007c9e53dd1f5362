"""UI test helpers: a fake embedder, a slowed-down one, and a factory for main windows on a video file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from faceapp.core import align
from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.distance import normalize
from faceapp.core.embedders.base import MODELS, Embedder
from faceapp.core.types import Detection
from faceapp.engine import Engine
from faceapp.settings import Settings
from faceapp.storage.repository import GalleryRepository
from faceapp.ui.main_window import MainWindow


class FakeEmbedder(Embedder):
    """A stand-in for the dlib model: the aligned chip's 8x16 grey pixels, unit length. Fast and deterministic."""

    info = MODELS["dlib-resnet"]
    chip_size = 150

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """dlib's chip geometry."""
        return align.dlib_chip(image, detection)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """128 grey levels per chip, optionally after a sleep that stands for a slow model."""
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        small = [cv2.resize(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY), (8, 16)).reshape(-1) for c in chips]
        return normalize(np.asarray(small, np.float32) - 100.0)


@pytest.fixture
def hamilton(shared_data: Path) -> Path:
    """The Hamilton clip used as a camera."""
    return shared_data / "video" / "short_hamilton_clip.mp4"


@pytest.fixture
def examples(shared_data: Path) -> Path:
    """face_recognition's example photos."""
    return shared_data / "photos" / "face_recognition_examples"


@pytest.fixture(scope="session")
def live_detector() -> Detector:
    """MTCNN on half-size frames, as the app uses it live (loaded once)."""
    return Detector(DetectorConfig(min_face_size=40, scale=0.5))


WindowFactory = Callable[..., MainWindow]


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path, detector: Detector, live_detector: Detector) -> Iterator[WindowFactory]:
    """Build, show and start a main window on a video file with a given embedder; closed after the test."""
    windows: list[MainWindow] = []
    engines: list[Engine] = []

    def build(source: Path | str, embedder: Embedder, start: bool = True, **settings: object) -> MainWindow:
        repo = GalleryRepository(tmp_path / f"gallery{len(engines)}.sqlite3")
        engine = Engine(repo, "dlib-resnet", detector=detector, embedder_factory=lambda name: embedder)
        engines.append(engine)
        window = MainWindow(
            engine,
            Settings(source=str(source), mirror_view=False, **settings),  # type: ignore[arg-type]
            live_detector=live_detector,
            persist_settings=False,
        )
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        if start:
            window.start()
        return window

    yield build
    for window in windows:
        window.close()
    for engine in engines:
        engine.close()


# Frames 95-190 of the Hamilton clip hold one face (Lin-Manuel Miranda) steadily in view.
STEADY_FACE = (95, 190)


def wait_for_faces(
    qtbot: QtBot, window: MainWindow, frames: tuple[int, int] = (0, 10**9), timeout: int = 15000
) -> None:
    """Until recognition has reported a frame with at least one face (within `frames` of the looping clip)."""

    def ready() -> bool:
        result = window.view.result
        if result is None or not result.faces:
            return False
        return frames[0] <= result.frame_index % 275 <= frames[1]

    qtbot.waitUntil(ready, timeout=timeout)

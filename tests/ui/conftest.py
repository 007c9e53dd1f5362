"""UI test helpers: a factory for main windows on a video file (the Hamilton clip, or a synthetic one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.embedders.base import Embedder
from faceapp.engine import Engine
from faceapp.settings import Settings
from faceapp.ui.main_window import MainWindow
from tests.fakes import synthetic_video
from tests.spies import SpyRepository
from tests.ui.helpers import WindowFactory


@pytest.fixture
def hamilton(shared_data: Path) -> Path:
    """The Hamilton clip used as a camera."""
    return shared_data / "video" / "short_hamilton_clip.mp4"


@pytest.fixture
def examples(shared_data: Path) -> Path:
    """face_recognition's example photos."""
    return shared_data / "photos" / "face_recognition_examples"


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    """A synthetic clip with one textured square (no shared data needed); see helpers.synthetic_detector."""
    return synthetic_video(tmp_path / "synthetic.avi")


@pytest.fixture(scope="session")
def live_detector() -> Detector:
    """MTCNN on half-size frames, as the app uses it live (loaded once)."""
    return Detector(DetectorConfig(min_face_size=40, scale=0.5))


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path, detector: Detector, live_detector: Detector) -> Iterator[WindowFactory]:
    """Build, show and start a main window on a video file with a given embedder; closed after the test."""
    windows: list[MainWindow] = []
    engines: list[Engine] = []

    def build(
        source: Path | str,
        embedder: Embedder,
        start: bool = True,
        live: object = None,
        model: str = "dlib-resnet",
        **settings: object,
    ) -> MainWindow:
        """`live`: the live view's detector (MTCNN at half size unless given); `model`: the new gallery's."""
        repo = SpyRepository(tmp_path / f"gallery{len(engines)}.sqlite3")
        engine = Engine(repo, model, detector=detector, embedder_factory=lambda name: embedder)
        engines.append(engine)
        window = MainWindow(
            engine,
            Settings(**{"source": str(source), "mirror_view": False, **settings}),  # type: ignore[arg-type]
            live_detector=live or live_detector,  # type: ignore[arg-type]
            persist_settings=False,
        )
        window.repo_spy = repo  # type: ignore[attr-defined]
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

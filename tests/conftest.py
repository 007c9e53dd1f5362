"""Test setup: Qt offscreen, and every faceapp directory pointed at a fresh tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's settings, gallery or model folder."""
    home = tmp_path_factory.mktemp("faceapp-home")
    monkeypatch.setenv("FACEAPP_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("FACEAPP_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("FACEAPP_CACHE_DIR", str(home / "cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repo; the test is skipped when it is absent (a user's fresh clone)."""
    if not (SHARED_DATA / "lfw").is_dir():
        pytest.skip(f"shared face data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dlib_embedder():  # type: ignore[no-untyped-def]
    """The real dlib-resnet embedder (weights from face_recognition_models), loaded once per session."""
    from faceapp.core.embedders.registry import create_embedder

    return create_embedder("dlib-resnet")


@pytest.fixture(scope="session")
def detector():  # type: ignore[no-untyped-def]
    """A real MTCNN detector, loaded once per session."""
    from faceapp.core.detect import Detector

    return Detector()

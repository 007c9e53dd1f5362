"""Fixtures for the storage tests: a fresh gallery file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faceapp.storage import GalleryRepository


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where this test's gallery lives (in a folder that does not exist yet)."""
    return tmp_path / "data" / "gallery.sqlite3"


@pytest.fixture
def repo(db_path: Path) -> Iterator[GalleryRepository]:
    """A new, empty gallery, closed after the test."""
    with GalleryRepository(db_path) as repository:
        yield repository

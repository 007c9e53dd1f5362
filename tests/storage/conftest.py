"""Fixtures for the storage tests: a fresh gallery per test, as a SQLite file and on a PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faceapp.storage import GalleryRepository


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where this test's gallery file lives (in a folder that does not exist yet)."""
    return tmp_path / "data" / "gallery.sqlite3"


@pytest.fixture(params=["sqlite", "postgresql"])
def gallery_target(request: pytest.FixtureRequest, db_path: Path) -> Path | str:
    """This test's gallery: a new SQLite file, then a new database on the test's PostgreSQL server."""
    if request.param == "sqlite":
        return db_path
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def repo(gallery_target: Path | str) -> Iterator[GalleryRepository]:
    """A new, empty gallery, closed after the test."""
    with GalleryRepository(gallery_target) as repository:
        yield repository


@pytest.fixture
def sqlite_repo(db_path: Path) -> Iterator[GalleryRepository]:
    """A new gallery file, for tests that open the file with sqlite3 behind the repository's back."""
    with GalleryRepository(db_path) as repository:
        yield repository

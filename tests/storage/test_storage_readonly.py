"""Read-only commands never create a gallery, and a foreign SQLite file is identified before anything is written."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from faceapp.cli import main
from faceapp.errors import DatabaseError
from faceapp.storage import GalleryRepository


@pytest.mark.parametrize(
    "command",
    [
        ["identify", "x.jpg"],
        ["identify", "--json", "x.jpg"],
        ["verify", "x.jpg", "--as", "Ada"],
        ["people", "list"],
        ["people", "remove", "Ada"],
        ["people", "rename", "Ada", "Bob"],
    ],
)
def test_read_only_commands_never_create_a_gallery(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "typo" / "path" / "g.sqlite3"
    assert main(["--db", str(db), *command]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(db) in err
    assert "No gallery at" in err
    assert not (tmp_path / "typo").exists()


def test_comparing_two_photos_needs_no_gallery_and_makes_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "typo" / "g.sqlite3"
    assert main(["--db", str(db), "--model", "dlib-resnet", "verify", "a.jpg", "b.jpg"]) == 2
    assert "a.jpg: no such file" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


def test_read_only_commands_do_not_create_the_default_gallery(capsys: pytest.CaptureFixture[str]) -> None:
    from faceapp import paths

    assert main(["people", "list"]) == 2
    assert str(paths.default_db_path()) in capsys.readouterr().err
    assert not paths.data_dir().exists()  # no gallery, and no folder or log made for it either


def test_the_repository_opens_without_creating_only_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "new" / "g.sqlite3"
    with pytest.raises(DatabaseError, match="No gallery at"):
        GalleryRepository(db, create=False)
    assert not db.parent.exists()
    GalleryRepository(db).close()
    GalleryRepository(db, create=False).close()


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX")
def test_a_fifo_is_not_a_gallery(tmp_path: Path) -> None:
    fifo = tmp_path / "g.sqlite3"
    os.mkfifo(fifo)
    with pytest.raises(DatabaseError, match="not a regular file"):
        GalleryRepository(fifo)


def _foreign(path: Path, with_people: bool) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('owner', 'another app')")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    if with_people:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, nickname TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("with_people", [False, True], ids=["meta-only", "other-people-table"])
def test_a_foreign_file_with_a_schema_version_is_refused_untouched(tmp_path: Path, with_people: bool) -> None:
    path = tmp_path / "other.sqlite3"
    before = _foreign(path, with_people)
    with pytest.raises(DatabaseError, match="not a faceapp gallery") as caught:
        GalleryRepository(path)
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == before  # not switched to WAL (header bytes 18-19), nothing written
    assert not Path(f"{path}-wal").exists()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()


def test_a_real_gallery_still_opens_after_the_stricter_check(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite3"
    GalleryRepository(path).close()
    with GalleryRepository(path, create=False) as repo:
        assert repo.counts() == (0, 0)

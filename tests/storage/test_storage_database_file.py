"""The gallery file: pragmas, schema versions and upgrades, and clear errors for files faceapp cannot use."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Connection, text

from faceapp.errors import DatabaseError
from faceapp.storage import GalleryRepository, migrations, repository
from faceapp.storage.models import Base
from tests.storage.storage_fakes import count_rows, make_sample, unit


def _pragma(repo: GalleryRepository, name: str) -> object:
    with repo._session() as s:
        return s.execute(text(f"PRAGMA {name}")).scalar()


def _stored_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    finally:
        conn.close()


def test_a_new_gallery_is_created_with_its_folders(db_path: Path) -> None:
    assert not db_path.parent.exists()
    with GalleryRepository(db_path) as repo:
        assert repo.path == db_path
        assert repo.counts() == (0, 0)
        assert repo.model is None
    assert _stored_version(db_path) == migrations.latest_version()


def test_every_connection_uses_wal_foreign_keys_and_a_busy_timeout(db_path: Path) -> None:
    with GalleryRepository(db_path, busy_timeout_ms=1234) as repo:
        assert _pragma(repo, "journal_mode") == "wal"
        assert _pragma(repo, "foreign_keys") == 1
        assert _pragma(repo, "busy_timeout") == 1234


def test_the_created_schema_matches_the_models(sqlite_repo: GalleryRepository, db_path: Path) -> None:
    assert sqlite_repo.path == db_path
    conn = sqlite3.connect(db_path)
    try:
        for table in Base.metadata.sorted_tables:
            info = conn.execute(f"PRAGMA table_info({table.name})").fetchall()
            columns = {row[1]: (bool(row[3]) or row[5] > 0, row[5] > 0) for row in info}  # (required, in the key)
            assert columns == {c.name: (not c.nullable, c.primary_key) for c in table.columns}, table.name
            indexes = {row[1] for row in conn.execute(f"PRAGMA index_list({table.name})") if row[3] == "c"}
            assert indexes == {i.name for i in table.indexes}, table.name
        cascades = {row[2]: row[6] for row in conn.execute("PRAGMA foreign_key_list(embeddings)")}
        assert cascades == {"samples": "CASCADE"}
        assert {row[2]: row[6] for row in conn.execute("PRAGMA foreign_key_list(samples)")} == {"people": "CASCADE"}
    finally:
        conn.close()


@pytest.mark.parametrize(
    "content",
    [np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8).tobytes(), b"Dear diary,\nnot a database.\n" * 50],
    ids=["random-bytes", "text-file"],
)
def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(content)
    with pytest.raises(DatabaseError, match="is not a faceapp gallery \\(file is not a database\\)") as caught:
        GalleryRepository(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite3"]


def test_a_damaged_gallery_is_refused_and_left_alone(db_path: Path) -> None:
    with GalleryRepository(db_path) as repo:
        for i in range(5):
            repo.enroll(f"P{i}", [(make_sample(i), unit(i))], "m")
    data = bytearray(db_path.read_bytes())
    data[100:] = np.random.default_rng(1).integers(0, 256, len(data) - 100, dtype=np.uint8).tobytes()
    db_path.write_bytes(bytes(data))
    with pytest.raises(DatabaseError, match="is damaged"):
        GalleryRepository(db_path)
    assert db_path.read_bytes() == bytes(data)


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="not a faceapp gallery"):
        GalleryRepository(path)
    assert path.read_bytes() == before


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="is a folder"):
        GalleryRepository(tmp_path)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may write in: chmod for a normal user, the immutable flag for root (which ignores modes)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", folder], capture_output=True).returncode:
        pytest.skip("running as root without a working chattr: no way to make a folder read-only")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", folder], check=True)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_a_read_only_location_is_refused(read_only_dir: Path) -> None:
    with pytest.raises(DatabaseError, match=r"cannot be opened .*you can write to it"):
        GalleryRepository(read_only_dir / "gallery.sqlite3")
    with pytest.raises(DatabaseError, match="Cannot create the folder"):
        GalleryRepository(read_only_dir / "sub" / "gallery.sqlite3")
    assert list(read_only_dir.iterdir()) == []


def test_a_gallery_from_a_newer_faceapp_is_refused(db_path: Path) -> None:
    with GalleryRepository(db_path) as repo:
        repo.add_person("Future")
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(migrations.latest_version() + 1),))
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(DatabaseError, match="was made by a newer faceapp"):
        GalleryRepository(db_path)
    assert db_path.read_bytes() == before


def _add_nickname_column(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE people ADD COLUMN nickname TEXT NOT NULL DEFAULT ''")


def test_an_older_gallery_is_backed_up_and_upgraded(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with GalleryRepository(db_path) as repo:
        person = repo.enroll("Old Timer", [(make_sample(1), unit(1))], "m")
    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, _add_nickname_column])

    released = migrations.latest_version() - 1  # the version this faceapp writes, before the monkeypatched step
    with GalleryRepository(db_path) as repo:
        assert repo.list_people()[0].id == person.id
        np.testing.assert_array_equal(repo.embeddings_for("m")[2][0], unit(1))
    assert _stored_version(db_path) == released + 1
    conn = sqlite3.connect(db_path)
    assert "nickname" in {row[1] for row in conn.execute("PRAGMA table_info(people)")}
    conn.close()
    backups = sorted(db_path.parent.glob(f"gallery.sqlite3.v{released}-*.bak"))
    assert len(backups) == 1
    assert _stored_version(backups[0]) == released
    assert count_rows(backups[0], "samples") == 1

    with GalleryRepository(db_path):  # already current: no second backup
        pass
    assert len(list(db_path.parent.glob("*.bak"))) == 1


def test_a_failed_upgrade_changes_nothing(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with GalleryRepository(db_path) as repo:
        repo.add_person("Careful")

    def half_step(conn: Connection) -> None:
        _add_nickname_column(conn)
        conn.exec_driver_sql("THIS IS NOT SQL")

    released = migrations.latest_version()
    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, half_step])
    with pytest.raises(DatabaseError):
        GalleryRepository(db_path)
    assert _stored_version(db_path) == released
    conn = sqlite3.connect(db_path)
    assert "nickname" not in {row[1] for row in conn.execute("PRAGMA table_info(people)")}
    conn.close()
    monkeypatch.undo()
    with GalleryRepository(db_path) as repo:
        assert [p.name for p in repo.list_people()] == ["Careful"]


def test_a_first_version_gallery_upgrades_keeping_its_people_and_takes_corrections(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "STEPS", migrations.STEPS[:1])  # a gallery written by the first release,
    # whose code knew no corrections table: a model's width was its samples' alone
    monkeypatch.setattr(repository, "embedding_dim", lambda s, model: None)
    with GalleryRepository(db_path) as repo:
        person = repo.enroll("Old Timer", [(make_sample(1), unit(1))], "m")
    assert _stored_version(db_path) == 1
    monkeypatch.undo()

    with GalleryRepository(db_path) as repo:
        assert [(p.id, p.sample_count) for p in repo.list_people()] == [(person.id, 1)]
        repo.add_negatives(person.id, [(make_sample(2), unit(2))], "m")
        ids, vectors = repo.negative_embeddings_for("m")
        assert ids.tolist() == [person.id]
        np.testing.assert_array_equal(vectors[0], unit(2))
        assert repo.integrity_problems() == []
    assert _stored_version(db_path) == migrations.latest_version()
    assert count_rows(db_path, "negatives") == 1


def test_a_write_while_another_program_holds_the_lock_fails_fast_then_works(db_path: Path) -> None:
    with GalleryRepository(db_path, busy_timeout_ms=200) as repo:
        repo.add_person("Before")
        other = sqlite3.connect(db_path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            other.execute("INSERT INTO meta (key, value) VALUES ('other', 'writer')")
            # Opening and reading still work under WAL while someone else writes.
            with GalleryRepository(db_path, busy_timeout_ms=200) as second:
                assert [p.name for p in second.list_people()] == ["Before"]
            started = time.monotonic()
            with pytest.raises(DatabaseError, match="is locked by another program; close it and try again"):
                repo.add_person("During")
            assert time.monotonic() - started < 3.0
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert repo.add_person("After").name == "After"
        assert [p.name for p in repo.list_people()] == ["After", "Before"]

"""Deleting a person leaves none of their image or embedding bytes in the database files."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceapp.storage.repository import GalleryRepository
from tests.storage.storage_fakes import make_sample, unit


def file_bytes(db: Path) -> bytes:
    """The database file and its WAL, as they are on disk."""
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_removed_people_leave_no_embedding_bytes_behind(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    secret = unit(7, dim=128)
    with GalleryRepository(db) as repo:
        repo.enroll("Keep", [(make_sample(1), unit(1, dim=128))], "m")
        repo.enroll("Forget", [(make_sample(2), secret)], "m")
        assert secret.tobytes() in file_bytes(db)
        repo.remove_person("Forget")
        assert secret.tobytes() not in file_bytes(db)
        removed_sample = unit(3, dim=128)
        person = repo.enroll("Keep", [(make_sample(3), removed_sample)], "m")
        sample_id = max(s.id for s in repo.samples_of(person.id))
        repo.remove_sample(sample_id)
        assert removed_sample.tobytes() not in file_bytes(db)


def test_a_removal_while_another_reader_holds_the_wal_says_so_and_finishes_later(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "g.sqlite3"
    secret = unit(8, dim=128)
    with GalleryRepository(db) as repo:
        repo.enroll("Keep", [(make_sample(1), unit(1, dim=128))], "m")
        repo.enroll("Forget", [(make_sample(2), secret)], "m")
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM people").fetchone()[0] == 2  # an open read snapshot
        repo.remove_person("Forget")
        assert repo.purge_pending  # SQLite answered busy: the removed bytes are still in the -wal file
        assert secret.tobytes() in file_bytes(db)
        repo.remove_sample(max(s.id for s in repo.samples_of(repo.get_person("Keep").id)))  # type: ignore[union-attr]
        assert repo.purge_pending  # still held
        reader.execute("COMMIT")
        reader.close()
        repo.add_person("Later")  # the next write retries the purge, now that nobody reads the old snapshot
        assert not repo.purge_pending
        assert secret.tobytes() not in file_bytes(db)


def test_a_pending_purge_is_retried_on_close(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "g.sqlite3"
    secret = unit(9, dim=128)
    repo = GalleryRepository(db)
    repo.enroll("Forget", [(make_sample(2), secret)], "m")
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM people").fetchone()
    repo.remove_person("Forget")
    assert repo.purge_pending
    reader.execute("COMMIT")
    reader.close()
    repo.close()
    assert secret.tobytes() not in file_bytes(db)


def test_people_remove_tells_about_a_pending_purge_and_upgrade_backups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from faceapp.cli import main

    db = tmp_path / "g.sqlite3"
    with GalleryRepository(db) as repo:
        repo.enroll("Forget", [(make_sample(2), unit(2, dim=128))], "m")
    backup = tmp_path / "g.sqlite3.v1-20260101-000000.bak"
    backup.write_bytes(db.read_bytes())
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM people").fetchone()
    try:
        assert main(["--db", str(db), "people", "remove", "Forget"]) == 0
    finally:
        reader.execute("COMMIT")
        reader.close()
    err = capsys.readouterr().err
    assert f"the removed data is still in {db}-wal" in err
    assert f"{backup} is a copy made before an upgrade" in err

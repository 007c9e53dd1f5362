"""Deleting a person leaves none of their image or embedding bytes in the database files."""

from __future__ import annotations

from pathlib import Path

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

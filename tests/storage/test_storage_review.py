"""The review's candidates in the gallery database: stored, read back, linked, expired and really deleted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Connection, select

from faceapp.core.evidence import TrackSummary
from faceapp.core.review import Candidate, Retention, ReviewStore
from faceapp.storage import GalleryRepository, migrations
from faceapp.storage.candidates import CandidateRepository
from faceapp.storage.models import encode_sample
from tests.storage.storage_fakes import count_rows, make_sample, unit


def candidate(seed: int, last_seen: float = 1000.0, crops: int = 2) -> Candidate:
    return Candidate.of(
        seed,
        "m",
        last_seen - 5,
        last_seen,
        unit(seed, 16),
        [make_sample(10 * seed + i) for i in range(crops)],
        [0.9 - 0.1 * i for i in range(crops)],
    )


def test_candidates_round_trip_with_their_crops(sqlite_repo: GalleryRepository) -> None:
    backend = CandidateRepository(sqlite_repo)
    ids = backend.save_candidates([candidate(1), candidate(2, crops=3)])
    assert backend.count() == (2, 5)
    loaded = backend.load_candidates()
    assert [c.stored_id for c in loaded] == ids
    assert [c.id for c in loaded] == ids
    np.testing.assert_array_equal(loaded[1].embedding, unit(2, 16))
    saved = candidate(2, crops=3)
    assert [k.data for k in loaded[1].crops] == [k.data for k in saved.crops]  # kept as the review holds them
    assert loaded[1].samples[2].image.shape == make_sample(22).image.shape
    np.testing.assert_allclose(loaded[1].samples[2].detection.landmarks, make_sample(22).detection.landmarks)
    assert loaded[1].thumbnail.shape == saved.thumbnail.shape
    assert loaded[1].qualities == pytest.approx((0.9, 0.8, 0.7))
    assert loaded[0].last_seen == 1000.0


def test_deleting_and_expiring_really_remove_rows(sqlite_repo: GalleryRepository, db_path: Path) -> None:
    backend = CandidateRepository(sqlite_repo)
    secrets = (unit(2, 16).astype("<f4").tobytes(), candidate(2, 200.0).crops[0].data[-200:])
    first, _second, third = backend.save_candidates([candidate(1, 100.0), candidate(2, 200.0), candidate(3, 300.0)])
    assert all(secret in _file_bytes(db_path) for secret in secrets)
    assert backend.delete_candidates([first]) == 1
    assert count_rows(db_path, "review_candidates") == 2
    assert count_rows(db_path, "review_crops") == 4  # the crops went with it (ON DELETE CASCADE)
    assert backend.expire_candidates(250.0) == 1
    assert [c.stored_id for c in backend.load_candidates()] == [third]
    assert count_rows(db_path, "review_crops") == 2
    # the embedding and a crop of the expired candidate 2 are not left anywhere in the file or its WAL
    assert not any(secret in _file_bytes(db_path) for secret in secrets)


def _file_bytes(db_path: Path) -> bytes:
    wal = db_path.with_name(db_path.name + "-wal")
    return db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_links_are_stored(sqlite_repo: GalleryRepository) -> None:
    backend = CandidateRepository(sqlite_repo)
    ids = backend.save_candidates([candidate(1), candidate(2)])
    backend.link_candidates(ids, 12345)
    assert [c.link for c in backend.load_candidates()] == [12345, 12345]


def test_candidate_writes_do_not_tell_other_stations_the_gallery_changed(db_path: Path) -> None:
    with GalleryRepository(db_path) as mine, GalleryRepository(db_path) as other:
        assert not other.external_change()
        CandidateRepository(mine).save_candidates([candidate(1)])
        assert not other.external_change()
        mine.add_person("Ada")
        assert other.external_change()


def test_a_store_with_days_retention_persists_across_sessions(db_path: Path) -> None:
    with GalleryRepository(db_path) as repo:
        store = ReviewStore(Retention("days", 3), CandidateRepository(repo))
        store.open()
        store.add_track(track(1, last_seen=2000.0))
        store.add_track(track(2, last_seen=2000.0 + 86400 * 2))
        assert store.flush() == 2
    with GalleryRepository(db_path) as repo:
        reopened = ReviewStore(Retention("days", 3), CandidateRepository(repo))
        assert reopened.open(now=2000.0 + 86400 * 4) == 1  # 4 days old: deleted on open
        assert len(reopened) == 1
        (group,) = reopened.groups()
        assert reopened.forget(group.ids) == 1
        assert CandidateRepository(repo).count() == (0, 0)


def track(seed: int, last_seen: float) -> TrackSummary:
    c = candidate(seed, last_seen)
    return TrackSummary(seed, c.first_seen, c.last_seen, None, "m", c.embedding[None], c.samples[:1], (0.5,))


def _v1_only(conn: Connection) -> None:
    for statement in migrations._V1_DDL:
        conn.exec_driver_sql(statement)


def test_an_older_gallery_gets_the_review_tables(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "STEPS", [_v1_only])
    with GalleryRepository(db_path) as repo:
        repo.add_person("Old")
    monkeypatch.undo()
    with GalleryRepository(db_path) as repo:
        assert CandidateRepository(repo).save_candidates([candidate(1)])
        assert [p.name for p in repo.list_people()] == ["Old"]
    conn = sqlite3.connect(db_path)
    version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    conn.close()
    assert version == migrations.latest_version()


def test_only_the_newest_are_loaded_when_asked(sqlite_repo: GalleryRepository) -> None:
    backend = CandidateRepository(sqlite_repo)
    ids = backend.save_candidates([candidate(1, 300.0), candidate(2, 100.0), candidate(3, 200.0)])
    assert [c.stored_id for c in backend.load_candidates(newest=2)] == [ids[2], ids[0]]  # oldest first
    assert len(backend.load_candidates()) == 3


def test_crops_stored_as_png_by_an_earlier_faceapp_still_load(sqlite_repo: GalleryRepository) -> None:
    from faceapp.storage.models import CandidateCropRow

    backend = CandidateRepository(sqlite_repo)
    (row,) = backend.save_candidates([candidate(1, crops=1)])
    with sqlite_repo._session(write=True, counted=False) as s:
        crop = s.scalars(select(CandidateCropRow)).one()
        crop.image = encode_sample(make_sample(10))["image"]  # what the first review wrote: lossless PNG
    (loaded,) = backend.load_candidates()
    np.testing.assert_array_equal(loaded.samples[0].image, make_sample(10).image)
    assert loaded.stored_id == row


def test_one_damaged_stored_face_is_dropped_and_the_others_load(tmp_path: Path) -> None:
    from faceapp.storage.models import CandidateCropRow
    from tests.core.test_review import summary

    with GalleryRepository(tmp_path / "g.sqlite3") as repo:
        store = ReviewStore(Retention("days", 3), CandidateRepository(repo))
        store.open(now=1000.0)
        store.add_track(summary(1, who=1, seen=1000.0))
        store.add_track(summary(2, who=2, seen=1001.0))
        assert store.flush() == 2
        with repo._session(write=True, counted=False) as s:
            first = s.scalars(select(CandidateCropRow).order_by(CandidateCropRow.id)).first()
            assert first is not None
            first.image = b""  # OpenCV raises on empty bytes rather than answering None
        again = ReviewStore(Retention("days", 3), CandidateRepository(repo))
        again.open(now=1002.0)
        assert len(again) == 1
        assert CandidateRepository(repo).count()[0] == 1  # the damaged one is gone, not kept unreachable


def test_how_many_times_a_face_was_seen_survives_a_restart(repo: GalleryRepository) -> None:
    """Retention "N days": a candidate folded from 4 tracks reads "seen 4 times" after the app starts again."""
    from dataclasses import replace

    backend = CandidateRepository(repo)
    backend.save_candidates([replace(candidate(1), tracks=4), candidate(2)])
    assert sorted(c.tracks for c in CandidateRepository(repo).load_candidates()) == [1, 4]


def test_a_version_3_gallery_gets_the_tracks_column_with_one_each(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "STEPS", migrations.STEPS[:3])
    with GalleryRepository(db_path):  # the version-3 file as the previous release left it
        conn = sqlite3.connect(db_path)
        assert "tracks" not in [r[1] for r in conn.execute("PRAGMA table_info(review_candidates)")]
        conn.close()
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO review_candidates (model, first_seen, last_seen, embedding) VALUES ('m', 1, 2, x'00')")
    conn.commit()
    conn.close()
    monkeypatch.undo()
    with GalleryRepository(db_path):
        pass
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT tracks FROM review_candidates").fetchall() == [(1,)]
    conn.close()

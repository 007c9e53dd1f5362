"""Corrections in the gallery: negatives ("this face is not X") kept per person, per model, deleted with the person."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from faceapp.errors import BadInputError, UnknownPersonError
from faceapp.storage.repository import GalleryRepository, ModelChangedError
from tests.storage.storage_fakes import count_rows, make_sample, unit
from tests.storage.test_storage_privacy import file_bytes


def test_negatives_round_trip_and_are_listed_per_person(repo: GalleryRepository) -> None:
    ada = repo.enroll("Ada", [(make_sample(1), unit(1))], "m")
    bob = repo.enroll("Bob", [(make_sample(2), unit(2))], "m")
    first, second = repo.add_negatives("ada", [(make_sample(3), unit(3)), (make_sample(4), unit(4))], "m")
    repo.add_negatives(bob.id, [(make_sample(5), unit(5))], "m")

    stored = repo.negatives_of(ada.id)
    assert [n.id for n in stored] == [first, second]
    np.testing.assert_array_equal(stored[0].sample.image, make_sample(3).image)
    assert stored[0].sample.detection == make_sample(3).detection
    ids, vectors = repo.negative_embeddings_for("m")
    assert ids.tolist() == [ada.id, ada.id, bob.id]
    np.testing.assert_array_equal(vectors, np.stack([unit(3), unit(4), unit(5)]))
    assert set(repo.negative_embeddings(ada.id, "m")) == {first, second}
    # Negatives are not samples: counts, the matching gallery and thumbnails ignore them.
    assert [p.sample_count for p in repo.list_people()] == [1, 1]
    assert repo.embeddings_for("m")[0].tolist() == [ada.id, bob.id]

    assert repo.remove_negative(first) == ada.id
    assert [n.id for n in repo.negatives_of(ada.id)] == [second]
    with pytest.raises(BadInputError, match="No correction with id"):
        repo.remove_negative(first)


def test_a_negative_needs_a_known_person_and_the_galleries_model(repo: GalleryRepository) -> None:
    repo.enroll("Ada", [(make_sample(1), unit(1))], "m")
    with pytest.raises(UnknownPersonError):
        repo.add_negatives("Nobody", [(make_sample(3), unit(3))], "m")
    with pytest.raises(ModelChangedError):
        repo.add_negatives("Ada", [(make_sample(3), unit(3))], "other")
    with pytest.raises(BadInputError, match="has 16 numbers"):
        repo.add_negatives("Ada", [(make_sample(3), unit(3, dim=16))], "m")
    assert repo.negative_embeddings_for("m")[0].size == 0


def test_removing_a_person_removes_their_negatives_rows(repo: GalleryRepository, gallery_target: Path | str) -> None:
    gone = repo.enroll("Gone", [(make_sample(1), unit(1))], "m")
    kept = repo.enroll("Kept", [(make_sample(2), unit(2))], "m")
    repo.add_negatives(gone.id, [(make_sample(3), unit(3)), (make_sample(4), unit(4))], "m")
    repo.add_negatives(kept.id, [(make_sample(5), unit(5))], "m")
    repo.store_negative_embeddings("other", [(n.id, unit(9, dim=128)) for n in repo.negatives_of(gone.id)])
    assert count_rows(gallery_target, "negatives") == 3
    assert count_rows(gallery_target, "negative_embeddings") == 5

    repo.remove_person("Gone")
    assert count_rows(gallery_target, "negatives") == 1
    assert count_rows(gallery_target, "negative_embeddings") == 1
    assert repo.negative_embeddings_for("m")[0].tolist() == [kept.id]
    assert repo.negatives_of(gone.id) == []


def test_a_model_switch_is_complete_only_once_the_negatives_are_embedded(repo: GalleryRepository) -> None:
    ada = repo.enroll("Ada", [(make_sample(1), unit(1))], "m")
    [negative] = repo.add_negatives(ada.id, [(make_sample(3), unit(3))], "m")
    repo.store_embeddings("new", [(s.id, unit(7, dim=64)) for s in repo.samples_of(ada.id)])
    assert repo.count_negatives_missing("new") == 1
    assert [n.id for n in repo.negatives_missing("new")] == [negative]
    assert not repo.set_model("new", complete=True)  # a correction would be lost under the new model
    assert repo.store_negative_embeddings("new", [(negative, unit(8, dim=64)), (negative + 99, unit(9, dim=64))]) == 1
    assert repo.count_negatives_missing("new") == 0
    assert repo.set_model("new", complete=True)
    assert repo.integrity_problems() == []


def test_a_removed_negative_leaves_no_bytes_behind(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    secret, other = unit(7, dim=128), unit(8, dim=128)
    with GalleryRepository(db) as repo:
        ada = repo.enroll("Ada", [(make_sample(1), unit(1, dim=128))], "m")
        [negative] = repo.add_negatives(ada.id, [(make_sample(2), secret)], "m")
        assert secret.tobytes() in file_bytes(db)
        repo.remove_negative(negative)
        assert secret.tobytes() not in file_bytes(db)
        repo.add_negatives(ada.id, [(make_sample(3), other)], "m")
        repo.remove_person(ada.id)
        assert other.tobytes() not in file_bytes(db)


def test_a_wrong_sample_becomes_a_correction_with_every_models_vector(repo: GalleryRepository) -> None:
    ada = repo.enroll("Ada", [(make_sample(1), unit(1)), (make_sample(2), unit(2))], "m")
    wrong = repo.samples_of(ada.id)[1]
    repo.store_embeddings("other", [(wrong.id, unit(9, dim=128))])

    negative = repo.sample_to_negative(wrong.id)
    assert [s.sample.source for s in repo.samples_of(ada.id)] == [make_sample(1).source]
    [stored] = repo.negatives_of(ada.id)
    assert stored.id == negative
    np.testing.assert_array_equal(stored.sample.image, make_sample(2).image)
    assert stored.sample.detection == make_sample(2).detection
    assert stored.sample.source == make_sample(2).source
    np.testing.assert_array_equal(repo.negative_embeddings(ada.id, "m")[negative], unit(2))
    np.testing.assert_array_equal(repo.negative_embeddings(ada.id, "other")[negative], unit(9, dim=128))
    assert repo.sample_embeddings(ada.id, "other") == {}
    assert repo.list_people()[0].sample_count == 1
    assert repo.integrity_problems() == []
    with pytest.raises(BadInputError, match="No sample with id"):
        repo.sample_to_negative(wrong.id)


def _damage(db: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Write behind the repository's back, foreign keys off (as another program, or a bug, could)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        for sql, values in statements:
            conn.execute(sql, values)
        conn.commit()
    finally:
        conn.close()


def test_the_check_finds_corrections_of_the_wrong_width_not_finite_or_orphaned(
    sqlite_repo: GalleryRepository, db_path: Path
) -> None:
    ada = sqlite_repo.enroll("Ada", [(make_sample(1), unit(1))], "m")
    first, second, third = sqlite_repo.add_negatives(
        ada.id, [(make_sample(2), unit(2)), (make_sample(3), unit(3)), (make_sample(4), unit(4))], "m"
    )
    assert sqlite_repo.integrity_problems() == []
    nan = unit(3).copy()
    nan[7] = np.nan
    update = "UPDATE negative_embeddings SET vector = ? WHERE negative_id = ?"
    _damage(
        db_path,
        (update, (unit(2, dim=16).tobytes(), first)),  # 16 numbers under a 512-number model
        (update, (nan.astype("<f4").tobytes(), second)),
        ("UPDATE negatives SET person_id = 999 WHERE id = ?", (third,)),
        (
            "INSERT INTO negative_embeddings (negative_id, model, vector) VALUES (?, ?, ?)",
            (777, "m", unit(5).tobytes()),
        ),
    )
    problems = sqlite_repo.integrity_problems()
    assert "1 correction(s) belong to nobody" in problems
    assert "1 correction embedding(s) belong to no correction" in problems
    assert "the m correction embeddings have 2 different lengths" in problems
    assert "1 m correction embedding(s) are not 512 numbers long like its samples'" in problems
    assert "1 m correction embedding(s) hold values that are not finite" in problems


def test_corrections_set_the_width_when_they_are_a_models_first_vectors(repo: GalleryRepository) -> None:
    """A person with only corrections (from an archive) can be the first of a model stored: samples must then match
    their width, or the gallery would hold two widths of one model and every match would fail (review finding)."""
    repo.add_negatives("Ada", [(make_sample(1), unit(1, dim=16))], "m", create=True)
    with pytest.raises(BadInputError, match="has 512 numbers"):
        repo.enroll("Ada", [(make_sample(2), unit(2))], "m")
    with pytest.raises(BadInputError, match="has 512 numbers"):
        repo.add_negatives("Bob", [(make_sample(3), unit(3))], "m", create=True)
    repo.enroll("Ada", [(make_sample(2), unit(2, dim=16))], "m")
    assert repo.integrity_problems() == []


def test_the_check_reports_a_correction_vector_stored_as_text(sqlite_repo: GalleryRepository, db_path: Path) -> None:
    ada = sqlite_repo.enroll("Ada", [(make_sample(1), unit(1))], "m")
    (first,) = sqlite_repo.add_negatives(ada.id, [(make_sample(2), unit(2))], "m")
    _damage(db_path, ("UPDATE negative_embeddings SET vector = 'abcdefgh' WHERE negative_id = ?", (first,)))
    assert "1 m correction embedding(s) hold values that are not finite" in sqlite_repo.integrity_problems()

"""GalleryRepository: people, samples and embeddings round-trip, cascade, and stay all-or-nothing."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from faceapp.core.types import Person
from faceapp.errors import BadInputError, DatabaseError, UnknownPersonError
from faceapp.storage import GalleryRepository, repository
from tests.storage.storage_fakes import count_rows, make_sample, unit


def test_enroll_round_trips_images_detections_and_vectors(repo: GalleryRepository) -> None:
    samples = [make_sample(1), make_sample(2, height=60, width=33)]
    vectors = [unit(1), unit(2)]
    person = repo.enroll("Ada Lovelace", list(zip(samples, vectors, strict=True)), "facenet-vggface2")

    assert person == Person(person.id, "Ada Lovelace", 2)
    assert repo.model == "facenet-vggface2"  # the first enrollment sets the gallery's model
    ids, names, embeddings = repo.embeddings_for("facenet-vggface2")
    assert ids.dtype == np.int64
    assert ids.tolist() == [person.id, person.id]
    assert names == {person.id: "Ada Lovelace"}
    assert embeddings.dtype == np.float32
    assert embeddings.shape == (2, 512)
    np.testing.assert_array_equal(embeddings, np.stack(vectors))

    stored = repo.samples_of(person.id)
    assert [s.person_id for s in stored] == [person.id, person.id]
    for kept, original in zip(stored, samples, strict=True):
        assert kept.sample.image.dtype == np.uint8
        np.testing.assert_array_equal(kept.sample.image, original.image)  # PNG is lossless and RGB stays RGB
        assert kept.sample.detection == original.detection  # box and score
        np.testing.assert_allclose(kept.sample.detection.landmarks, original.detection.landmarks)
        assert kept.sample.source == original.source
        assert kept.created_at.tzinfo is not None


def test_data_survives_reopening(db_path: Path) -> None:
    with GalleryRepository(db_path) as repo:
        person = repo.enroll("Grace", [(make_sample(1), unit(1))], "m")
    assert db_path.is_file()
    with GalleryRepository(db_path) as repo:
        assert repo.list_people() == [Person(person.id, "Grace", 1)]
        assert repo.model == "m"
        np.testing.assert_array_equal(repo.embeddings_for("m")[2][0], unit(1))


def test_enroll_adds_to_an_existing_person_regardless_of_case(repo: GalleryRepository) -> None:
    first = repo.enroll("Alan Turing", [(make_sample(1), unit(1))], "m")
    again = repo.enroll("alan turing", [(make_sample(2), unit(2))], "m", create=False)
    assert again == Person(first.id, "Alan Turing", 2)
    assert repo.counts() == (1, 2)


def test_enroll_without_create_refuses_a_new_name(repo: GalleryRepository) -> None:
    with pytest.raises(UnknownPersonError, match="Nobody"):
        repo.enroll("Nobody", [(make_sample(1), unit(1))], "m", create=False)
    assert repo.counts() == (0, 0)


def test_enroll_needs_samples(repo: GalleryRepository) -> None:
    with pytest.raises(BadInputError, match="no face samples"):
        repo.enroll("Empty", [], "m")
    assert repo.counts() == (0, 0)


@pytest.mark.parametrize(
    "bad_vector",
    [
        np.ones(512, dtype=np.int64),  # wrong dtype
        np.stack([unit(3), unit(4)]),  # two vectors where one was expected
        unit(3, dim=128),  # not the length of the first sample's embedding
        unit(3) * 3,  # not unit length
        np.full(512, np.nan, dtype=np.float32),
    ],
    ids=["int-dtype", "matrix", "wrong-length", "not-unit", "nan"],
)
def test_a_bad_embedding_mid_enroll_leaves_nothing_behind(
    repo: GalleryRepository, gallery_target: Path | str, bad_vector: np.ndarray
) -> None:
    with pytest.raises(BadInputError, match="embedding"):
        repo.enroll("Half Done", [(make_sample(1), unit(1)), (make_sample(2), bad_vector)], "m")
    assert repo.counts() == (0, 0)
    assert repo.model is None
    for table in ("people", "samples", "embeddings"):
        assert count_rows(gallery_target, table) == 0


def test_a_failure_after_rows_are_written_rolls_everything_back(
    repo: GalleryRepository, gallery_target: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.enroll("Keeper", [(make_sample(9), unit(9))], "m")

    def explode(*_args: object) -> None:
        raise RuntimeError("power cut")

    # meta_value runs after the person and samples are INSERTed (flushed), just before commit.
    monkeypatch.setattr(repository, "meta_value", explode)
    with pytest.raises(RuntimeError, match="power cut"):
        repo.enroll("Half Done", [(make_sample(1), unit(1)), (make_sample(2), unit(2))], "m")
    with pytest.raises(RuntimeError, match="power cut"):
        repo.enroll("Keeper", [(make_sample(3), unit(3))], "m")
    monkeypatch.undo()

    assert [p.name for p in repo.list_people()] == ["Keeper"]
    assert count_rows(gallery_target, "samples") == 1
    assert count_rows(gallery_target, "embeddings") == 1


def test_a_bad_image_is_refused(repo: GalleryRepository) -> None:
    sample = make_sample(1)
    grey = type(sample)(sample.image[:, :, 0], sample.detection)
    with pytest.raises(BadInputError, match="RGB uint8"):
        repo.enroll("Grey", [(grey, unit(1))], "m")
    assert repo.counts() == (0, 0)


def test_list_people_is_sorted_without_regard_to_case_and_counts_samples(repo: GalleryRepository) -> None:
    repo.add_person("bob")
    repo.enroll("Carol", [(make_sample(1), unit(1)), (make_sample(2), unit(2))], "m")
    repo.add_person("Alice")
    assert [(p.name, p.sample_count) for p in repo.list_people()] == [("Alice", 0), ("bob", 0), ("Carol", 2)]
    assert repo.counts() == (3, 2)


def test_get_person_matches_the_normalised_name_exactly(repo: GalleryRepository) -> None:
    person = repo.add_person("Alice Smith")
    assert repo.get_person("  Alice   Smith ") == person
    assert repo.get_person("alice smith") is None
    assert repo.get_person("") is None
    assert repo.person_by_id(person.id) == person
    assert repo.person_by_id(person.id + 1) is None


def test_remove_person_cascades_to_samples_and_embeddings(repo: GalleryRepository, gallery_target: Path | str) -> None:
    gone = repo.enroll("Gone", [(make_sample(1), unit(1)), (make_sample(2), unit(2))], "m")
    repo.store_embeddings("other", [(s.id, unit(5, dim=128)) for s in repo.samples_of(gone.id)])
    kept = repo.enroll("Kept", [(make_sample(3), unit(3))], "m")
    assert count_rows(gallery_target, "embeddings") == 5

    assert repo.remove_person("gone") == 2
    assert repo.person_by_id(gone.id) is None
    assert count_rows(gallery_target, "samples") == 1
    assert count_rows(gallery_target, "embeddings") == 1
    assert repo.embeddings_for("m")[0].tolist() == [kept.id]
    assert repo.samples_of(gone.id) == []

    assert repo.remove_person(kept.id) == 1
    assert (
        count_rows(gallery_target, "people")
        == count_rows(gallery_target, "samples")
        == count_rows(gallery_target, "embeddings")
        == 0
    )


def test_remove_unknown_person(repo: GalleryRepository) -> None:
    with pytest.raises(UnknownPersonError, match="Nobody"):
        repo.remove_person("Nobody")
    with pytest.raises(UnknownPersonError, match="42"):
        repo.remove_person(42)


def test_remove_sample_takes_its_embeddings_and_keeps_the_person(
    repo: GalleryRepository, gallery_target: Path | str
) -> None:
    person = repo.enroll("Ines", [(make_sample(1), unit(1)), (make_sample(2), unit(2))], "m")
    first, second = repo.samples_of(person.id)
    repo.remove_sample(first.id)
    assert [s.id for s in repo.samples_of(person.id)] == [second.id]
    assert count_rows(gallery_target, "embeddings") == 1
    np.testing.assert_array_equal(repo.embeddings_for("m")[2], unit(2)[None, :])
    np.testing.assert_array_equal(repo.thumbnail(person.id), make_sample(2).image)
    repo.remove_sample(second.id)
    assert repo.person_by_id(person.id) == Person(person.id, "Ines", 0)
    assert repo.thumbnail(person.id) is None
    with pytest.raises(BadInputError, match=str(second.id)):
        repo.remove_sample(second.id)


def test_thumbnail_is_the_first_sample(repo: GalleryRepository) -> None:
    person = repo.enroll("Thumb", [(make_sample(7), unit(7)), (make_sample(8), unit(8))], "m")
    np.testing.assert_array_equal(repo.thumbnail(person.id), make_sample(7).image)
    assert repo.thumbnail(person.id + 1) is None


def test_embeddings_for_an_empty_gallery_and_people_without_samples(repo: GalleryRepository) -> None:
    ids, names, vectors = repo.embeddings_for("m")
    assert ids.shape == (0,)
    assert names == {}
    assert vectors.shape[0] == 0
    assert vectors.dtype == np.float32
    nobody = repo.add_person("No Samples")
    assert repo.embeddings_for("m")[1] == {nobody.id: "No Samples"}


def test_switching_models_reembeds_every_stored_sample(repo: GalleryRepository) -> None:
    people = [
        repo.enroll(f"P{i}", [(make_sample(2 * i), unit(2 * i)), (make_sample(2 * i + 1), unit(2 * i + 1))], "a")
        for i in range(3)
    ]
    assert len(repo.samples_missing("b")) == 6
    done = 0
    while chunk := repo.samples_missing("b", limit=4):  # what the lead's model switch does, chunk by chunk
        assert len(chunk) <= 4
        for stored in chunk:
            seed = int(stored.sample.source.removeprefix("photo-").removesuffix(".jpg"))
            np.testing.assert_array_equal(stored.sample.image, make_sample(seed).image)
        done += repo.store_embeddings("b", [(s.id, unit(100 + s.id, dim=128)) for s in chunk])
    assert done == 6
    assert repo.samples_missing("b") == []
    assert repo.embedding_models() == {"a": 6, "b": 6}

    ids, names, vectors = repo.embeddings_for("b")
    assert vectors.shape == (6, 128)
    assert sorted(set(ids.tolist())) == sorted(p.id for p in people)
    assert set(names.values()) == {"P0", "P1", "P2"}

    repo.set_model("b")
    assert repo.model == "b"
    assert repo.counts() == (3, 6)


def test_store_embeddings_replaces_skips_vanished_samples_and_is_all_or_nothing(repo: GalleryRepository) -> None:
    person = repo.enroll("Vera", [(make_sample(1), unit(1)), (make_sample(2), unit(2))], "m")
    first, second = (s.id for s in repo.samples_of(person.id))
    numpy_id: Any = np.int64(first)
    assert repo.store_embeddings("m", [(numpy_id, unit(11)), (second + 50, unit(12))]) == 1
    np.testing.assert_array_equal(repo.embeddings_for("m")[2], np.stack([unit(11), unit(2)]))

    with pytest.raises(BadInputError):
        repo.store_embeddings("m", [(first, unit(21)), (second, unit(22, dim=64))])
    np.testing.assert_array_equal(repo.embeddings_for("m")[2], np.stack([unit(11), unit(2)]))


def test_set_model_refuses_an_empty_name(repo: GalleryRepository) -> None:
    with pytest.raises(BadInputError):
        repo.set_model("  ")
    assert repo.model is None


def test_the_repository_can_be_used_from_another_thread(repo: GalleryRepository) -> None:
    repo.add_person("Main Thread")
    with ThreadPoolExecutor(max_workers=2) as pool:
        people = pool.submit(repo.list_people).result(timeout=10)
        pool.submit(repo.add_person, "Worker Thread").result(timeout=10)
    assert [p.name for p in people] == ["Main Thread"]
    assert repo.counts() == (2, 0)


def test_a_closed_repository_refuses_calls(db_path: Path) -> None:
    with GalleryRepository(db_path) as repo:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        repo.list_people()
    repo.close()  # closing twice is harmless


def test_damaged_embeddings_are_reported_not_misread(sqlite_repo: GalleryRepository, db_path: Path) -> None:
    repo = sqlite_repo
    repo.enroll("Dora", [(make_sample(1), unit(1)), (make_sample(2), unit(2))], "m")
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE embeddings SET vector = ? WHERE sample_id = 2", (b"\x00" * 12,))
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="is damaged"):
        repo.embeddings_for("m")


def test_embeddings_are_read_batch_by_batch_into_one_matrix_in_person_order(
    repo: GalleryRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faceapp.core.types import Detection, FaceSample
    from faceapp.storage import repository as repository_module

    monkeypatch.setattr(repository_module, "LOAD_BATCH", 7)  # 50 samples come in 8 batches
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = rng.integers(0, 6, 50)
    crop = FaceSample(np.full((8, 8, 3), 128, np.uint8), Detection((0, 0, 8, 8), 0.9, np.full((5, 2), 4.0)), "t")
    repo.bulk_add([f"P{i}" for i in range(6)], owners, vectors, "m", crop)
    ids, names, got = repo.embeddings_for("m")
    by_name = {name: pid for pid, name in names.items()}
    stored_owner = np.array([by_name[f"P{o}"] for o in owners])
    order = np.lexsort((np.arange(50), stored_owner))  # person, then insertion (sample id) order
    np.testing.assert_array_equal(ids, stored_owner[order])
    np.testing.assert_array_equal(got, vectors[order])
    assert got.flags.c_contiguous
    assert got.dtype == np.float32


def test_a_count_that_was_off_grows_or_cuts_the_matrix() -> None:
    from faceapp.storage.models import read_vectors

    rows = [(i // 3, np.full(4, i, "<f4").tobytes()) for i in range(10)]
    for expected in (0, 3, 10, 25):
        ids, vectors = read_vectors([rows[:4], [], rows[4:9], rows[9:]], expected)
        assert ids.tolist() == [i // 3 for i in range(10)]
        np.testing.assert_array_equal(vectors[:, 0], np.arange(10, dtype=np.float32))
        assert vectors.shape == (10, 4)
        seen: list[tuple[list[int], list[float]]] = []

        def landed(i: np.ndarray, v: np.ndarray, seen: list[tuple[list[int], list[float]]] = seen) -> None:
            seen.append((i.tolist(), v[:, 0].tolist()))

        again, _ = read_vectors([rows[:4], [], rows[4:9], rows[9:]], expected, landed)
        assert seen == [
            ([0, 0, 0, 1], [0, 1, 2, 3]),
            ([1, 1, 2, 2, 2], [4, 5, 6, 7, 8]),
            ([3], [9]),
        ]  # each batch as it landed (a grown matrix included), empty ones left out
        assert again.tolist() == ids.tolist()
    with pytest.raises(ValueError, match="different sizes"):
        read_vectors([rows[:2], [(9, np.zeros(5, "<f4").tobytes())]], 3)
    ids, vectors = read_vectors([], 5)
    assert ids.shape == (0,)
    assert vectors.shape == (0, 0)

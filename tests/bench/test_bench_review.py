"""`faceapp bench review`: the scores are those defined in its docstring, on groups whose make-up is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceapp.bench import review


def test_purity_and_completeness_are_face_weighted_majority_shares() -> None:
    # tracks: owner and faces; group 0 = tracks 0,1 (person 0: 3 faces) + track 2 (person 1: 1 face); group 1 = track 3
    owner = np.array([0, 0, 1, 1])
    faces = np.array([2, 1, 1, 2])
    s = review.scores([[0, 1, 2], [3]], owner, faces)
    assert s["purity"] == pytest.approx((3 + 2) / 6)
    assert s["completeness"] == pytest.approx((3 + 2) / 6)  # person 1's largest share is the 2 faces of group 1
    assert s["mixed_groups"] == 1
    split = review.scores([[0], [1], [2, 3]], owner, faces)
    assert split["purity"] == 1.0
    assert split["completeness"] == pytest.approx((2 + 3) / 6)


def test_clicks_are_one_per_group_a_person_is_the_majority_of() -> None:
    majority = [0, 0, 1, 2, 2, 2]  # person 0 split in two groups, person 2 in three, person 3 in none
    people = np.array([0, 1, 2, 3])
    c = review.clicks(majority, people, {0: 5, 1: 1, 2: 9, 3: 2}, named=4, seed=0)
    assert c["mean"] == 6  # all four people in every draw: 2 + 1 + 3 + 0
    assert c["unnameable_mean"] == 1
    c = review.clicks(majority, people, {0: 5, 1: 1, 2: 9, 3: 2}, named=1, seed=0)
    assert c["most_seen"] == 3  # person 2 has the most faces
    assert 1 <= c["mean"] <= 3


def test_tracks_cover_every_face_once_within_one_person() -> None:
    owners = np.repeat(np.arange(10), 7)
    tracks = review.make_tracks(owners, 3, seed=1)
    rows = np.concatenate(tracks)
    assert sorted(rows.tolist()) == list(range(70))
    assert all(1 <= len(t) <= 3 and len(set(owners[t])) == 1 for t in tracks)


def test_well_separated_people_are_grouped_purely_and_named_in_one_click_each() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 64))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    owners = np.repeat(np.arange(30), 6)
    faces = centres[owners] + rng.normal(scale=0.02, size=(180, 64))
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    result = review.evaluate(faces.astype(np.float32), owners, threshold=0.3, named=20)
    assert result["purity"] == 1.0
    assert result["completeness"] == 1.0
    assert result["clicks"]["mean"] == 20
    merged_everything = review.evaluate(faces.astype(np.float32), owners, threshold=4.0, named=20)
    assert merged_everything["groups"] == 1
    assert merged_everything["purity"] == pytest.approx(1 / 30)


def test_folding_as_the_store_does_keeps_every_track_in_one_group() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(10, 64))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    owners = np.repeat(np.arange(10), 6)
    faces = centres[owners] + rng.normal(scale=0.01, size=(60, 64))
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    plain = review.evaluate(faces.astype(np.float32), owners, threshold=0.3, named=5)
    folded = review.evaluate(faces.astype(np.float32), owners, threshold=0.3, named=5, fold=0.1)
    assert plain["candidates"] == plain["tracks"]
    assert folded["candidates"] == 10  # one per person: their tracks are all within the fold distance
    assert folded["faces"] == plain["faces"] == 60
    assert (folded["purity"], folded["completeness"], folded["groups"]) == (1.0, 1.0, 10)


def test_cached_only_takes_the_people_whose_photos_are_all_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faceapp.bench import embed_cache
    from faceapp.core.embedders import registry
    from faceapp.core.types import Detection
    from tests.bench.bench_fakes import make_lfw

    lfw = make_lfw(tmp_path)
    (lfw / "people.txt").write_text("3\nAnn_A\t3\nBob_B\t3\nCid_C\t2\n")
    cache = embed_cache.EmbedCache.open(embed_cache.cache_path("lfw", "dlib-resnet"), "dlib-resnet", 128)
    held = [*(lfw / "Ann_A").iterdir(), *(lfw / "Bob_B").iterdir(), *sorted((lfw / "Cid_C").iterdir())[:1]]
    for path in held:
        cache.add(
            embed_cache.file_key(path, lfw),
            np.ones(128) / np.sqrt(128),
            1,
            Detection((0, 0, 1, 1), 1.0, np.zeros((5, 2))),
        )
    cache.save()
    asked: list[list[Path]] = []

    def embed(dataset: str, files: list[Path], *rest: object) -> object:
        asked.append(list(files))
        raise RuntimeError("stop here")

    monkeypatch.setattr(registry, "create_embedder", lambda name: None)
    monkeypatch.setattr(review, "embed_dataset", embed)
    monkeypatch.setattr(review, "batch_detector", lambda: None)
    with pytest.raises(RuntimeError, match="stop here"):
        review.load(tmp_path, "dlib-resnet", "people.txt", 2, None, True, cached_only=True)
    assert [p.parent.name for p in asked[0]] == ["Ann_A"] * 3 + ["Bob_B"] * 3  # Cid_C is cached only in part
    with pytest.raises(RuntimeError, match="stop here"):
        review.load(tmp_path, "dlib-resnet", "people.txt", 2, None, True)
    assert sorted({p.parent.name for p in asked[1]}) == ["Ann_A", "Bob_B", "Cid_C"]

"""The index of large galleries (core/gallery_index.py: an HNSW graph) and identify through it (GallerySnapshot)."""

from __future__ import annotations

import numpy as np
import pytest

from faceapp.core import matching
from faceapp.core.gallery_index import GalleryIndex
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import MatchRule


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(seed: int, people: int, per_person: int, dim: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples of `people` people in a few loose groups, their owners, and one noisy probe per person."""
    rng = np.random.default_rng(seed)
    groups = unit(rng.standard_normal((8, dim)))
    centres = unit(groups[rng.integers(0, 8, people)] + 0.5 * unit(rng.standard_normal((people, dim))))
    owners = np.repeat(np.arange(people), per_person)
    samples = unit(centres[owners] + 0.25 * unit(rng.standard_normal((owners.size, dim))))
    probes = unit(centres + 0.2 * unit(rng.standard_normal((people, dim))))
    return samples, owners, probes


def snapshots(samples: np.ndarray, owners: np.ndarray, scoring: str) -> tuple[GallerySnapshot, GallerySnapshot]:
    names = {int(i): f"P{i}" for i in np.unique(owners)}
    exact = GallerySnapshot("m", owners, names, samples, scoring, index_min_rows=10**9)  # type: ignore[arg-type]
    indexed = GallerySnapshot("m", owners, names, samples, scoring, index_min_rows=1)  # type: ignore[arg-type]
    return exact.build_index(), indexed.build_index()


def test_the_graph_finds_the_largest_inner_products() -> None:
    samples, _, probes = clustered(0, 2000, 1)
    graph = GalleryIndex.build(samples)
    assert graph is not None
    assert graph.rows == 2000
    assert graph.nbytes > samples.nbytes
    hits = 0
    for probe in probes[:200]:
        found = graph.candidates(probe, 5)
        assert found.shape == (5,)
        assert len(set(found.tolist())) == 5
        assert found.min() >= 0
        hits += int(np.argmax(samples @ probe)) == int(found[0])
    assert hits >= 198


def test_more_candidates_than_rows_or_the_walk_keeps_are_cut() -> None:
    samples, _, probes = clustered(1, 10, 1)
    graph = GalleryIndex.build(samples, ef_search=4)
    assert graph is not None
    assert graph.candidates(probes[0], 50).shape == (4,)
    assert GalleryIndex.build(samples).candidates(probes[0], 50).shape == (10,)  # type: ignore[union-attr]


@pytest.mark.parametrize("scoring", ["average", "nearest"])
def test_identify_through_the_graph_gives_the_exact_scans_answers(scoring: str) -> None:
    samples, owners, probes = clustered(3, 1500, 2)
    exact, indexed = snapshots(samples, owners, scoring)
    assert indexed.indexed
    assert not exact.indexed
    rule = MatchRule(0.6, margin=0.1)
    want, got = exact.identify(probes, rule), indexed.identify(probes, rule)
    same = [
        (g.person_id, g.runner_up_name, g.accepted, g.ambiguous)
        == (w.person_id, w.runner_up_name, w.accepted, w.ambiguous)
        for w, g in zip(want, got, strict=True)
    ]
    assert np.mean(same) >= 0.99
    for w, g in zip(want, got, strict=True):
        if g.person_id == w.person_id:
            assert g.distance == pytest.approx(w.distance, abs=1e-5)  # scored exactly, not by the graph
        assert g.distance >= w.distance - 1e-5  # never a nearer person than there is


def test_identify_reads_only_the_candidates_the_graph_proposes(monkeypatch: pytest.MonkeyPatch) -> None:
    samples, owners, probes = clustered(4, 600, 1)
    _, indexed = snapshots(samples, owners, "average")
    seen: list[int] = []
    real = GalleryIndex.candidates

    def spy(self: GalleryIndex, probe: np.ndarray, k: int) -> np.ndarray:
        found = real(self, probe, k)
        seen.append(len(found))
        return found

    monkeypatch.setattr(GalleryIndex, "candidates", spy)
    indexed.identify(probes[:3], 4.0)
    assert seen == [matching.CANDIDATE_PEOPLE] * 3  # one walk per probe, a handful of rows each


def test_a_correction_refuses_a_face_through_the_index_too() -> None:
    samples, owners, probes = clustered(5, 200, 2)
    names = {int(i): f"P{i}" for i in np.unique(owners)}
    negative = unit(probes[7:8] * 0.999 + samples[0:1] * 0.001)  # a face the user said is not person 7
    snap = GallerySnapshot("m", owners, names, samples, "average", np.array([7]), negative, index_min_rows=1)
    assert snap.build_index().indexed
    match = snap.identify(probes[7], 4.0)[0]
    assert match.refused
    assert match.person_id is None


def test_a_small_gallery_is_scanned_exactly() -> None:
    samples, owners, _ = clustered(6, 100, 2)
    snap = GallerySnapshot("m", owners, {int(i): str(i) for i in owners}, samples).build_index()
    assert not snap.indexed
    assert snap.index_nbytes == 0


def test_without_faiss_a_large_gallery_is_scanned_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceapp.core import gallery_index

    monkeypatch.setattr(gallery_index, "_faiss", lambda: None)
    samples, owners, probes = clustered(7, 300, 1)
    exact, indexed = snapshots(samples, owners, "average")
    assert not indexed.indexed
    assert [m.person_id for m in indexed.identify(probes, 4.0)] == [m.person_id for m in exact.identify(probes, 4.0)]

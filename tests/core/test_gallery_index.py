"""The index of large galleries (core/gallery_index.py: an HNSW graph) and identify through it (GallerySnapshot)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from faceapp.core import matching
from faceapp.core.gallery_index import GalleryIndex, IndexFeed
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


def fed(owners: np.ndarray, samples: np.ndarray, scoring: str, batch: int, min_rows: int) -> IndexFeed:
    feed = IndexFeed(average=scoring == "average", min_rows=min_rows)
    for start in range(0, owners.size, batch):
        feed.add(owners[start : start + batch], samples[start : start + batch])
    return feed


@pytest.mark.parametrize("scoring", ["average", "nearest"])
def test_an_index_fed_batch_by_batch_is_the_snapshots_own(scoring: str, monkeypatch: pytest.MonkeyPatch) -> None:
    samples, owners, probes = clustered(6, 600, 3)
    owners = owners * 5 + 2  # ids that are not columns
    owners[:40] = 2  # one person over several batches, and batches that end inside a person
    result = fed(owners, samples, scoring, batch=37, min_rows=100).finish()
    assert result is not None
    assert result.graph is not None
    names = {int(i): f"P{i}" for i in np.unique(owners)}
    exact = GallerySnapshot("m", owners, names, samples, scoring, index_min_rows=10**9)  # type: ignore[arg-type]
    indexed = GallerySnapshot("m", owners, names, samples, scoring, index_min_rows=100)  # type: ignore[arg-type]

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the snapshot built a graph of its own")

    monkeypatch.setattr(GalleryIndex, "build", no_build)
    indexed.adopt(result).build_index()
    assert indexed.indexed
    assert indexed._index is not None
    assert indexed._index[0] is result.graph
    if scoring == "average":
        np.testing.assert_array_equal(indexed._means, exact._means)  # the same sums, to the last bit
    rule = MatchRule(0.6, 0.0)
    got, want = indexed.identify(probes, rule), exact.identify(probes, rule)
    same = [a.person_id == b.person_id and abs(a.distance - b.distance) < 1e-5 for a, b in zip(got, want, strict=True)]
    assert sum(same) >= 0.98 * len(want)


def test_a_small_gallery_starts_no_feed_and_a_strange_one_stops_it() -> None:
    samples, owners, _ = clustered(7, 100, 2)
    assert fed(owners, samples, "average", batch=50, min_rows=201).finish() is None  # 200 samples: nothing started
    assert fed(owners, samples, "average", batch=50, min_rows=20).finish() is not None
    shuffled = owners.copy()
    shuffled[[10, 150]] = shuffled[[150, 10]]
    assert fed(shuffled, samples, "average", batch=50, min_rows=20).finish() is None  # not in person order
    broken = samples.copy()
    broken[120, 3] = np.nan
    assert fed(owners, broken, "nearest", batch=50, min_rows=20).finish() is None  # the repository drops NaN rows
    result = fed(owners, samples, "average", batch=50, min_rows=150).finish()  # 100 people: means, no graph
    assert result is not None
    assert result.graph is None
    assert result.means is not None
    snapshot = GallerySnapshot("m", owners, {}, samples, index_min_rows=150).adopt(result)
    assert snapshot._means is result.means
    assert not snapshot.indexed
    other = GallerySnapshot("m", owners[:-2], {}, samples[:-2], index_min_rows=20).adopt(result)  # not its rows
    assert other._means is not result.means
    short = GallerySnapshot("m", owners[:-1], {}, samples[:-1], index_min_rows=20).adopt(result)  # one sample less
    assert short._means is not result.means


@pytest.mark.parametrize("scoring", ["average", "nearest"])
def test_the_graph_grows_while_rows_still_arrive_and_a_cancel_ends_the_feed(scoring: str) -> None:
    samples, owners, _ = clustered(8, 3000, 2)
    feed = fed(owners[:5000], samples[:5000], scoring, batch=500, min_rows=100)
    deadline = time.monotonic() + 20
    while (feed._graph is None or feed._graph.rows == 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feed._graph is not None
    assert feed._graph.rows > 0  # linked before the read ended (the last 1,000 samples are still to come)
    feed.add(owners[5000:], samples[5000:])
    result = feed.finish()
    assert result is not None
    assert result.graph is not None
    assert result.samples == 6000
    assert result.graph.rows == (3000 if scoring == "average" else 6000)

    cancelled = fed(owners, samples, scoring, batch=500, min_rows=100)
    cancelled.cancel()
    assert cancelled._thread is not None
    cancelled._thread.join(20)
    assert not cancelled._thread.is_alive()
    assert cancelled.finish() is None

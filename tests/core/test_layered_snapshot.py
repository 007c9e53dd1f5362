"""A large gallery after a few people changed: a layer of their rows over the indexed snapshot (LayeredSnapshot)
answers exactly as a snapshot read afresh from the changed gallery."""

from __future__ import annotations

import numpy as np
import pytest

from faceapp.core.matching import GallerySnapshot, LayeredSnapshot
from faceapp.core.types import MatchRule

DIM = 24


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


class Gallery:
    """The gallery as plain data (person id -> samples, corrections), made into either kind of snapshot."""

    def __init__(self, seed: int, people: int, scoring: str) -> None:
        self.rng = np.random.default_rng(seed)
        self.scoring = scoring
        self.centres = unit(self.rng.standard_normal((people + 50, DIM)))
        # non-contiguous ids, so a person column can never pass for a person id
        self.ids = [7 * i + 3 for i in range(people)]
        self.rows = {pid: (self.samples(i, 2), np.zeros((0, DIM), np.float32)) for i, pid in enumerate(self.ids)}
        for i in (3, 5, 30):  # some people of the base have corrections (a face of the next person)
            self.rows[self.ids[i]] = (self.rows[self.ids[i]][0], self.samples(i + 1, 1))
        self.names = {pid: f"P{pid}" for pid in self.ids}

    def samples(self, i: int, n: int) -> np.ndarray:
        return unit(self.centres[i] + 0.25 * unit(self.rng.standard_normal((n, DIM))))

    def plain(self, index_min_rows: int) -> GallerySnapshot:
        order = sorted(self.rows)
        owners = np.concatenate([np.full(len(self.rows[p][0]), p) for p in order])
        vectors = np.concatenate([self.rows[p][0] for p in order])
        neg_owners = np.concatenate([np.full(len(self.rows[p][1]), p) for p in order]).astype(np.int64)
        negatives = np.concatenate([self.rows[p][1] for p in order])
        return GallerySnapshot(
            "m",
            owners,
            dict(self.names),
            vectors,
            self.scoring,  # type: ignore[arg-type]
            neg_owners,
            negatives,
            index_min_rows=index_min_rows,
        ).build_index()


def same_answers(got: GallerySnapshot, want: GallerySnapshot, probes: np.ndarray) -> None:
    rule = MatchRule(0.7, margin=0.1)
    for g, w in zip(got.identify(probes, rule), want.identify(probes, rule), strict=True):
        assert (g.person_id, g.name, g.accepted, g.ambiguous, g.refused, g.runner_up_name) == (
            w.person_id,
            w.name,
            w.accepted,
            w.ambiguous,
            w.refused,
            w.runner_up_name,
        )
        assert g.distance == pytest.approx(w.distance, abs=1e-5)
        assert g.runner_up == pytest.approx(w.runner_up, abs=1e-5)
    assert (got.sample_count, got.people_count, got.negative_count) == (
        want.sample_count,
        want.people_count,
        want.negative_count,
    )


@pytest.mark.parametrize("scoring", ["average", "nearest"])
def test_enrolling_adding_removing_and_correcting_people_answer_as_a_fresh_snapshot(scoring: str) -> None:
    g = Gallery(0, 400, scoring)
    base = g.plain(index_min_rows=1)
    assert base.indexed
    probes = unit(g.centres + 0.2 * unit(g.rng.standard_normal((len(g.centres), DIM))))

    new_id = 7 * 400 + 3  # a new person, at centre 400
    g.rows[new_id] = (g.samples(400, 1), np.zeros((0, DIM), np.float32))
    g.names[new_id] = "Newcomer"
    grown = g.rows[g.ids[5]][0]
    g.rows[g.ids[5]] = (np.concatenate([grown, g.samples(5, 3)]), g.rows[g.ids[5]][1])  # more samples
    removed = g.ids[9]
    del g.rows[removed], g.names[removed]
    corrected = g.ids[11]
    g.rows[corrected] = (g.rows[corrected][0], unit(probes[11:12] * 0.99 + g.centres[12:13] * 0.01))
    only_corrections = 7 * 401 + 3  # a person known only by a correction (an archive can hold one)
    g.rows[only_corrections] = (np.zeros((0, DIM), np.float32), g.samples(401, 1))
    g.names[only_corrections] = "Only Corrections"
    nobody = 10**6  # an id no one has: nothing to add, nothing to take away
    changes = {pid: g.rows.get(pid, (np.zeros((0, 0)), np.zeros((0, 0)))) for pid in (new_id, g.ids[5], removed)}
    changes[corrected] = g.rows[corrected]
    changes[only_corrections] = g.rows[only_corrections]
    changes[nobody] = (np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32))  # the repository's "none"

    layered = base.updated(changes, dict(g.names))
    assert isinstance(layered, LayeredSnapshot)
    assert layered.base is base  # shared, not copied
    assert layered.indexed
    fresh = g.plain(index_min_rows=10**9)
    same_answers(layered, fresh, probes)
    assert layered.identify(probes[400], 0.7)[0].name == "Newcomer"
    assert layered.identify(probes[9], 4.0)[0].person_id != removed
    assert layered.identify(probes[11], 4.0)[0].refused  # the new correction holds
    base_refused = [m.refused for m in fresh.identify(probes, 4.0)]
    assert any(base_refused)  # the base's own corrections refuse someone...
    assert [m.refused for m in layered.identify(probes, 4.0)] == base_refused  # ...and still do through the layer
    for pid in (new_id, g.ids[3], g.ids[5], g.ids[6], g.ids[30], corrected, only_corrections, nobody):
        np.testing.assert_array_equal(layered.rows_of(pid)[1], fresh.rows_of(pid)[1])
        assert layered.verify(probes[0], pid, 0.7) == fresh.verify(probes[0], pid, 0.7)
        np.testing.assert_array_equal(layered.rows_of(pid)[0], fresh.rows_of(pid)[0])
        assert layered.spread(pid) == pytest.approx(fresh.spread(pid), nan_ok=True)
    assert layered.verify(probes[9], removed, 4.0).distance == float("inf")

    # a layer over a layer: the earlier changes stay, the base stays the first one
    g.names[g.ids[20]] = "Renamed"
    twice = layered.updated({g.ids[20]: g.rows[g.ids[20]]}, dict(g.names))
    assert twice.base is base
    assert twice.hidden == layered.hidden | {g.ids[20]}
    same_answers(twice, g.plain(index_min_rows=10**9), probes)
    # the benchmarks' whole-gallery table is the same through the layer
    people, d = twice.person_distances(probes[:5])
    want_people, want_d = g.plain(index_min_rows=10**9).person_distances(probes[:5])
    np.testing.assert_array_equal(people, want_people)
    np.testing.assert_allclose(d, want_d, atol=1e-5)


def test_the_layer_leaves_out_crowding_changed_people_and_still_finds_two() -> None:
    g = Gallery(1, 300, "average")
    base = g.plain(index_min_rows=1)
    probe = unit(g.centres[0:1] + 0.05 * unit(g.rng.standard_normal((1, DIM))))
    near = [pid for pid, _ in base.top_people(probe[0], n=20)]
    # every one of the 20 nearest people removed: the graph's first candidates are all hidden
    layered = base.updated({pid: (np.zeros((0, DIM)), np.zeros((0, DIM))) for pid in near}, dict(g.names))
    for pid in near:
        del g.rows[pid]
    top = layered.top_people(probe[0])
    assert len(top) == 2
    assert not {pid for pid, _ in top} & set(near)
    assert top == g.plain(index_min_rows=10**9).top_people(probe[0])


def test_a_probe_that_is_not_a_number_is_nobody_through_the_layer_too() -> None:
    g = Gallery(2, 200, "average")
    layered = g.plain(index_min_rows=1).updated({g.ids[0]: g.rows[g.ids[0]]}, dict(g.names))
    probe = np.full(DIM, np.nan, np.float32)
    match = layered.identify(probe, 4.0)[0]
    assert not match.accepted
    assert g.plain(index_min_rows=10**9).identify(probe, 4.0)[0].accepted is False

"""The unknown-faces review's core: grouping by average link, the thread-safe store, retention, merge and forget."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from faceapp.core.evidence import TrackSummary
from faceapp.core.grouping import average_link, track_mean
from faceapp.core.review import (
    KEEP_CROPS,
    Candidate,
    Retention,
    ReviewError,
    ReviewStore,
    candidate_of,
    group_threshold,
)
from faceapp.core.types import Detection, FaceSample

MODEL = "dlib-resnet"


def person(seed: int, dim: int = 128) -> np.ndarray:
    """A random identity direction."""
    v = np.random.default_rng(seed).normal(size=dim)
    return v / np.linalg.norm(v)


def near(centre: np.ndarray, seed: int, spread: float = 0.01) -> np.ndarray:
    """A unit vector close to `centre` (d about 2 * spread^2 * dim: well inside tau)."""
    v = centre + np.random.default_rng(seed).normal(scale=spread, size=centre.shape)
    return (v / np.linalg.norm(v)).astype(np.float32)


def crop(seed: int) -> FaceSample:
    image = np.full((40, 32, 3), seed % 256, np.uint8)
    marks = np.array([[10, 14], [22, 14], [16, 20], [11, 27], [21, 27]], np.float64)
    return FaceSample(image, Detection((4.0, 4.0, 28.0, 36.0), 0.9, marks), f"track-{seed}")


def summary(
    track_id: int, who: int, frames: int = 2, seen: float = 1000.0, person_id: int | None = None, model: str = MODEL
) -> TrackSummary:
    centre = person(who)
    return TrackSummary(
        track_id=track_id,
        first_seen=seen,
        last_seen=seen + 1,
        person_id=person_id,
        model=model,
        embeddings=np.stack([near(centre, 100 * track_id + i) for i in range(frames)]),
        samples=tuple(crop(10 * track_id + i) for i in range(frames)),
        qualities=tuple(0.1 * (i + 1) for i in range(frames)),
    )


def test_average_link_keeps_people_apart_and_tracks_of_one_person_together() -> None:
    people = [person(s) for s in range(5)]
    vectors = np.stack([near(people[i % 5], i) for i in range(20)])
    groups = average_link(vectors, group_threshold(MODEL))
    assert sorted(sorted(i % 5 for i in g) for g in groups) == [[k] * 4 for k in range(5)]


def test_one_lookalike_pair_does_not_chain_two_people() -> None:
    """Single link would join A and B through one close pair; average link keeps them apart."""
    a, b = person(1), person(2)
    bridge = (a + b) / np.linalg.norm(a + b)
    vectors = np.stack([*(near(a, i, 0.02) for i in range(6)), *(near(b, 10 + i, 0.02) for i in range(6)), bridge])
    threshold = float(np.maximum(2 - 2 * vectors[:-1] @ bridge, 0).max()) + 1e-3  # the bridge is near everyone
    groups = average_link(vectors, threshold)
    mixed = [g for g in groups if any(i < 6 for i in g) and any(6 <= i < 12 for i in g)]
    assert mixed == []


def test_linked_rows_start_together_and_are_never_split() -> None:
    vectors = np.stack([person(1), person(2), person(3)]).astype(np.float32)
    groups = average_link(vectors, 0.1, links=[7, None, 7])
    assert sorted(groups) == [[0, 2], [1]]


def test_track_mean_is_unit_and_rejects_cancelling_frames() -> None:
    v = track_mean(np.stack([near(person(1), 1), near(person(1), 2)]))
    assert abs(float(np.linalg.norm(v)) - 1) < 1e-5
    with pytest.raises(ValueError, match="cancel"):
        track_mean(np.stack([person(1), -person(1)]))


def test_only_unknown_tracks_are_kept_with_their_best_crops() -> None:
    store = ReviewStore()
    store.add_track(summary(1, who=1, frames=5))
    store.add_track(summary(2, who=1, person_id=42))  # named by the live view: not a candidate
    assert len(store) == 1
    (group,) = store.groups()
    (candidate,) = group.candidates
    assert len(candidate.samples) == KEEP_CROPS
    assert candidate.qualities == pytest.approx((0.5, 0.4, 0.3))  # the best first
    assert [s.source for s in candidate.samples] == ["track-14", "track-13", "track-12"]


def test_groups_show_times_seen_last_seen_and_thumbnails() -> None:
    store = ReviewStore()
    for track, (who, seen) in enumerate([(1, 100.0), (2, 200.0), (1, 300.0), (1, 50.0)], start=1):
        store.add_track(summary(track, who, seen=seen))
    first, second = store.groups()
    assert (first.times_seen, first.last_seen) == (3, 301.0)  # the most recently seen group first
    assert (second.times_seen, second.last_seen) == (1, 201.0)
    assert len(first.thumbnails) == 3
    assert len(first.samples) == 6


def test_merge_joins_two_groups_for_good_and_forget_deletes() -> None:
    store = ReviewStore()
    store.add_track(summary(1, who=1))
    store.add_track(summary(2, who=2))
    store.add_track(summary(3, who=3))
    ids = sorted(g.id for g in store.groups())
    merged = store.merge(ids[0], ids[1])
    assert merged.times_seen == 2
    assert len(store.groups()) == 2
    store.add_track(summary(4, who=2))  # new tracks of either person join the merged group
    assert sorted(g.times_seen for g in store.groups()) == [1, 3]
    assert store.forget(ids[2]) == 1
    assert [g.times_seen for g in store.groups()] == [3]
    with pytest.raises(ReviewError, match="No unknown-face group"):
        store.forget(ids[2])
    with pytest.raises(ReviewError, match="itself"):
        store.merge(ids[0], ids[0])


def test_models_are_grouped_apart() -> None:
    store = ReviewStore()
    store.add_track(summary(1, who=1))
    store.add_track(summary(2, who=1, model="sface"))
    groups = store.groups()
    assert sorted(g.model for g in groups) == ["dlib-resnet", "sface"]
    with pytest.raises(ReviewError, match="seen with"):
        store.merge(groups[0].id, groups[1].id)


def test_retention_off_keeps_nothing_and_switching_off_forgets_everything() -> None:
    store = ReviewStore(Retention("off"))
    store.add_track(summary(1, who=1))
    assert len(store) == 0
    store = ReviewStore()
    store.add_track(summary(1, who=1))
    store.set_retention(Retention("off"))
    assert len(store) == 0
    with pytest.raises(ValueError, match="retention"):
        Retention("forever")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="days"):
        Retention("days", 0)


def test_add_track_is_safe_from_many_threads() -> None:
    store = ReviewStore()

    def feed(base: int) -> None:
        for i in range(25):
            store.add_track(summary(base + i, who=(base + i) % 3))

    threads = [threading.Thread(target=feed, args=(100 * k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 100
    assert len({c.id for g in store.groups() for c in g.candidates}) == 100
    assert sorted(g.times_seen for g in store.groups()) == [33, 33, 34]


class MemoryBackend:
    """A CandidateBackend in a dict, recording what was asked."""

    def __init__(self) -> None:
        self.rows: dict[int, Candidate] = {}
        self.next = 1

    def save_candidates(self, candidates: list[Candidate]) -> list[int]:
        out = []
        for c in candidates:
            self.rows[self.next] = c
            out.append(self.next)
            self.next += 1
        return out

    def load_candidates(self) -> list[Candidate]:
        from dataclasses import replace

        return [replace(c, id=i, stored_id=i) for i, c in self.rows.items()]

    def delete_candidates(self, stored_ids: list[int]) -> int:
        return sum(self.rows.pop(i, None) is not None for i in stored_ids)

    def link_candidates(self, stored_ids: list[int], link: int) -> None:
        from dataclasses import replace

        for i in stored_ids:
            self.rows[i] = replace(self.rows[i], link=link)

    def expire_candidates(self, before: float) -> int:
        old = [i for i, c in self.rows.items() if c.last_seen < before]
        return self.delete_candidates(old)


def test_days_retention_persists_expires_and_forgets_in_the_backend() -> None:
    backend = MemoryBackend()
    store = ReviewStore(Retention("days", 2), backend)
    store.add_track(summary(1, who=1, seen=1000.0))
    store.add_track(summary(2, who=2, seen=1000.0 + 86400 * 3))
    assert store.flush() == 2
    assert store.flush() == 0  # written once
    assert len(backend.rows) == 2
    reopened = ReviewStore(Retention("days", 2), backend)
    assert reopened.open(now=1000.0 + 86400 * 4) == 1  # the first is 4 days old: deleted on open
    assert len(backend.rows) == 1
    (group,) = reopened.groups()
    reopened.forget(group.id)
    assert backend.rows == {}


def test_session_retention_never_writes_and_clears_what_an_earlier_setting_stored() -> None:
    backend = MemoryBackend()
    backend.save_candidates([candidate_of(summary(1, who=1), 1)])
    store = ReviewStore(Retention("session"), backend)
    store.open()
    assert backend.rows == {}
    store.add_track(summary(2, who=1))
    assert store.flush() == 0
    assert backend.rows == {}
    assert len(store) == 1


def test_memory_is_bounded_and_the_oldest_go_first_from_the_backend_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceapp.core import review

    monkeypatch.setattr(review, "MAX_CANDIDATES", 3)
    backend = MemoryBackend()
    store = ReviewStore(Retention("days", 2), backend)
    for i in range(3):
        store.add_track(summary(i + 1, who=i, seen=1000.0 + i))
    store.flush()
    store.add_track(summary(4, who=4, seen=2000.0))
    assert len(store) == 3
    assert min(c.last_seen for g in store.groups() for c in g.candidates) == 1002.0  # the oldest (1001) went
    store.flush()
    assert sorted(c.last_seen for c in backend.rows.values()) == [1002.0, 1003.0, 2001.0]

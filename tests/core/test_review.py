"""The unknown-faces review's core: grouping by average link, the thread-safe store, retention, merge and forget."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from faceapp.core import review
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


@pytest.fixture
def no_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every track its own candidate (the tests of grouping, merging and retention count candidates)."""
    monkeypatch.setattr(review, "FOLD_FACTOR", 0.0, raising=False)


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


@pytest.mark.usefixtures("no_fold")
def test_groups_show_times_seen_last_seen_and_thumbnails() -> None:
    store = ReviewStore()
    for track, (who, seen) in enumerate([(1, 100.0), (2, 200.0), (1, 300.0), (1, 50.0)], start=1):
        store.add_track(summary(track, who, seen=seen))
    first, second = store.groups()
    assert (first.times_seen, first.last_seen) == (3, 301.0)  # the most recently seen group first
    assert (second.times_seen, second.last_seen) == (1, 201.0)
    assert len(first.thumbnails) == 3
    assert len(first.samples) == 6


@pytest.mark.usefixtures("no_fold")
def test_merge_joins_two_groups_for_good_and_forget_deletes() -> None:
    store = ReviewStore()
    store.add_track(summary(1, who=1))
    store.add_track(summary(2, who=2))
    store.add_track(summary(3, who=3))
    shown = sorted(store.groups(), key=lambda g: g.id)
    merged = store.merge(shown[0].ids, shown[1].ids)
    assert merged.times_seen == 2
    assert len(store.groups()) == 2
    store.add_track(summary(4, who=2))  # new tracks of either person join the merged group
    assert sorted(g.times_seen for g in store.groups()) == [1, 3]
    assert store.forget(shown[2].ids) == 1
    assert [g.times_seen for g in store.groups()] == [3]
    with pytest.raises(ReviewError, match="no longer kept"):
        store.forget(shown[2].ids)
    with pytest.raises(ReviewError, match="itself"):
        store.merge(merged.ids, merged.ids)


def test_models_are_grouped_apart() -> None:
    store = ReviewStore()
    store.add_track(summary(1, who=1))
    store.add_track(summary(2, who=1, model="sface"))
    groups = store.groups()
    assert sorted(g.model for g in groups) == ["dlib-resnet", "sface"]
    with pytest.raises(ReviewError, match="different models"):
        store.merge(groups[0].ids, groups[1].ids)


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


@pytest.mark.usefixtures("no_fold")
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

    def load_candidates(self, newest: int | None = None) -> list[Candidate]:
        rows = sorted(self.rows.items(), key=lambda r: (r[1].last_seen, r[0]))[-newest if newest else 0 :]
        return [replace(c, id=i, stored_id=i) for i, c in rows]

    def delete_candidates(self, stored_ids: list[int]) -> int:
        return sum(self.rows.pop(i, None) is not None for i in stored_ids)

    def link_candidates(self, stored_ids: list[int], link: int) -> None:
        for i in stored_ids:
            self.rows[i] = replace(self.rows[i], link=link)

    def expire_candidates(self, before: float) -> int:
        old = [i for i, c in self.rows.items() if c.last_seen < before]
        return self.delete_candidates(old)

    def delete_linked(self, links: list[int]) -> int:
        return self.delete_candidates([i for i, c in self.rows.items() if c.link in links])


@pytest.mark.usefixtures("no_fold")
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
    reopened.forget(group.ids)
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


# -- memory: compact crops, folding, a byte budget (a looping clip grew the window by 46 MiB in 3 minutes) ---------


def photo(seed: int, side: int) -> FaceSample:
    """A photo-like crop (smooth shading and a little sensor noise) of side x side, its face box half of it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = 90 + 80 * np.sin(3 * x + seed) * np.cos(2 * y) + rng.normal(scale=6, size=(side, side))
    image = np.clip(np.stack([base, base * 0.8, base * 0.7], axis=-1), 0, 255).astype(np.uint8)
    q = side / 4
    marks = np.array([[1.6 * q, 1.7 * q], [2.4 * q, 1.7 * q], [2 * q, 2.1 * q], [1.7 * q, 2.5 * q], [2.3 * q, 2.5 * q]])
    return FaceSample(image, Detection((q, q, 3 * q, 3 * q), 0.9, marks), f"frame-{seed}")


PHOTOS: dict[tuple[int, int], FaceSample] = {}


def pooled(seed: int, side: int) -> FaceSample:
    """One of 40 photo-like crops per size (drawn once), in pixels of its own as a live track's crop would be."""
    key = (seed % 40, side)
    if key not in PHOTOS:
        PHOTOS[key] = photo(*key)
    return replace(PHOTOS[key], image=PHOTOS[key].image.copy())


def stream(
    track_id: int, centre: np.ndarray, side: int, seen: float, frames: int = 3, spread: float = 0.003
) -> TrackSummary:
    """An Unknown track of `frames` photo-like crops near `centre` (by default as near as the same frames again)."""
    return TrackSummary(
        track_id=track_id,
        first_seen=seen,
        last_seen=seen + 1,
        person_id=None,
        model=MODEL,
        embeddings=np.stack([near(centre, 7919 * track_id + i, spread) for i in range(frames)]),
        samples=tuple(pooled(track_id * 10 + i, side) for i in range(frames)),
        qualities=tuple(float(np.random.default_rng(track_id * 10 + i).uniform(0.2, 0.9)) for i in range(frames)),
    )


def test_crops_are_kept_small_and_still_fit_their_face() -> None:
    big = photo(1, 400)
    store = ReviewStore()
    store.add_track(replace(stream(1, person(1), 400, 10.0, frames=1), samples=(big,)))
    (candidate,) = store.groups()[0].candidates
    (kept,) = candidate.samples
    assert max(kept.image.shape[:2]) == review.CROP_SIDE  # 400 -> 256: the face box keeps 128 px
    scale = review.CROP_SIDE / 400
    np.testing.assert_allclose(kept.detection.landmarks, big.detection.landmarks * scale)
    np.testing.assert_allclose(kept.detection.box, np.array(big.detection.box) * scale)
    import cv2

    expected = cv2.resize(big.image, kept.image.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert float(np.abs(kept.image.astype(int) - expected).mean()) < 3.0  # JPEG at 95: close to the pixels
    assert max(candidate.thumbnail.shape[:2]) == review.THUMB_SIDE
    assert candidate.nbytes < 3 * 256 * 256 * 3 / 4  # a quarter of the raw pixels, at most


def test_a_looping_clip_folds_into_the_candidates_it_has() -> None:
    """The same three people coming back 300 times each: three candidates, each seen 300 times, with the best crops."""
    store = ReviewStore()
    people = [person(s) for s in range(3)]
    best: dict[int, list[float]] = {k: [] for k in range(3)}
    for track in range(900):
        summary_ = stream(track + 1, people[track % 3], 160, 1000.0 + track)
        best[track % 3].extend(summary_.qualities)
        store.add_track(summary_)
    groups = store.groups()
    assert len(store) == 3
    assert sorted(g.times_seen for g in groups) == [300, 300, 300]
    for g in groups:
        (c,) = g.candidates
        who = int(np.argmax([float(c.embedding @ p) for p in people]))
        assert c.qualities == pytest.approx(sorted(best[who], reverse=True)[:KEEP_CROPS])
        assert c.first_seen == 1000.0 + who
        assert c.last_seen == 1000.0 + 897 + who + 1
    assert store.nbytes < 3 * 64 * 1024


def test_thousands_of_strangers_stay_within_the_memory_budget() -> None:
    """2000 different people, 3 crops each of 160 px: memory (traced, and counted) stays under MEMORY_BUDGET."""
    import tracemalloc

    people = np.random.default_rng(5).normal(size=(2000, 128))
    people /= np.linalg.norm(people, axis=1, keepdims=True)
    summaries = (stream(i + 1, people[i], 160, 1000.0 + i) for i in range(2000))
    tracemalloc.start()
    try:
        store = ReviewStore()
        before = tracemalloc.get_traced_memory()[0]
        for s in summaries:
            store.add_track(s)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= 64 * 2**20  # 64 MiB, traced
    assert store.nbytes <= review.MEMORY_BUDGET <= 64 * 2**20
    assert len(store) == review.MAX_CANDIDATES  # the newest thousand
    assert min(c.last_seen for g in store.groups() for c in g.candidates) == 1000.0 + 1000 + 1


@pytest.mark.usefixtures("no_fold")
def test_a_small_budget_sends_the_oldest_out_of_memory_and_their_rows_follow_retention() -> None:
    backend = MemoryBackend()
    one = candidate_of(stream(1, person(1), 160, 0.0), 1).nbytes
    store = ReviewStore(Retention("days", 2), backend, memory_budget=int(3.5 * one))
    for i in range(3):
        store.add_track(stream(i + 1, person(i), 160, 1000.0 + i))
    assert store.flush() == 3
    store.add_track(stream(4, person(4), 160, 2000.0))
    assert len(store) == 3
    assert store.nbytes <= int(3.5 * one)
    assert min(c.last_seen for g in store.groups() for c in g.candidates) == 1002.0  # the oldest (1001) went
    store.flush()
    assert len(backend.rows) == 4  # out of memory, not out of the database: retention decides
    assert store.expire(now=1001.5 + 2 * 86400) == 1  # two days after it was last seen, it goes
    assert sorted(c.last_seen for c in backend.rows.values()) == [1002.0, 1003.0, 2001.0]


def test_a_track_folded_into_a_stored_candidate_is_written_again() -> None:
    backend = MemoryBackend()
    store = ReviewStore(Retention("days", 2), backend)
    store.add_track(stream(1, person(1), 160, 1000.0))
    store.flush()
    (first_row,) = backend.rows
    store.add_track(stream(2, person(1), 160, 1500.0))  # the same face again
    assert len(store) == 1
    assert store.flush() == 1
    (row,) = backend.rows  # the old row went, the folded candidate was written once
    assert row != first_row
    assert (backend.rows[row].tracks, backend.rows[row].last_seen) == (2, 1501.0)


# -- acting on exactly the faces the panel showed ------------------------------------------------------------------


@pytest.mark.usefixtures("no_fold")
def test_forget_and_name_act_on_the_faces_shown_not_on_what_the_group_became() -> None:
    store = ReviewStore()
    store.add_track(summary(1, who=1, seen=100.0))
    (shown,) = store.groups()  # what the panel shows: one track of person 1
    store.add_track(summary(2, who=1, seen=200.0))  # meanwhile another track joins that group (same group id)
    assert [g.times_seen for g in store.groups()] == [2]
    assert store.forget(shown.ids) == 1  # only the track the user saw
    (left,) = store.groups()
    assert left.last_seen == 201.0
    with pytest.raises(ReviewError, match="no longer kept"):
        store.pick(shown.ids)
    with pytest.raises(ReviewError, match="no longer kept"):
        store.merge(shown.ids, left.ids)


# -- ids: a store that opens its database after keeping faces gives every face its own id --------------------------


@pytest.mark.usefixtures("no_fold")
def test_open_after_new_tracks_keeps_them_all_with_distinct_ids() -> None:
    backend = MemoryBackend()
    earlier = ReviewStore(Retention("days", 30), backend)
    for i in range(3):
        earlier.add_track(summary(i + 1, who=i, seen=1000.0 + i))
    earlier.flush()  # rows 1, 2, 3
    store = ReviewStore(Retention("days", 30), backend)
    store.add_track(summary(10, who=10, seen=1100.0))  # kept before `open` ran (ids 1 and 2)
    store.add_track(summary(11, who=11, seen=1101.0))
    store.open(now=1200.0)
    candidates = [c for g in store.groups() for c in g.candidates]
    assert len(store) == len(candidates) == 5
    assert len({c.id for c in candidates}) == 5
    assert sorted(c.last_seen for c in candidates) == [1001.0, 1002.0, 1003.0, 1101.0, 1102.0]
    assert store.flush() == 2  # the two kept before open are written; the loaded are not written again
    assert len(backend.rows) == 5
    old_ids = {c.id for c in candidates}
    store.forget([max(old_ids)])
    store.add_track(summary(12, who=12, seen=1300.0))
    newest = max((c for g in store.groups() for c in g.candidates), key=lambda c: c.last_seen)
    assert newest.id not in old_ids  # an id a panel may still hold is never given to another face


def test_a_fresh_store_lists_stored_candidates_by_their_row_ids() -> None:
    """The CLI's group numbers are row ids, the same from one command to the next."""
    backend = MemoryBackend()
    backend.next = 40
    earlier = ReviewStore(Retention("days", 30), backend)
    earlier.add_track(summary(1, who=1, seen=1000.0))
    earlier.flush()
    store = ReviewStore(Retention("days", 30), backend)
    store.open(now=1100.0)
    assert [g.id for g in store.groups()] == [40]


# -- switching galleries --------------------------------------------------------------------------------------------


def test_hand_over_moves_unwritten_faces_and_later_tracks_to_the_next_store() -> None:
    before = ReviewStore()  # no gallery open: nothing can be written
    before.add_track(summary(1, who=1))
    after = ReviewStore(Retention("session"), MemoryBackend())
    assert before.hand_over(after) == 1
    assert len(before) == 0
    assert len(after) == 1
    before.add_track(summary(2, who=2))  # a worker still holding the old sink
    assert len(after) == 2
    writer = ReviewStore(Retention("days", 3), MemoryBackend())
    writer.add_track(summary(3, who=3))
    assert writer.hand_over(ReviewStore()) == 0  # it writes its own: the caller flushes it
    assert writer.flush() == 1
    other = ReviewStore(Retention("session"), MemoryBackend())  # another gallery's faces are not this gallery's
    other.add_track(summary(4, who=4))
    successor = ReviewStore(Retention("session"), MemoryBackend())
    assert other.hand_over(successor) == 0
    assert len(successor) == 0


# -- no database round-trip under the lock add_track takes ----------------------------------------------------------


class LockWatchingBackend(MemoryBackend):
    """Records, for each call, whether another thread could take the store's lock meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.store: ReviewStore | None = None
        self.blocked: list[str] = []
        self.on_save: list[object] = []

    def _watch(self, what: str) -> None:
        assert self.store is not None
        free: list[bool] = []

        def probe() -> None:
            got = self.store._lock.acquire(timeout=0.2)  # type: ignore[union-attr]
            free.append(got)
            if got:
                self.store._lock.release()  # type: ignore[union-attr]

        t = threading.Thread(target=probe)
        t.start()
        t.join()
        if not free[0]:
            self.blocked.append(what)

    def save_candidates(self, candidates: list[Candidate]) -> list[int]:
        self._watch("save")
        rows = super().save_candidates(candidates)
        for hook in self.on_save:
            hook()  # type: ignore[operator]
        return rows

    def load_candidates(self, newest: int | None = None) -> list[Candidate]:
        self._watch("load")
        return super().load_candidates(newest)

    def delete_candidates(self, stored_ids: Sequence[int]) -> int:
        self._watch("delete")
        return super().delete_candidates(list(stored_ids))

    def link_candidates(self, stored_ids: list[int], link: int) -> None:
        self._watch("link")
        super().link_candidates(stored_ids, link)

    def expire_candidates(self, before: float) -> int:
        self._watch("expire")
        return super().expire_candidates(before)


@pytest.mark.usefixtures("no_fold")
def test_no_backend_call_holds_the_lock_the_live_path_takes() -> None:
    backend = LockWatchingBackend()
    store = ReviewStore(Retention("days", 2), backend)
    backend.store = store
    store.open(now=1000.0)
    for i in range(3):
        store.add_track(summary(i + 1, who=i, seen=1000.0 + i))
    first, *_ = sorted(store.groups(), key=lambda g: g.id)
    backend.on_save.append(lambda: store.remove(first))  # forgotten while it is being written
    assert store.flush() == 3
    assert backend.blocked == []  # the orphaned row was deleted after the lock was let go
    backend.on_save.clear()
    assert not any(c.stored_id in backend.rows for c in first.candidates)
    assert len(backend.rows) == 2
    a, b = store.groups()
    store.merge(a.ids, b.ids)
    store.forget(store.groups()[0].ids)
    store.expire(now=1000.0 + 10 * 86400)
    assert backend.blocked == []


def test_fold_tracks_and_weighted_average_link() -> None:
    from faceapp.core.grouping import fold_tracks

    a, b = person(1), person(2)
    vectors = np.stack([near(a, 1), near(b, 2), near(a, 3), near(a, 4)])
    members, means = fold_tracks(vectors, 0.1)
    assert members == [[0, 2, 3], [1]]
    np.testing.assert_allclose(means[0], track_mean(vectors[[0, 2, 3]]), atol=1e-4)  # a running mean
    assert fold_tracks(vectors, 0.0)[0] == [[0], [1], [2], [3]]
    # {a, m} against b: the average over tracks is near d(m, b) when m stands for 100 tracks, near 1.3 when for one
    a, b = np.eye(4)[0], np.eye(4)[1]
    m = (1.1 * a + b) / np.linalg.norm(1.1 * a + b)
    x = np.stack([a, m, b]).astype(np.float32)
    t = float(np.sum((m - b) ** 2)) + 0.05
    assert len(average_link(x, t)) == 2
    assert average_link(x, t, weights=[1, 100, 1]) == [[0, 1, 2]]


# -- review of the bounded store: nothing forgotten comes back, a failed delete is retried ---------------------------


class FlakyDelete(MemoryBackend):
    fail = False

    def delete_candidates(self, stored_ids: list[int]) -> int:
        if self.fail:
            raise RuntimeError("database is locked")
        return super().delete_candidates(stored_ids)


def test_a_delete_that_fails_during_flush_is_retried_at_the_next() -> None:
    backend = FlakyDelete()
    store = ReviewStore(Retention("days", 3), backend)
    store.add_track(stream(1, person(1), 160, 1000.0))
    store.flush()
    store.add_track(stream(2, person(1), 160, 1001.0))  # folds: the stored row is stale, written again
    backend.fail = True
    with pytest.raises(RuntimeError):
        store.flush()
    backend.fail = False
    store.flush()
    (group,) = store.groups()
    store.forget(group.ids)
    assert backend.rows == {}  # the stale row went too: nothing comes back after a restart


@pytest.mark.usefixtures("no_fold")
def test_forgetting_a_merged_group_deletes_members_that_left_memory() -> None:
    backend = MemoryBackend()
    one = review.candidate_of(summary(1, who=1, seen=0.0), 1).nbytes
    store = ReviewStore(Retention("days", 3), backend, memory_budget=int(2.5 * one))
    store.add_track(summary(1, who=1, seen=1000.0))
    store.add_track(summary(2, who=2, seen=1001.0))
    first, second = sorted(store.groups(), key=lambda g: g.id)
    store.merge(first.ids, second.ids)
    store.flush()
    store.add_track(summary(3, who=3, seen=1002.0))  # the budget pushes the oldest merged member out of memory
    store.flush()
    (merged,) = [g for g in store.groups() if g.candidates[0].link is not None]
    assert len(merged.ids) == 1  # only one member is still in memory
    store.forget(merged.ids)
    assert all(c.link is None for c in backend.rows.values())
    reopened = ReviewStore(Retention("days", 3), backend)
    reopened.open(now=1003.0)
    assert len(reopened) == 1  # person 3 only

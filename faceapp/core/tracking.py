"""Tracks between full detections: each face re-located in a crop around its last box, embedded again only on change.

A full-frame detection runs now and then (core/pipeline.py decides when); in between, every tracked face is found
again in a small crop around its last box by the same detector, which gives its box and five landmarks in every
frame at a fraction of a full pass. Alignment removes position, so a face that only moves keeps its embedding; it is
embedded again when its size or pose (the landmarks' shape) changes enough, or after `max_age` seconds.
Thread affinity: a TrackSet belongs to one thread (the pipeline's tracking stage).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from faceapp.core.align import similarity_matrix
from faceapp.core.types import Detection
from faceapp.core.video import iou

# Refresh rules, measured on the shared clips (docs/benchmarks.md, "Live rate"): a size change of a fifth, or a
# landmark shape change of 6% of the eye distance, or half a second without a new embedding. The age bounds how long
# a person who steps into another's box (same size and pose) can go unnoticed: 1 s kept the old name up to 2 s.
SIZE_CHANGE = 1.2
POSE_CHANGE = 0.06
MAX_AGE_S = 0.5

Relocate = Callable[[np.ndarray, tuple[float, float, float, float]], list[Detection]]


def pose_change(a: Detection, b: Detection) -> float:
    """How differently shaped two faces' landmarks are: RMS residual after the best similarity, per eye distance."""
    pa, pb = np.asarray(a.landmarks, np.float64), np.asarray(b.landmarks, np.float64)
    matrix = similarity_matrix(pa, pb)
    mapped = pa @ matrix[:, :2].T + matrix[:, 2]
    eyes = float(np.linalg.norm(pb[1] - pb[0])) or 1.0
    return float(np.sqrt(((mapped - pb) ** 2).sum(axis=1).mean()) / eyes)


def size_ratio(a: Detection, b: Detection) -> float:
    """The larger over the smaller of two faces' box diagonals (1: same size)."""
    da, db = np.hypot(a.width, a.height), np.hypot(b.width, b.height)
    return float(max(da, db) / max(min(da, db), 1e-6))


@dataclass
class Track:
    """One face followed across frames: its newest detection, embedding and votes."""

    track_id: int
    detection: Detection
    first_frame: int  # the frame the full detection first found it in
    box_frame: int = -1  # the frame `detection` was found in (a box is drawn only over that frame)
    tried: int = -1  # the last frame it was looked for in (found or not): by re-location, or the pass that found it
    missed: int = 0  # consecutive frames the re-location did not find it
    unconfirmed: int = 0  # consecutive full detections that did not find it
    embedding: np.ndarray | None = None
    embedded: Detection | None = None  # the detection the embedding was computed from
    embedded_at: float = -1e9
    requested: bool = False  # an embedding of it is in the embedding stage now
    fresh: bool = False  # the embedding has not been voted on yet
    history: deque[tuple[int | None, float, float]] = field(default_factory=lambda: deque(maxlen=5))
    verdict: tuple[int | None, float, float] = (None, float("inf"), float("inf"))

    def needs_embedding(self, now: float) -> bool:
        """New, grown or shrunk, turned, or due by age; never while an embedding of it is being computed."""
        if self.requested:
            return False
        if self.embedding is None or self.embedded is None:
            return True
        return (
            now - self.embedded_at >= MAX_AGE_S
            or size_ratio(self.detection, self.embedded) >= SIZE_CHANGE
            or pose_change(self.detection, self.embedded) >= POSE_CHANGE
        )

    def vote(self, person_id: int | None, distance: float, runner_up: float) -> tuple[int | None, float, float]:
        """Record a match of a new embedding; the person most often nearest lately, with median distances."""
        self.history.append((person_id, distance, runner_up))
        votes = Counter(pid for pid, _, _ in self.history)
        pid, _ = votes.most_common(1)[0]
        mine = [(d, r) for p, d, r in self.history if p == pid]
        self.verdict = (pid, float(np.median([d for d, _ in mine])), float(np.median([r for _, r in mine])))
        return self.verdict


class TrackSet:
    """The tracks of one scene: new ones from full detections, followed by re-location in every frame."""

    def __init__(self, min_iou: float = 0.3, max_missed: int = 3, max_unconfirmed: int = 2) -> None:
        self.min_iou, self.max_missed, self.max_unconfirmed = min_iou, max_missed, max_unconfirmed
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def clear(self) -> None:
        """Forget every track (a scene cut); ids keep rising."""
        self.tracks = {}

    def renumber(self, track_id: int) -> int:
        """Give a track a new id (another person stepped into its box) and forget its votes; returns the new id."""
        track = self.tracks.pop(track_id)
        track.track_id, self._next_id = self._next_id, self._next_id + 1
        track.history.clear()
        self.tracks[track.track_id] = track
        return track.track_id

    def merge(self, detections: list[Detection], frame_index: int) -> list[Track]:
        """A full detection's faces: known ones confirm their track, the others start tracks (returned)."""
        free = list(self.tracks.values())
        new = []
        for det in detections:
            best = max(free, key=lambda t: iou(t.detection.box, det.box), default=None)
            if best is not None and iou(best.detection.box, det.box) >= self.min_iou:
                free.remove(best)
                best.unconfirmed = 0
                continue
            track = Track(self._next_id, det, frame_index, box_frame=frame_index, tried=frame_index)
            self._next_id += 1
            self.tracks[track.track_id] = track
            new.append(track)
        for track in free:  # tracked, but the full detection saw no face there: a drifted or departed track
            track.unconfirmed += 1
            if track.unconfirmed >= self.max_unconfirmed:
                del self.tracks[track.track_id]
        return new

    def relocate(self, image: np.ndarray, find: Relocate, frame_index: int) -> bool:
        """Find every track's face again in frame `frame_index` (`image`) with `find`; False when a track was lost (a
        full pass is due).

        A track is looked for once per frame: one whose box is of this frame already (a full pass on it) or that was
        looked for in it before (the frame reported again) is left as it is, so no miss is counted twice."""
        lost = False
        taken = [t.detection.box for t in self.tracks.values() if t.box_frame == frame_index]
        for track in sorted(self.tracks.values(), key=lambda t: t.track_id):
            if track.tried == frame_index:
                continue
            track.tried = frame_index
            box = track.detection.box
            found = [d for d in find(image, box) if all(iou(d.box, other) < 0.5 for other in taken)]
            best = max(found, key=lambda d: iou(d.box, box), default=None)
            if best is None or iou(best.box, box) < self.min_iou:
                track.missed += 1
                if track.missed > self.max_missed:
                    del self.tracks[track.track_id]
                    lost = True
                continue
            track.detection, track.missed, track.box_frame = best, 0, frame_index
            taken.append(best.box)
        return not lost

    def visible(self, frame_index: int) -> list[Track]:
        """Tracks whose box is of frame `frame_index` (found there), largest first: a box of an older frame is not
        where the face is now (issue 16: a walk-in's box from the frame its full pass ran on, reported on a later
        frame before re-location, was drawn over the hair of a head that had turned)."""
        found = (t for t in self.tracks.values() if t.missed == 0 and t.box_frame == frame_index)
        return sorted(found, key=lambda t: t.detection.area, reverse=True)

"""Live recognition: the worker that turns the newest frame into labelled faces, and a tracker that steadies labels."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import Detection
from faceapp.core.video import Frame, LatestFrameMailbox, iou

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveFace:
    """A face in a frame: its track, box, nearest enrolled person and distance (tau is applied when shown)."""

    track_id: int
    detection: Detection
    person_id: int | None
    name: str | None
    distance: float
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    def accepted(self, threshold: float) -> bool:
        """Whether this face counts as its nearest person under tau."""
        return self.name is not None and self.distance <= threshold

    def label(self, threshold: float) -> str:
        """The person's name under tau, else "Unknown"."""
        return self.name if self.accepted(threshold) and self.name else "Unknown"


@dataclass(frozen=True)
class FrameResult:
    """What the worker found in one frame, with per-stage times in milliseconds."""

    frame_index: int
    timestamp: float
    faces: tuple[LiveFace, ...]
    timings: dict[str, float]
    model: str
    frame_shape: tuple[int, int] = (0, 0)


@dataclass
class _Track:
    track_id: int
    box: tuple[float, float, float, float]
    history: deque[tuple[int | None, float]]
    last_seen: int


class Tracker:
    """Greedy IoU tracker; each track votes over its last few matches so a label does not flicker."""

    def __init__(self, window: int = 5, min_iou: float = 0.3, max_missed: int = 10) -> None:
        self.window, self.min_iou, self.max_missed = window, min_iou, max_missed
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._tick = 0

    def update(self, observations: list[tuple[Detection, int | None, float]]) -> list[tuple[int, int | None, float]]:
        """Assign each (detection, nearest person, distance) a track; returns (track id, person, smoothed distance)."""
        self._tick += 1
        free = list(self._tracks)
        out = []
        for det, pid, dist in observations:
            best = max(free, key=lambda t: iou(t.box, det.box), default=None)
            if best is None or iou(best.box, det.box) < self.min_iou:
                best = _Track(self._next_id, det.box, deque(maxlen=self.window), self._tick)
                self._next_id += 1
                self._tracks.append(best)
            else:
                free.remove(best)
            best.box, best.last_seen = det.box, self._tick
            best.history.append((pid, dist))
            out.append((best.track_id, *self._vote(best)))
        self._tracks = [t for t in self._tracks if self._tick - t.last_seen <= self.max_missed]
        return out

    @staticmethod
    def _vote(track: _Track) -> tuple[int | None, float]:
        votes = Counter(pid for pid, _ in track.history)
        pid, _ = votes.most_common(1)[0]
        dists = [d for p, d in track.history if p == pid]
        return pid, float(np.median(dists))


class RecognitionWorker(threading.Thread):
    """Takes the newest frame from the mailbox, detects, embeds and matches, and reports a FrameResult.

    The gallery is an immutable snapshot swapped by reference (set_gallery), so the worker never touches the database.
    """

    def __init__(
        self,
        mailbox: LatestFrameMailbox[Frame],
        analyzer: FaceAnalyzer,
        gallery: GallerySnapshot,
        on_result: Callable[[FrameResult], None],
        keep_embeddings: bool = False,
    ) -> None:
        super().__init__(name="faceapp-recognition", daemon=True)
        self.mailbox = mailbox
        self._analyzer = analyzer
        self._gallery = gallery
        self.on_result = on_result
        self.keep_embeddings = keep_embeddings
        self.tracker = Tracker()
        self._stop_event = threading.Event()
        self.error: str | None = None

    def set_gallery(self, gallery: GallerySnapshot) -> None:
        """Use a new gallery snapshot from the next frame on (thread-safe: one reference assignment)."""
        self._gallery = gallery

    def set_analyzer(self, analyzer: FaceAnalyzer, gallery: GallerySnapshot) -> None:
        """Switch detector/embedder (and the gallery for its model) from the next frame on."""
        self._analyzer, self._gallery = analyzer, gallery
        self.tracker = Tracker()

    def stop(self) -> None:
        """Ask the loop to end and wake it; join() afterwards."""
        self._stop_event.set()
        self.mailbox.close()

    def run(self) -> None:
        """The recognition loop."""
        while not self._stop_event.is_set():
            frame = self.mailbox.get(timeout=0.1)
            if frame is None or self._stop_event.is_set():
                continue
            try:
                self.on_result(self.process(frame))
            except Exception as exc:  # keep the app alive; the GUI shows the message
                log.exception("recognition failed on frame %d", frame.index)
                self.error = f"Recognition failed: {exc}"

    def process(self, frame: Frame) -> FrameResult:
        """Detect, embed and match one frame."""
        analyzer, gallery = self._analyzer, self._gallery
        t0 = time.perf_counter()
        detections = analyzer.detector.detect(frame.image)
        t1 = time.perf_counter()
        faces = analyzer.embed(frame.image, detections)
        t2 = time.perf_counter()
        observations: list[tuple[Detection, int | None, float]] = []
        if faces:
            matches = gallery.identify(np.stack([f.embedding for f in faces]), threshold=4.0)
            observations = [(f.detection, m.person_id, m.distance) for f, m in zip(faces, matches, strict=True)]
        tracked = self.tracker.update(observations)
        t3 = time.perf_counter()
        live = tuple(
            LiveFace(
                track_id,
                f.detection,
                pid,
                gallery.names.get(pid) if pid is not None else None,
                dist,
                f.embedding if self.keep_embeddings else None,
            )
            for f, (track_id, pid, dist) in zip(faces, tracked, strict=True)
        )
        timings = {
            "detect": (t1 - t0) * 1e3,
            "embed": (t2 - t1) * 1e3,
            "match": (t3 - t2) * 1e3,
            "total": (t3 - t0) * 1e3,
        }
        return FrameResult(frame.index, frame.timestamp, live, timings, gallery.model, frame.image.shape[:2])

"""Live recognition: the worker that turns the newest frame into labelled faces, the tracker that follows them, and
the evidence over each track (core.track_evidence) that names it."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.evidence import TrackSink
from faceapp.core.matching import GallerySnapshot
from faceapp.core.track_evidence import Certainty, EvidenceBook, EvidenceRules, Verdict, face_quality
from faceapp.core.types import Detection, MatchRule
from faceapp.core.video import Frame, LatestFrameMailbox, PauseGate, iou

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveFace:
    """A face in a frame: its track, box, nearest enrolled person, distance and the next person's distance.

    From a live worker, `verdict` is the track's decision from its evidence (core.track_evidence), made under the
    worker's rule (`set_rule`, which the window keeps equal to the view's), and the person and distances are the
    evidence's. Without one (a face built by hand), the rule is applied to the distances when shown.
    """

    track_id: int
    detection: Detection
    person_id: int | None
    name: str | None
    distance: float
    runner_up: float = float("inf")
    claimed_distance: float = float("inf")  # to the claimed person of verify mode (FrameResult.claimed_id), if any
    verdict: Verdict | None = None

    @property
    def certainty(self) -> Certainty:
        """The track's state: undecided while its evidence is not yet clear, then named or unknown.

        A face without a verdict (built by hand) is never undecided; whether the rule accepts it is `accepted`.
        """
        if self.verdict is not None:
            return self.verdict.state
        return "named" if self.name is not None else "unknown"

    def accepted(self, rule: MatchRule | float) -> bool:
        """Whether this face counts as its nearest person: the track's verdict, else the rule (a bare float: tau).

        A named verdict also needs the evidence within the shown rule's tau and its hold band, so a tau lowered in the
        settings (previewed before the worker has it) takes the name off at once.
        """
        if self.verdict is not None:
            return self.verdict.named and self.distance <= MatchRule.of(rule).threshold * (1 + EvidenceRules.hold)
        return self.name is not None and MatchRule.of(rule).accepts(self.distance, self.runner_up)

    def ambiguous(self, rule: MatchRule | float) -> bool:
        """Within tau, but too close to the next person to name."""
        r = MatchRule.of(rule)
        return self.name is not None and r.within(self.distance) and not r.clear(self.distance, self.runner_up)

    def label(self, rule: MatchRule | float) -> str:
        """The person's name under the rule, else "Unknown"."""
        return self.name if self.accepted(rule) and self.name else "Unknown"

    def verified(self, threshold: float) -> bool:
        """1:1: whether this face is the claimed person (their nearest sample within tau)."""
        return MatchRule.of(threshold).within(self.claimed_distance)


@dataclass(frozen=True)
class FrameResult:
    """What the worker found in one frame, with per-stage times in milliseconds."""

    frame_index: int
    timestamp: float
    faces: tuple[LiveFace, ...]
    timings: dict[str, float]
    model: str
    claimed_id: int | None = None  # the person verify mode claimed when this frame was matched
    # The frame's pixels (the capture's own array, not a copy): click-to-enroll crops from the frame a box came from,
    # and the view checks that the shown frame still shows what this one did where each box is.
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    scene: int = 0  # the frame's scene number (core.video.Frame.scene)

    @property
    def again(self) -> bool:
        """A frame reported once more for what the staged pipeline's stages finished since (core.pipeline): no new
        frame, so the rates count it not."""
        return "again" in self.timings


@dataclass
class _Track:
    track_id: int
    box: tuple[float, float, float, float]
    history: deque[tuple[int | None, float, float]]  # (nearest person, distance, next person's distance)
    last_seen: int
    embedding: np.ndarray | None = None
    embedded_box: tuple[float, float, float, float] | None = None
    since_embedding: int = 0


class Tracker:
    """Greedy IoU tracker. Each track keeps its latest embedding and votes over its last few matches.

    A face that stays put is re-embedded every `embed_every` updates and re-matched against the gallery on every one
    (matching costs microseconds), so labels follow gallery changes at once while the network runs less often.
    """

    def __init__(self, window: int = 5, min_iou: float = 0.3, max_missed: int = 10, embed_every: int = 3) -> None:
        self.window, self.min_iou, self.max_missed, self.embed_every = window, min_iou, max_missed, embed_every
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1
        self._tick = 0

    def assign(self, detections: list[Detection]) -> list[int]:
        """A track id for each detection (largest first), new tracks for faces that match none."""
        self._tick += 1
        free = list(self._tracks.values())
        ids = []
        for det in detections:
            best = max(free, key=lambda t: iou(t.box, det.box), default=None)
            if best is None or iou(best.box, det.box) < self.min_iou:
                best = _Track(self._next_id, det.box, deque(maxlen=self.window), self._tick)
                self._next_id += 1
                self._tracks[best.track_id] = best
            else:
                free.remove(best)
            best.box, best.last_seen = det.box, self._tick
            best.since_embedding += 1
            ids.append(best.track_id)
        self._tracks = {k: t for k, t in self._tracks.items() if self._tick - t.last_seen <= self.max_missed}
        return ids

    def end_tracks(self) -> None:
        """Forget every track (a scene cut): faces after it get new tracks, votes and embeddings; ids keep rising."""
        self._tracks = {}

    def needs_embedding(self, track_id: int) -> bool:
        """Whether the track's face must go through the network this update (new, moved, or due)."""
        t = self._tracks[track_id]
        if t.embedding is None or t.embedded_box is None:
            return True
        return t.since_embedding >= self.embed_every or iou(t.box, t.embedded_box) < 0.7

    def set_embedding(self, track_id: int, embedding: np.ndarray) -> None:
        """Remember the track's newest embedding."""
        t = self._tracks[track_id]
        t.embedding, t.embedded_box, t.since_embedding = embedding, t.box, 0

    def embedding(self, track_id: int) -> np.ndarray:
        """The track's latest embedding."""
        found = self._tracks[track_id].embedding
        assert found is not None, "set_embedding comes first"
        return found

    def track_ids(self) -> list[int]:
        """The ids of the tracks kept now."""
        return list(self._tracks)

    def renumber(self, track_id: int) -> int:
        """Give a track a new id (another person stepped into its box) and forget its votes; returns the new id."""
        t = self._tracks.pop(track_id)
        t.track_id, self._next_id = self._next_id, self._next_id + 1
        t.history.clear()
        self._tracks[t.track_id] = t
        return t.track_id

    def with_fresh_votes(self) -> Tracker:
        """A copy whose tracks keep boxes and embeddings but no votes (they named the old gallery's people)."""
        fresh = Tracker(self.window, self.min_iou, self.max_missed, self.embed_every)
        fresh._next_id, fresh._tick = self._next_id, self._tick
        fresh._tracks = {
            k: _Track(
                t.track_id,
                t.box,
                deque(maxlen=self.window),
                t.last_seen,
                t.embedding,
                t.embedded_box,
                t.since_embedding,
            )
            for k, t in self._tracks.items()
        }
        return fresh

    def vote(
        self, track_id: int, person_id: int | None, distance: float, runner_up: float = float("inf")
    ) -> tuple[int | None, float, float]:
        """Record this update's match; the person most often nearest lately, with the median distance to them and
        the median distance to the next person in those updates."""
        t = self._tracks[track_id]
        t.history.append((person_id, distance, runner_up))
        votes = Counter(pid for pid, _, _ in t.history)
        pid, _ = votes.most_common(1)[0]
        mine = [(d, r) for p, d, r in t.history if p == pid]
        return pid, float(np.median([d for d, _ in mine])), float(np.median([r for _, r in mine]))


class _State(NamedTuple):
    analyzer: FaceAnalyzer
    gallery: GallerySnapshot
    tracker: Tracker


class RecognitionWorker(threading.Thread):
    """Takes the newest frame from the mailbox, detects, embeds and matches, and reports a FrameResult.

    The worker owns its state (analyzer, gallery snapshot, tracker, track evidence): other threads only hand it
    pending values (set_gallery, set_analyzer, set_claim, set_rule, set_track_sink), which it applies at the top of its
    next frame, so a frame never mixes one model's embeddings with another model's gallery and no other thread touches
    the tracker. It never touches the database: galleries are immutable snapshots. Each face is named by its track's
    evidence (core.track_evidence); a track that ends goes to the track sink, from this thread.
    """

    def __init__(
        self,
        mailbox: LatestFrameMailbox[Frame],
        analyzer: FaceAnalyzer,
        gallery: GallerySnapshot,
        on_result: Callable[[FrameResult], None],
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name="faceapp-recognition", daemon=True)
        self.mailbox = mailbox
        self._state = _State(analyzer, gallery, Tracker())  # read and written by the worker's thread only
        self._claim: int | None = None
        self._pending_lock = threading.Lock()
        self._pending_analyzer: tuple[FaceAnalyzer, GallerySnapshot] | None = None
        self._pending_gallery: GallerySnapshot | None = None
        self.on_result = on_result
        self.on_error = on_error or (lambda message: None)
        self._stop_event = threading.Event()
        self.gate = PauseGate()  # another thread borrows the analyzer between two frames (a guided capture)
        self._last_scene: int | None = None  # the previous frame's scene, to end tracks at a cut
        self._rule = default_rule(analyzer)
        self._pending_rule: MatchRule | None = None
        self._sink: TrackSink | None = None
        self._book = EvidenceBook()  # the worker's thread only

    def set_rule(self, rule: MatchRule) -> None:
        """Any thread: the rule (tau and margin) tracks are named under, from the next frame on (decided again)."""
        self._pending_rule = rule

    def set_track_sink(self, sink: TrackSink | None) -> None:
        """Any thread: who hears of each track that ends for good (core.evidence); None: nobody."""
        self._sink = sink

    def set_gallery(self, gallery: GallerySnapshot) -> None:
        """Any thread: use a new gallery snapshot of the same model from the next frame on.

        Tracks keep their embeddings, matched against the new gallery at once, but their votes start afresh, so a
        newly enrolled person's name replaces "Unknown" on the very next update. A snapshot of another model than
        the running embedder's is ignored: set_analyzer brings it with the new embedder.
        """
        with self._pending_lock:
            self._pending_gallery = gallery

    def set_analyzer(self, analyzer: FaceAnalyzer, gallery: GallerySnapshot) -> None:
        """Any thread: switch detector/embedder and the gallery for its model together, from the next frame on."""
        with self._pending_lock:
            self._pending_analyzer, self._pending_gallery = (analyzer, gallery), None

    def set_claim(self, person_id: int | None) -> None:
        """Any thread: verify mode's claimed person (None: off); each face then carries its distance to them."""
        self._claim = person_id

    def stop(self) -> None:
        """Ask the loop to end and wake it; join() afterwards."""
        self._stop_event.set()
        self.mailbox.close()

    def run(self) -> None:
        """The recognition loop (the worker's thread); the tracks still open end when it stops."""
        while not self._stop_event.is_set():
            self.gate.hold(self._stop_event)  # outside the analyzer: a pause is acknowledged here, and only here
            frame = self.mailbox.get(timeout=0.1)
            if frame is None or self._stop_event.is_set() or self.gate.requested:
                continue
            try:
                self.on_result(self.process(frame))
            except Exception as exc:  # keep the app alive; the GUI shows the message
                log.exception("recognition failed on frame %d", frame.index)
                self.on_error(f"Recognition failed: {exc}")
        self._book.sink = self._sink
        self._book.end_all(self._state.gallery.model)

    def _apply_pending(self) -> _State:
        with self._pending_lock:
            analyzer, gallery = self._pending_analyzer, self._pending_gallery
            self._pending_analyzer = self._pending_gallery = None
        rule, self._pending_rule = self._pending_rule, None
        self._book.sink = self._sink
        state = self._state
        if analyzer is not None:
            self._book.end_all(state.gallery.model)  # the old model's tracks end; embeddings do not cross models
            state = _State(analyzer[0], analyzer[1], Tracker())
        if gallery is not None and gallery.model == state.gallery.model:
            state = _State(state.analyzer, gallery, state.tracker.with_fresh_votes())
            self._book.forget_decisions()  # the evidence stays; it is matched against the new gallery at once
        if rule is not None and rule != self._rule:
            self._rule = rule
            self._book.forget_decisions()
        self._state = state
        return state

    def process(self, frame: Frame) -> FrameResult:
        """The worker's thread: apply pending changes, then detect, embed (new or due tracks only) and match."""
        analyzer, gallery, tracker = self._apply_pending()
        claim, rule, book = self._claim, self._rule, self._book
        t0 = time.perf_counter()
        if self._last_scene is not None and frame.scene != self._last_scene:
            tracker.end_tracks()  # the same place after a cut is someone else: no votes or embeddings carry over
            book.end_all(gallery.model)
        self._last_scene = frame.scene
        detections = analyzer.detector.detect(frame.image)
        t1 = time.perf_counter()
        ids = tracker.assign(detections)
        book.retain(tracker.track_ids(), gallery.model)  # tracks the tracker dropped have ended
        # An undecided track is embedded in every update, so a new face is named after 3 updates, not 3 refreshes.
        due = [i for i, tid in enumerate(ids) if tracker.needs_embedding(tid) or book.undecided(tid)]
        now = time.time()
        if due:
            fresh = analyzer.embed(frame.image, [detections[i] for i in due])
            for i, face in zip(due, fresh, strict=True):
                tracker.set_embedding(ids[i], face.embedding)
                quality = face_quality(frame.image, detections[i])
                seen = (frame.image, detections[i])
                if book.observe(ids[i], face.embedding, quality, now, rule, gallery.model, seen):
                    new = tracker.renumber(ids[i])  # someone else in the same box: a new track from here on
                    book.rename(ids[i], new)
                    ids[i] = new
        book.seen(ids, now)
        t2 = time.perf_counter()
        faces: list[LiveFace] = []
        for det, tid in zip(detections, ids, strict=True):
            v = book.decide(tid, gallery, rule)
            vec = tracker.embedding(tid)
            claimed = gallery.verify(vec, claim, 4.0).distance if claim is not None else float("inf")
            faces.append(LiveFace(tid, det, v.person_id, v.name, v.distance, v.runner_up, claimed, v))
        t3 = time.perf_counter()
        timings = {
            "detect": (t1 - t0) * 1e3,
            "embed": (t2 - t1) * 1e3,
            "match": (t3 - t2) * 1e3,
            "total": (t3 - t0) * 1e3,
            "embedded": float(len(due)),
        }
        return FrameResult(
            frame.index, frame.timestamp, tuple(faces), timings, gallery.model, claim, frame.image, frame.scene
        )


def default_rule(analyzer: FaceAnalyzer) -> MatchRule:
    """The embedder's own default tau and margin (until the window sets the user's rule)."""
    info = getattr(analyzer.embedder, "info", None)
    if info is None:
        return MatchRule(0.5)
    return MatchRule(float(info.default_threshold), float(getattr(info, "default_margin", 0.0)))

"""The staged live pipeline: track every frame, detect now and then, embed what changed, each stage on its thread.

Three threads, each owning its state and passing immutable values by latest-value hand-off:
- tracking (this worker's own thread): takes the newest frame, finds every tracked face again near its last box
  (core/tracking.py), matches the tracks' embeddings against the gallery snapshot and reports a FrameResult for
  every frame it takes;
- detection: a full-frame pass on the newest frame handed to it, at most every `detect_every_s` while faces are
  tracked and as often as it can while none are (and at once after a scene cut or a lost track); its faces come
  back to the tracking thread, which starts tracks for the new ones;
- embedding: the faces that need it (new, resized, turned, or aged: Track.needs_embedding) in one batch per request.
A stage hands work on only when the next one is idle, so nothing queues and nothing is lost: the request always
carries the newest frame's faces. Each stage runs torch with one thread (`own_threads`): two stages on two cores,
and no OpenMP threads spinning against each other (issue 12: 13-17x the CPU time with torch's default under load).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from faceapp.core.analyzer import FaceAnalyzer, own_threads
from faceapp.core.evidence import TrackSink
from faceapp.core.live import FrameResult, LiveFace, default_rule
from faceapp.core.matching import GallerySnapshot
from faceapp.core.track_evidence import EvidenceBook, face_quality
from faceapp.core.tracking import Track, TrackSet
from faceapp.core.types import Detection, MatchRule
from faceapp.core.video import Frame, LatestFrameMailbox, PauseGate

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

DETECT_EVERY_S = 0.1  # while faces are tracked: a face that walks in is found within this and one pass


@dataclass(frozen=True)
class _DetectJob:
    scene: int
    frame: Frame
    detector: Any
    analyzer: FaceAnalyzer | None = None  # set while no face is tracked: the faces found are embedded at once


@dataclass(frozen=True)
class _Found:
    detections: list[Detection]
    embeddings: list[np.ndarray] | None  # with the job's analyzer: one per detection, from the same frame
    embed_ms: float = 0.0


@dataclass(frozen=True)
class _EmbedJob:
    scene: int
    image: np.ndarray = field(repr=False)
    faces: tuple[tuple[int, Detection], ...]
    analyzer: FaceAnalyzer
    urgent: bool = False  # a face in it has no name yet: its result is reported without waiting for the next frame


@dataclass(frozen=True)
class _Done(Generic[T]):
    job: T
    output: Any
    wall_ms: float
    cpu_ms: float


class _Stage(threading.Thread, Generic[T]):
    """A worker thread that runs `work` on one job at a time; `idle` says whether it can take another."""

    def __init__(
        self,
        name: str,
        work: Callable[[T], Any],
        on_error: Callable[[str], None],
        on_done: Callable[[_Done[T]], None] | None = None,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.work, self.on_error, self.on_done = work, on_error, on_done
        self.inbox: LatestFrameMailbox[T] = LatestFrameMailbox()
        self._done: list[_Done[T]] = []
        self._lock = threading.Lock()
        self._busy = False
        self._idle = threading.Event()  # set while no job is waiting or running
        self._idle.set()
        self._stop_event = threading.Event()

    @property
    def idle(self) -> bool:
        """No job waiting or running."""
        return not self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Until no job is waiting or running (True), or `timeout` seconds (False)."""
        return self._idle.wait(timeout)

    def submit(self, job: T) -> None:
        """Tracking thread: hand a job over (only when idle, so none is ever replaced)."""
        self._busy = True
        self._idle.clear()
        self.inbox.put(job)

    def collect(self) -> list[_Done[T]]:
        """Tracking thread: the jobs finished since the last call."""
        with self._lock:
            done, self._done = self._done, []
        return done

    def stop(self) -> None:
        """Ask the loop to end and wake it."""
        self._stop_event.set()
        self.inbox.close()

    def run(self) -> None:
        """The stage's loop."""
        own_threads(1)
        while not self._stop_event.is_set():
            job = self.inbox.get(timeout=0.1)
            if job is None or self._stop_event.is_set():
                continue
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                output = self.work(job)
            except Exception as exc:  # keep the app alive; the GUI shows the message
                log.exception("%s failed", self.name)
                self.on_error(f"Recognition failed: {exc}")
                output = None
            done = _Done(job, output, (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3)
            with self._lock:
                self._done.append(done)
            self._idle.set()  # before _busy: once the tracking thread may submit again, the event cannot be stale
            self._busy = False
            if self.on_done is not None:  # after both: the tracking thread it wakes may hand this stage the next job
                self.on_done(done)


def _detect(job: _DetectJob) -> _Found:
    found = list(job.detector.detect(job.frame.image))
    if job.analyzer is None or not found:
        return _Found(found, None)
    try:
        return _walk_in(job, found)
    except Exception:  # the faces still start tracks; the embedding stage tries them again
        log.exception("embedding the faces a full pass found failed")
        return _Found(found, None)


def _walk_in(job: _DetectJob, found: list[Detection]) -> _Found:
    assert job.analyzer is not None
    # A face walking into an empty view: embed it here, on the frame it was found in, rather than in the next frame's
    # hand-off to the embedding stage (a frame and a hand-off sooner to its first name; issue 12's time to name).
    start = time.perf_counter()
    faces = job.analyzer.embed(job.frame.image, found)
    return _Found([f.detection for f in faces], [f.embedding for f in faces], (time.perf_counter() - start) * 1e3)


def _embed(job: _EmbedJob) -> list[np.ndarray]:
    faces = job.analyzer.embed(job.image, [det for _, det in job.faces])
    return [face.embedding for face in faces]


class PipelineWorker(threading.Thread):
    """The live pipeline's tracking thread and its two stages; the same interface as RecognitionWorker.

    Other threads only hand it pending values (set_gallery, set_analyzer, set_claim, set_rule, set_track_sink),
    applied at the top of its next frame. It never touches the database. Each face is named by its track's evidence
    (core.track_evidence); a track that ends goes to the track sink, from the tracking thread.
    """

    def __init__(
        self,
        mailbox: LatestFrameMailbox[Frame],
        analyzer: FaceAnalyzer,
        gallery: GallerySnapshot,
        on_result: Callable[[FrameResult], None],
        on_error: Callable[[str], None] | None = None,
        detect_every_s: float = DETECT_EVERY_S,
    ) -> None:
        super().__init__(name="faceapp-recognition", daemon=True)
        self.mailbox = mailbox
        self.on_result = on_result
        self.on_error = on_error or (lambda message: None)
        self.detect_every_s = detect_every_s
        self._analyzer, self._gallery = analyzer, gallery  # the tracking thread's, like everything below
        self._relocator = _twin(analyzer.detector)
        self._tracks = TrackSet()
        self._scene = 0  # bumped at every cut and model switch: stage outputs of an older scene are dropped
        self._last_frame_scene: int | None = None  # the capture thread's scene number of the previous frame taken
        self._last_detect = -1e9
        self._force_detect = True
        self._claim: int | None = None
        self._pending_lock = threading.Lock()
        self._pending_analyzer: tuple[FaceAnalyzer, GallerySnapshot] | None = None
        self._pending_gallery: GallerySnapshot | None = None
        self._stop_event = threading.Event()
        self.gate = PauseGate()  # another thread borrows the analyzer between two frames (a guided capture)
        self._detector = _Stage[_DetectJob]("faceapp-detect", _detect, self.on_error, self._detected)
        self._embedder = _Stage[_EmbedJob]("faceapp-embed", _embed, self.on_error, self._embedded)
        self._news = threading.Event()  # a stage finished a job whose faces may be named: report before the next frame
        self._last_frame: Frame | None = None  # the tracking thread's latest frame (reported again on news)
        self._rule = default_rule(analyzer)
        self._pending_rule: MatchRule | None = None
        self._sink: TrackSink | None = None
        self._book = EvidenceBook()  # the tracking thread's

    def set_rule(self, rule: MatchRule) -> None:
        """Any thread: the rule (tau and margin) tracks are named under, from the next frame on (decided again)."""
        self._pending_rule = rule

    def set_track_sink(self, sink: TrackSink | None) -> None:
        """Any thread: who hears of each track that ends for good (core.evidence); None: nobody."""
        self._sink = sink

    def set_gallery(self, gallery: GallerySnapshot) -> None:
        """Any thread: a new snapshot of the same model from the next frame on (tracks keep embeddings, not votes)."""
        with self._pending_lock:
            self._pending_gallery = gallery

    def set_analyzer(self, analyzer: FaceAnalyzer, gallery: GallerySnapshot) -> None:
        """Any thread: switch detector/embedder and the gallery for its model together, from the next frame on."""
        with self._pending_lock:
            self._pending_analyzer, self._pending_gallery = (analyzer, gallery), None

    def set_claim(self, person_id: int | None) -> None:
        """Any thread: verify mode's claimed person (None: off); each face then carries its distance to them."""
        self._claim = person_id

    def warm(self, image: np.ndarray) -> None:
        """Before start: one full pass and one re-location on `image`, so the first frames pay no first-use cost."""
        found = self._analyzer.detector.detect(image)
        if self._relocator is not None and found:
            self._relocator.detect_near(image, [found[0].box])

    def _detected(self, done: _Done[_DetectJob]) -> None:
        """A stage thread: a walk-in's faces were embedded; wake the tracking thread to report them now."""
        if isinstance(done.output, _Found) and done.output.embeddings is not None:
            self._wake()

    def _embedded(self, done: _Done[_EmbedJob]) -> None:
        """A stage thread: an embedding job with a face that had no name yet ended."""
        if done.job.urgent:
            self._wake()

    def _wake(self) -> None:
        self._news.set()
        self.mailbox.nudge()

    def stop(self) -> None:
        """Ask all three loops to end and wake them; join() afterwards."""
        self._stop_event.set()
        self.mailbox.close()
        self._detector.stop()
        self._embedder.stop()

    def join(self, timeout: float | None = None) -> None:
        """Join the tracking thread and both stage threads, within one `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        super().join(left())
        for stage in (self._detector, self._embedder):
            if stage.ident is not None:  # started
                stage.join(left())

    def is_alive(self) -> bool:
        """Whether the tracking thread or a stage thread still runs (a stage may be inside torch after stop)."""
        stages = [s for s in (self._detector, self._embedder) if s.ident is not None]
        return super().is_alive() or any(s.is_alive() for s in stages)

    def run(self) -> None:
        """The tracking loop (this worker's thread); the stages start and end with it."""
        own_threads(1)
        if self._relocator is not None:  # load its model now, not at the first face
            self._relocator.detect_near(np.zeros((96, 96, 3), np.uint8), [(24.0, 24.0, 72.0, 72.0)])
        self._detector.start()
        self._embedder.start()
        try:
            while not self._stop_event.is_set():
                if self.gate.requested:  # hold only after settling: a pause asked for later waits a frame
                    self._settle()
                    if self.gate.hold(self._stop_event):  # no frame in hand, both stages idle: the analyzer is free
                        self._after_pause()
                frame = self.mailbox.get(timeout=0.0 if self._news.is_set() else 0.1)
                if frame is None and self._news.is_set():
                    # A stage finished between two frames with faces that may now be named: report them on the
                    # latest frame again (its timings carry again=1) rather than up to a frame later (issue 12).
                    frame = self._last_frame
                    if frame is None:  # none since a pause or a new analyzer: the next frame reports the news
                        self._news.clear()
                if frame is None or self._stop_event.is_set() or self.gate.requested:
                    continue
                self._news.clear()  # before process, which collects every output finished until then
                again, self._last_frame = frame is self._last_frame, frame
                try:
                    self.on_result(self.process(frame, again=again))
                except Exception as exc:  # keep the app alive; the GUI shows the message
                    log.exception("recognition failed on frame %d", frame.index)
                    self.on_error(f"Recognition failed: {exc}")
        finally:
            self._detector.stop()
            self._embedder.stop()
            self._detector.join(0.5)
            self._embedder.join(0.5)
            self._book.sink = self._sink
            self._book.end_all(self._gallery.model)  # the tracks still open end with the worker

    def _settle(self) -> None:
        """Before a pause is acknowledged: until both stages have finished the jobs they hold (their outputs wait to be
        collected after the pause), or stop."""
        stages = [s for s in (self._detector, self._embedder) if s.ident is not None]
        while not self._stop_event.is_set() and not all(s.wait_idle(0.1) for s in stages):
            pass

    def _apply_pending(self) -> None:
        with self._pending_lock:
            analyzer, gallery = self._pending_analyzer, self._pending_gallery
            self._pending_analyzer = self._pending_gallery = None
        rule, self._pending_rule = self._pending_rule, None
        self._book.sink = self._sink
        if analyzer is not None:
            self._book.end_all(self._gallery.model)  # the old model's tracks end; embeddings do not cross models
            self._analyzer, self._gallery = analyzer
            self._relocator = _twin(analyzer[0].detector)
            self._new_scene()
        if gallery is not None and gallery.model == self._gallery.model:
            self._gallery = gallery
            self._book.forget_decisions()  # the evidence stays; it is matched against the new gallery at once
        if rule is not None and rule != self._rule:
            self._rule = rule
            self._book.forget_decisions()

    def _after_pause(self) -> None:
        """Back from a pause (seconds of a guided capture): the view may show someone else in the same place, and
        what the stages finished before it is of frames long gone: a new scene (tracks end, a full pass at once)."""
        self._detector.collect()
        self._embedder.collect()
        self._news.clear()
        self._last_frame = None
        self._new_scene()

    def _new_scene(self) -> None:
        self._book.end_all(self._gallery.model)
        self._tracks.clear()
        self._scene += 1
        self._force_detect = True

    def process(self, frame: Frame, again: bool = False) -> FrameResult:
        """The tracking thread: pending changes, stage outputs, re-location, hand-offs, matching; one FrameResult.

        `again`: the frame was processed already and is reported once more for what the stages finished since (its
        timings carry again=1). Only their outputs are applied, and the tracks a full pass started since are looked
        for in it (their boxes are of an older frame); no track is looked for twice (a miss would count twice) and no
        new jobs start (the same image would be embedded again and counted twice in a track's evidence)."""
        self._apply_pending()
        claim = self._claim  # read once: the distances and the result name the same claimed person
        t0, c0 = time.perf_counter(), time.thread_time()
        if self._last_frame_scene is not None and frame.scene != self._last_frame_scene:
            self._new_scene()  # the capture thread saw a cut: the same place after it is someone else
        self._last_frame_scene = frame.scene
        timings: dict[str, float] = {}
        embedded = 0
        for done in self._detector.collect():
            if done.job.scene == self._scene and done.output is not None:
                embedded += self._apply_detections(done.job, done.output)
                timings.update(detect=done.wall_ms - done.output.embed_ms, detect_cpu=done.cpu_ms)
                if done.output.embeddings is not None:
                    timings["walk_in_embed"] = done.output.embed_ms  # the walk-in's faces, embedded in that stage
        embedded += self._apply_embeddings(timings)
        t1 = time.perf_counter()
        # Again: only the tracks a full pass started since are looked for (each track once per frame), so every box
        # reported is of the frame it is reported on.
        if not self._tracks.relocate(frame.image, self._find, frame.index):
            self._force_detect = True
        self._book.retain(self._tracks.tracks, self._gallery.model)  # lost or unconfirmed tracks have ended
        t2 = time.perf_counter()
        if not again:
            self._hand_off(frame)
        faces = self._match(claim, frame.index)
        t3 = time.perf_counter()
        timings.update(
            track=(t2 - t1) * 1e3,
            match=(t3 - t2) * 1e3,
            total=(t3 - t0) * 1e3,
            total_cpu=(time.thread_time() - c0) * 1e3,
            embedded=float(embedded),
        )
        if again:
            timings["again"] = 1.0
        return FrameResult(
            frame.index,
            frame.timestamp,
            tuple(faces),
            timings,
            self._gallery.model,
            claim,
            frame.image,
            frame.scene,
        )

    def _find(self, image: np.ndarray, box: tuple[float, float, float, float]) -> list[Detection]:
        if self._relocator is None:  # a detector without detect_near: the full pass, every frame
            return list(self._analyzer.detector.detect(image))
        return list(self._relocator.detect_near(image, [box])[0])

    def _apply_detections(self, job: _DetectJob, found: _Found) -> int:
        """A full pass's faces start tracks; those it embedded (a face walking in) start their evidence too."""
        new = self._tracks.merge(found.detections, job.frame.index)
        if found.embeddings is None:
            return 0
        vectors = {id(det): e for det, e in zip(found.detections, found.embeddings, strict=True)}
        count = 0
        for track in new:
            vector = vectors.get(id(track.detection))
            if vector is not None:
                track.embedding, track.embedded, track.fresh = vector, track.detection, True
                track.embedded_at = time.monotonic()  # the hand-off's clock
                self._observe(track, job.frame.image, track.detection, time.time())
                count += 1
        return count

    def _apply_embeddings(self, timings: dict[str, float]) -> int:
        count, now = 0, time.time()
        for done in self._embedder.collect():
            if done.job.scene != self._scene:
                continue
            for i, (track_id, det) in enumerate(done.job.faces):
                track = self._tracks.tracks.get(track_id)
                if track is None:
                    continue
                track.requested = False
                if done.output is not None:
                    track.embedding, track.embedded, track.fresh = done.output[i], det, True
                    count += 1
                    self._observe(track, done.job.image, det, now)
            timings.update(embed=done.wall_ms, embed_cpu=done.cpu_ms)
        return count

    def _observe(self, track: Track, image: np.ndarray, det: Detection, now: float) -> None:
        """A track's fresh embedding joins its evidence (from the image it was computed on)."""
        assert track.embedding is not None
        quality = face_quality(image, det)
        old = track.track_id
        if self._book.observe(old, track.embedding, quality, now, self._rule, self._gallery.model, (image, det)):
            self._book.rename(old, self._tracks.renumber(old))  # someone else in the same box: a new track

    def _hand_off(self, frame: Frame) -> None:
        now = time.monotonic()
        due = self._force_detect or not self._tracks.tracks or now - self._last_detect >= self.detect_every_s
        if due and self._detector.idle:
            # Nothing tracked and the embedding stage idle: no embedding job can start before this one ends (tracks
            # come from its faces), so the two threads never run the embedder at once (OpenCV's nets are not
            # thread-safe).
            walk_in = self._analyzer if not self._tracks.tracks and self._embedder.idle else None
            self._detector.submit(_DetectJob(self._scene, frame, self._analyzer.detector, walk_in))
            self._last_detect, self._force_detect = now, False
        if self._embedder.idle:
            # An undecided track is embedded whenever the stage is free, so a new face is named after 3 embeddings;
            # so is one whose last embedding was held aside as far from its evidence, DOUBT_WAIT_S after it (the next
            # frame would agree with it even for a hand passing over the face), so that a person who took another's
            # place in the box loses the old name after that, not after two refreshes.
            wall = time.time()  # the evidence's clock
            wanted = [
                t
                for t in self._tracks.visible(frame.index)
                if t.needs_embedding(now)
                or (not t.requested and (self._book.undecided(t.track_id) or self._book.in_doubt(t.track_id, wall)))
            ]
            if wanted:
                for t in wanted:
                    t.requested, t.embedded_at = True, now
                faces = tuple((t.track_id, t.detection) for t in wanted)
                urgent = any(self._book.undecided(t.track_id) for t in wanted)
                self._embedder.submit(_EmbedJob(self._scene, frame.image, faces, self._analyzer, urgent))

    def _match(self, claim: int | None, frame_index: int) -> list[LiveFace]:
        tracks: list[Track] = [t for t in self._tracks.visible(frame_index) if t.embedding is not None]
        if not tracks:
            return []
        now = time.time()
        self._book.seen((t.track_id for t in tracks), now)
        faces = []
        for track in tracks:
            track.fresh = False
            v = self._book.decide(track.track_id, self._gallery, self._rule)
            vec = track.embedding
            claimed = (
                self._gallery.verify(vec, claim, 4.0).distance
                if claim is not None and vec is not None
                else float("inf")
            )
            faces.append(
                LiveFace(track.track_id, track.detection, v.person_id, v.name, v.distance, v.runner_up, claimed, v)
            )
        return faces


def _twin(detector: Any) -> Any:
    """A second detector of the same kind for the tracking thread (the detection stage runs the first), or None."""
    if not hasattr(detector, "detect_near") or not hasattr(detector, "twin"):
        return None
    return detector.twin()

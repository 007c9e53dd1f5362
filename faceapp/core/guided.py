"""Guided enrollment, free of Qt: a capture session that keeps the best distinct samples of ONE person over a few
seconds, and the worker thread that feeds it the newest frames.

The session is fed faces (detection with five landmarks, embedding) and their frame. Each offer passes quality gates
(size, sharpness, detector score, pose), an identity guard (the face must be the person of the first sample, or of
the existing person being topped up) and a distinctness test (a new pose, or a face the embedding tells apart from
every sample already taken); it is taken, replaces a poorer sample of the same view, or is turned down with a reason
the dialog shows. Samples spread over pose bins (frontal, left, right, up, down) and the session asks for the next
bin it lacks. It is done at `wanted` samples or after `timeout_s` seconds.

Directions are the person's own: "left" is the person turning to their left, which moves the nose towards the
image's right in an unmirrored camera frame.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from faceapp.core.align import sample_crop
from faceapp.core.analyzer import FaceAnalyzer, own_threads
from faceapp.core.quality import sharpness
from faceapp.core.types import Detection, Face, FaceSample
from faceapp.core.video import Frame, LatestFrameMailbox
from faceapp.errors import BadInputError

log = logging.getLogger(__name__)

POSES = ("frontal", "left", "right", "up", "down")
INSTRUCTIONS = {
    "frontal": "Look straight at the camera",
    "left": "Turn your head a little to your left",
    "right": "Turn your head a little to your right",
    "up": "Tilt your head a little up",
    "down": "Tilt your head a little down",
}
# Where the nose tip falls between the eye line (0) and the mouth line (1) in a frontal face: MTCNN's points in
# dlib's chip template (core.align.DLIB_MTCNN_TEMPLATE), (78.86 - 46.06) / (106.26 - 46.06).
FRONTAL_NOSE = 0.545


@dataclass(frozen=True)
class Pose:
    """Head pose from the five landmarks: yaw and pitch as shares of the eye distance / eye-mouth height, roll in
    degrees. yaw > 0: turned to the person's left; pitch > 0: looking up; 0, 0, 0 is frontal and level."""

    yaw: float
    pitch: float
    roll: float

    def distance(self, other: Pose) -> float:
        """How far apart two poses are (the larger of the yaw and pitch differences)."""
        return max(abs(self.yaw - other.yaw), abs(self.pitch - other.pitch))


def pose_of(landmarks: np.ndarray) -> Pose:
    """Yaw, pitch and roll estimated from MTCNN's five points (eyes, nose tip, mouth corners)."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left, right, nose, mouth_l, mouth_r = points
    eye_vec = right - left
    eye_dist = float(np.linalg.norm(eye_vec))
    if eye_dist < 1e-6:
        return Pose(0.0, 0.0, 90.0)
    across = eye_vec / eye_dist
    down = np.array([-across[1], across[0]])  # the face's own "down", perpendicular to the eye line
    eyes, mouth = (left + right) / 2, (mouth_l + mouth_r) / 2
    yaw = float(np.dot(nose - eyes, across)) / eye_dist
    height = float(np.dot(mouth - eyes, down))
    pitch = FRONTAL_NOSE - float(np.dot(nose - eyes, down)) / height if height > 1e-6 else 0.0
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    return Pose(yaw, pitch, roll)


@dataclass(frozen=True)
class CaptureLimits:
    """The gates and steps of a guided capture. Embedding distances are multiples of the model's tau."""

    min_size: float = 80.0  # px, the box's shorter side
    min_sharpness: float = 25.0  # core.quality.sharpness
    min_score: float = 0.9  # detector confidence
    max_yaw: float = 0.45  # beyond: turned too far for a useful sample
    max_pitch: float = 0.3
    max_roll: float = 25.0  # degrees
    turn: float = 0.1  # |yaw| from which a face counts as turned left / right
    tilt: float = 0.08  # |pitch| from which it counts as up / down
    first_yaw: float = 0.2  # the first sample (the identity anchor) must be about frontal
    distinct_pose: float = 0.06  # a sample this far in pose from every other is distinct whatever its embedding
    duplicate: float = 0.2  # ... else it must be at least duplicate x tau from every other in embedding distance
    same_person: float = 1.3  # a face farther than same_person x tau from the anchor is another person
    second_face: float = 0.5  # a second face at least this share of the largest one's size: "two faces"
    per_pose: int = 2  # samples kept per pose bin
    min_gap_s: float = 0.2  # between two samples taken
    better: float = 1.25  # a duplicate this much better (sharpness x size) replaces the sample it duplicates


def pose_bin(pose: Pose, limits: CaptureLimits) -> str:
    """frontal, left, right, up or down (the larger of the turn and the tilt decides)."""
    turned = abs(pose.yaw) / limits.turn
    tilted = abs(pose.pitch) / limits.tilt
    if turned >= 1.0 and turned >= tilted:
        return "left" if pose.yaw > 0 else "right"
    if tilted >= 1.0:
        return "up" if pose.pitch > 0 else "down"
    return "frontal"


@dataclass(frozen=True)
class Sample:
    """One sample taken: its id (for removal), the stored crop, embedding, pose, bin, quality and when it was seen."""

    id: int
    sample: FaceSample = field(repr=False)
    embedding: np.ndarray = field(repr=False, compare=False)
    pose: Pose
    bin: str
    quality: float  # sharpness x size / 1000: to choose the better of two views alike
    t: float


def best_sample(samples: Sequence[Sample]) -> Sample | None:
    """The sample to keep of several: the best frontal one (the best of any view when none is frontal)."""
    frontal = [s for s in samples if s.bin == "frontal"] or list(samples)
    return max(frontal, key=lambda s: s.quality) if frontal else None


@dataclass(frozen=True)
class Verdict:
    """What became of one offer: taken (or replacing sample `replaced`), or the reason it was turned down."""

    taken: bool
    reason: str
    detection: Detection | None = None
    pose: Pose | None = None
    bin: str | None = None
    replaced: int | None = None


@dataclass(frozen=True)
class CaptureState:
    """The session as the dialog shows it: samples, how many are wanted, the next instruction, time, done."""

    samples: tuple[Sample, ...]
    wanted: int
    instruction: str
    elapsed: float
    timeout_s: float
    done: bool

    @property
    def progress(self) -> float:
        """Samples taken over samples wanted, in [0, 1]."""
        return min(1.0, len(self.samples) / self.wanted)


class GuidedCapture:
    """One guided capture. Thread affinity: one thread at a time (the guided worker, or a benchmark's loop).

    `tau` is the model's threshold (d = squared L2 of unit embeddings); `anchor`, when topping up an existing person,
    holds their embeddings: every sample must then be within same_person x tau of one of them.
    """

    def __init__(
        self,
        tau: float,
        wanted: int = 5,
        timeout_s: float = 10.0,
        limits: CaptureLimits | None = None,
        anchor: np.ndarray | None = None,
    ) -> None:
        if wanted < 1 or timeout_s <= 0 or tau <= 0:
            raise BadInputError("A guided capture needs tau > 0, at least one sample wanted and a positive timeout.")
        self.tau = tau
        self.wanted = wanted
        self.timeout_s = timeout_s
        self.limits = limits or CaptureLimits()
        self.anchor = None if anchor is None or len(anchor) == 0 else np.asarray(anchor, np.float32)
        self.samples: list[Sample] = []
        self.start: float | None = None
        self.now = 0.0
        self._next_id = 0
        self._first: np.ndarray | None = None  # the first sample's embedding: whom the capture follows
        self._followed = False  # ... or the clicked face's (follow), which no removal changes

    # -- state ---------------------------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds since the first offer."""
        return 0.0 if self.start is None else self.now - self.start

    @property
    def done(self) -> bool:
        """At the wanted number of samples, or past the timeout."""
        return len(self.samples) >= self.wanted or self.elapsed >= self.timeout_s

    def missing(self) -> list[str]:
        """The pose bins without a sample, in the order they are asked for."""
        have = {s.bin for s in self.samples}
        return [p for p in POSES if p not in have]

    def instruction(self) -> str:
        """What the person should do next."""
        if len(self.samples) >= self.wanted:
            return "Done: all samples taken"
        if self.elapsed >= self.timeout_s:
            return "Time is up"
        if not self.samples:
            return INSTRUCTIONS["frontal"]
        missing = self.missing()
        return INSTRUCTIONS[missing[0]] if missing else "Move your head slowly"

    def state(self) -> CaptureState:
        """An immutable picture of the session for another thread."""
        return CaptureState(
            tuple(self.samples), self.wanted, self.instruction(), self.elapsed, self.timeout_s, self.done
        )

    def tick(self, t: float) -> None:
        """Advance the clock without a face (no frame came): the timeout still runs."""
        if self.start is None:
            self.start = float(t)
        self.now = max(self.now, float(t))

    def remove(self, sample_id: int) -> None:
        """Drop a sample (the user removed its thumbnail); the first one left becomes the identity anchor."""
        self.samples = [s for s in self.samples if s.id != sample_id]
        if not self._followed:
            self._first = self.samples[0].embedding if self.samples else None

    def keep_one(self) -> Sample | None:
        """Keep only the best sample (best_sample)."""
        best = best_sample(self.samples)
        self.samples = [] if best is None else [best]
        return best

    def follow(self, embedding: np.ndarray) -> None:
        """Follow the person with this embedding (the face clicked in the live view), whatever is taken first."""
        self._first = np.asarray(embedding, np.float32)
        self._followed = True

    # -- offers --------------------------------------------------------------------------------------------------
    def screen(self, image: np.ndarray, detections: Sequence[Detection], t: float) -> Verdict | None:
        """The verdict on a frame at time `t` that needs no embedding (over, no face, two faces, a quality gate), or
        None when the largest face must be embedded and offered: a worker then embeds that face alone."""
        self.tick(t)
        if self.done:
            return Verdict(False, "the capture is over")
        if not detections:
            return Verdict(False, "no face in view")
        dets = sorted(detections, key=lambda d: d.size, reverse=True)
        det = dets[0]
        if len(dets) > 1 and dets[1].size >= self.limits.second_face * det.size:
            return Verdict(False, "two faces: only the person enrolling may be in view", det)
        pose = pose_of(det.landmarks)
        gate = self._gate(image, det, pose)
        if gate:
            return Verdict(False, gate, det, pose)
        return None

    def offer(self, image: np.ndarray, faces: Sequence[Face], t: float) -> Verdict:
        """Judge the faces found in one frame at time `t` (seconds, any origin) and keep the face when it is good."""
        refused = self.screen(image, [f.detection for f in faces], t)
        if refused is not None:
            return refused
        face = max(faces, key=lambda f: f.detection.size)
        det = face.detection
        pose = pose_of(det.landmarks)
        where = pose_bin(pose, self.limits)
        who = self._identity(face.embedding)
        if who:
            return Verdict(False, who, det, pose, where)
        if not self.samples and where != "frontal":
            return Verdict(False, "look straight at the camera first", det, pose, where)
        return self._place(image, face, pose, where, t)

    def _gate(self, image: np.ndarray, det: Detection, pose: Pose) -> str:
        lim = self.limits
        if det.size < lim.min_size:
            return f"too small: come closer ({det.size:.0f} px, {lim.min_size:.0f} wanted)"
        if det.score < lim.min_score:
            return "face unclear (low detector confidence)"
        if abs(pose.yaw) > lim.max_yaw or abs(pose.pitch) > lim.max_pitch:
            return "turned too far: turn back a little"
        if abs(pose.roll) > lim.max_roll:
            return "head tilted sideways: hold it level"
        if sharpness(image, det) < lim.min_sharpness:
            return "blurred: hold still"
        return ""

    def _identity(self, embedding: np.ndarray) -> str:
        limit = self.limits.same_person * self.tau
        if self.anchor is not None:
            d = float(np.min(np.sum((self.anchor - embedding) ** 2, axis=1)))
            if d > limit:
                return "not the person being topped up"
        if self._first is not None and float(np.sum((self._first - embedding) ** 2)) > limit:
            return "not the same person as the first sample"
        return ""

    def _place(self, image: np.ndarray, face: Face, pose: Pose, where: str, t: float) -> Verdict:
        lim, det = self.limits, face.detection
        quality = sharpness(image, det) * det.size / 1000.0
        twins = [s for s in self.samples if self._alike(s, face.embedding, pose)]
        if twins:
            worst = min(twins, key=lambda s: s.quality)
            if len(twins) == 1 and quality >= lim.better * worst.quality:
                index = self.samples.index(worst)
                self.samples[index] = self._sample(image, face, pose, where, quality, t, worst.id)
                if index == 0 and not self._followed:
                    self._first = face.embedding
                return Verdict(True, "a sharper view replaced a sample", det, pose, where, worst.id)
            return Verdict(False, "same as a sample already taken", det, pose, where)
        if self.samples and t - max(s.t for s in self.samples) < lim.min_gap_s:
            return Verdict(False, "too soon after the last sample", det, pose, where)
        if sum(s.bin == where for s in self.samples) >= lim.per_pose and self.missing():
            return Verdict(False, f"enough samples of this view ({where})", det, pose, where)
        self.samples.append(self._sample(image, face, pose, where, quality, t))
        if self._first is None:
            self._first = face.embedding
        return Verdict(True, "taken", det, pose, where)

    def _alike(self, sample: Sample, embedding: np.ndarray, pose: Pose) -> bool:
        """Near the sample both in pose and in embedding: a near-duplicate."""
        if sample.pose.distance(pose) >= self.limits.distinct_pose:
            return False
        return float(np.sum((sample.embedding - embedding) ** 2)) < self.limits.duplicate * self.tau

    def _sample(
        self, image: np.ndarray, face: Face, pose: Pose, where: str, quality: float, t: float, sid: int | None = None
    ) -> Sample:
        crop, moved = sample_crop(image, face.detection)
        if sid is None:
            sid, self._next_id = self._next_id, self._next_id + 1
        return Sample(sid, FaceSample(crop, moved, "guided capture"), face.embedding, pose, where, quality, t)


SMALLEST_FOUND = 20  # px: the smallest face MTCNN is asked for (core.detect), in the image it is given


def coarse_detections(detector: Any, image: np.ndarray, min_size: float) -> list[Detection]:
    """The faces in `image` when only faces of at least `min_size` px matter (the capture refuses smaller ones): found
    on a copy shrunk so that such a face is still SMALLEST_FOUND px where the detector looks, which costs a fraction of
    a pass at the detector's own scale; in `image`'s pixels. When the copy shows no face, or the detector does not
    say its scale, the detector's own pass decides (so a face too small still gets its "come closer")."""
    scale_of = getattr(detector, "detection_scale", None)
    factor = 1.0 if scale_of is None else min(1.0, SMALLEST_FOUND / (min_size * float(scale_of(image.shape))))
    # The detector also drops faces under its own minimum (in the pixels it is given): a shrunk copy must keep every
    # face of `min_size`, or a smaller second face in view would go unseen (review finding).
    config = getattr(detector, "config", None)
    smallest = float(getattr(config, "min_face_size", 0) or 0)
    factor = max(factor, min(1.0, smallest / max(min_size, 1.0)))
    if factor > 0.9:
        return list(detector.detect(image))
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    found = list(detector.detect(small))
    if not found:
        return list(detector.detect(image))
    back = 1.0 / factor
    return [
        Detection((d.box[0] * back, d.box[1] * back, d.box[2] * back, d.box[3] * back), d.score, d.landmarks * back)
        for d in found
    ]


@dataclass(frozen=True)
class GuidedUpdate:
    """What the guided worker reports after each frame: the frame, the faces found, the verdict and the state."""

    frame: Frame | None
    detections: tuple[Detection, ...]
    verdict: Verdict
    state: CaptureState


class GuidedWorker(threading.Thread):
    """Runs a GuidedCapture on the newest frames of `mailbox` with `analyzer` (detect + embed), off the GUI thread.

    Thread affinity: started and stopped by the GUI thread; `remove` and `keep_one` leave a request that the worker
    applies before its next frame, so the session is only ever touched by this thread. Ends when the capture is done
    or on stop(); `on_update` gets a GuidedUpdate after every frame and a last one when it ends.

    `lean` (the default) analyses a frame for less: faces found on a smaller copy (coarse_detections), the gates that
    need no embedding first (GuidedCapture.screen), and only the largest face embedded; lean=False detects at the
    detector's scale and embeds every face (analyzer.analyze), as before (kept for the benchmark's comparison).

    `threads`: torch's threads in this worker's thread (None: torch's default). One, as the staged pipeline's stages
    run: on the shared 2-core machine under load an analysis took 9x as long with torch's default two OpenMP threads
    (docs/benchmarks.md, "Guided enrollment").

    `ready(timeout)` says whether whoever else uses the analyzer (the live recognition worker) has let go of it: the
    worker touches the analyzer only once it is True, waiting at most `ready_timeout_s` (then it ends with an error).
    """

    def __init__(
        self,
        mailbox: LatestFrameMailbox[Frame],
        analyzer: FaceAnalyzer,
        capture: GuidedCapture,
        on_update: Callable[[GuidedUpdate], None],
        on_error: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: tuple[np.ndarray, Detection] | None = None,
        ready: Callable[[float], bool] | None = None,
        ready_timeout_s: float = 30.0,
        lean: bool = True,
        threads: int | None = 1,
    ) -> None:
        super().__init__(name="faceapp-guided", daemon=True)
        self.ready, self.ready_timeout_s = ready, ready_timeout_s
        self.lean = lean
        self.threads = threads
        self.analyses = 0  # frames analysed
        self.embedded = 0  # ... of which a face was embedded
        self.seed = seed  # the clicked face and its frame: embedded first, followed, and offered as a sample
        self.mailbox = mailbox
        self.analyzer = analyzer
        self.capture = capture
        self.on_update = on_update
        self.on_error = on_error or (lambda message: None)
        self.clock = clock
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._removals: list[int] = []

    def stop(self) -> None:
        """Ask the loop to end (it finishes the frame in hand); join() afterwards."""
        self._stop_event.set()
        self.mailbox.close()

    def remove(self, sample_id: int) -> None:
        """Drop a sample before the next frame (any thread)."""
        with self._lock:
            self._removals.append(sample_id)

    def run(self) -> None:
        """The capture loop."""
        last = Verdict(False, "starting")
        if self.threads is not None:
            own_threads(self.threads)
        try:
            if not self._wait_ready():
                return
            self.capture.tick(self.clock())  # the capture's time starts once the analyzer is this worker's
            if self.seed is not None:
                last = self._offer_seed(*self.seed)
            while not self._stop_event.is_set() and not self.capture.done:
                self._apply_requests()
                frame = self.mailbox.get(0.1)
                if frame is None or self._stop_event.is_set():
                    self.capture.tick(self.clock())
                    continue
                dets, last = self._judge(frame.image)
                self.on_update(GuidedUpdate(frame, dets, last, self.capture.state()))
        except Exception as exc:  # the dialog shows it and keeps what was taken
            log.exception("guided capture failed")
            self.on_error(f"The capture failed: {type(exc).__name__}: {exc}")
        finally:
            self._apply_requests()
            self.on_update(GuidedUpdate(None, (), replace(last, taken=False), self.capture.state()))

    def _judge(self, image: np.ndarray) -> tuple[tuple[Detection, ...], Verdict]:
        """Analyse one frame (lean or in full) and offer it to the capture: the faces found and the verdict."""
        self.analyses += 1
        if not self.lean:
            faces = self.analyzer.analyze(image)
            self.embedded += bool(faces)
            self._apply_requests()
            return tuple(f.detection for f in faces), self.capture.offer(image, faces, self.clock())
        limits = self.capture.limits  # a second face of second_face x the smallest enrollable one must be found too
        dets = coarse_detections(self.analyzer.detector, image, limits.min_size * limits.second_face)
        self._apply_requests()
        refused = self.capture.screen(image, dets, self.clock())
        if refused is not None:
            return tuple(dets), refused
        largest = max(dets, key=lambda d: d.size)
        faces = self.analyzer.embed(image, [largest])
        self.embedded += 1
        return tuple(dets), self.capture.offer(image, faces, self.clock())

    def _wait_ready(self) -> bool:
        """Until `ready` (True), stop (False) or the timeout (False, reported)."""
        if self.ready is None:
            return True
        deadline = time.monotonic() + self.ready_timeout_s
        while not self._stop_event.is_set():
            if self.ready(0.1):
                return not self._stop_event.is_set()  # a stop while waiting is a cancel: the analyzer is not used
            if time.monotonic() >= deadline:
                self.on_error(
                    f"The capture could not start: live recognition did not pause within {self.ready_timeout_s:.0f} s."
                )
                return False
        return False

    def _offer_seed(self, image: np.ndarray, detection: Detection) -> Verdict:
        faces = self.analyzer.embed(image, [detection])
        self.capture.follow(faces[0].embedding)
        verdict = self.capture.offer(image, faces, self.clock())
        self.on_update(GuidedUpdate(Frame(-1, self.clock(), image), (detection,), verdict, self.capture.state()))
        return verdict

    def _apply_requests(self) -> None:
        with self._lock:
            removals, self._removals = self._removals, []
        for sid in removals:
            self.capture.remove(sid)

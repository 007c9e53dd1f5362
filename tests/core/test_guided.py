"""The guided capture's selector: gates with reasons, one person only, no near-duplicates, poses spread over bins;
and its worker thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceapp.core.distance import normalize
from faceapp.core.guided import (
    INSTRUCTIONS,
    CaptureLimits,
    GuidedCapture,
    GuidedUpdate,
    GuidedWorker,
    Pose,
    pose_bin,
    pose_of,
)
from faceapp.core.types import Detection, Face
from faceapp.core.video import Frame, LatestFrameMailbox
from faceapp.errors import BadInputError

TAU = 0.2
RNG = np.random.default_rng(3)
SHARP = RNG.integers(0, 255, (400, 400, 3), dtype=np.uint8)
BLURRED = cv2.GaussianBlur(SHARP, (0, 0), 6)
BASE = normalize(RNG.normal(size=128).astype(np.float32))
OTHER = normalize(RNG.normal(size=128).astype(np.float32))  # d(BASE, OTHER) is about 2: another person


def landmarks(box: tuple[float, float, float, float], yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
    """Five points in `box` for a face turned by `yaw` (share of the eye distance) and tilted by `pitch`."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    eyes_y, mouth_y = y1 + 0.35 * h, y1 + 0.75 * h
    eye_l, eye_r = x1 + 0.3 * w, x1 + 0.7 * w
    nose_y = eyes_y + (0.545 - pitch) * (mouth_y - eyes_y)
    nose_x = (eye_l + eye_r) / 2 + yaw * (eye_r - eye_l)
    return np.array(
        [[eye_l, eyes_y], [eye_r, eyes_y], [nose_x, nose_y], [x1 + 0.35 * w, mouth_y], [x1 + 0.65 * w, mouth_y]]
    )


def face(
    embedding: np.ndarray = BASE,
    yaw: float = 0.0,
    pitch: float = 0.0,
    box: tuple[float, float, float, float] = (100, 100, 300, 300),
    score: float = 0.99,
) -> Face:
    return Face(Detection(box, score, landmarks(box, yaw, pitch)), embedding)


def nudged(step: float) -> np.ndarray:
    """BASE moved so that d(BASE, result) is about `step`."""
    direction = normalize((OTHER - BASE * float(OTHER @ BASE)).astype(np.float32))
    angle = 2 * np.arcsin(np.sqrt(step) / 2)
    return normalize(BASE * np.cos(angle) + direction * np.sin(angle))


def test_pose_from_landmarks_and_bins() -> None:
    box = (0.0, 0.0, 200.0, 200.0)
    frontal = pose_of(landmarks(box))
    assert abs(frontal.yaw) < 1e-6
    assert abs(frontal.pitch) < 1e-6
    assert abs(frontal.roll) < 1e-6
    assert pose_of(landmarks(box, yaw=0.2)).yaw == pytest.approx(0.2)
    assert pose_of(landmarks(box, pitch=0.15)).pitch == pytest.approx(0.15)
    tilted = landmarks(box) @ np.array([[np.cos(0.3), np.sin(0.3)], [-np.sin(0.3), np.cos(0.3)]])
    rotated = pose_of(tilted)
    assert rotated.roll == pytest.approx(np.degrees(0.3))
    assert abs(rotated.yaw) < 1e-6
    assert abs(rotated.pitch) < 1e-6
    limits = CaptureLimits()
    bins = [pose_bin(Pose(y, p, 0), limits) for y, p in [(0, 0), (0.2, 0), (-0.2, 0), (0, 0.15), (0, -0.15)]]
    assert bins == ["frontal", "left", "right", "up", "down"]


def test_takes_a_sample_then_refuses_the_same_face_again() -> None:
    capture = GuidedCapture(TAU)
    first = capture.offer(SHARP, [face()], 0.0)
    assert first.taken
    assert first.bin == "frontal"
    again = capture.offer(SHARP, [face(nudged(0.01))], 1.0)
    assert not again.taken
    assert again.reason == "same as a sample already taken"
    assert len(capture.samples) == 1
    assert capture.instruction() == INSTRUCTIONS["left"]  # frontal is taken: the next bin is asked for


def test_a_new_pose_or_a_different_enough_face_is_distinct() -> None:
    capture = GuidedCapture(TAU)
    capture.offer(SHARP, [face()], 0.0)
    assert capture.offer(SHARP, [face(nudged(0.01), yaw=0.2)], 1.0).bin == "left"  # same embedding, new pose
    different = capture.offer(SHARP, [face(nudged(0.1), yaw=0.01)], 2.0)  # same pose, embedding apart
    assert different.taken
    assert different.bin == "frontal"
    assert [s.bin for s in capture.samples] == ["frontal", "left", "frontal"]


def test_gates_give_their_reasons() -> None:
    capture = GuidedCapture(TAU)
    assert capture.offer(SHARP, [], 0.0).reason == "no face in view"
    assert capture.offer(BLURRED, [face()], 0.1).reason == "blurred: hold still"
    assert capture.offer(SHARP, [face(box=(10, 10, 50, 50))], 0.2).reason.startswith("too small")
    assert capture.offer(SHARP, [face(score=0.5)], 0.3).reason.startswith("face unclear")
    assert capture.offer(SHARP, [face(yaw=0.7)], 0.4).reason.startswith("turned too far")
    assert capture.offer(SHARP, [face(yaw=0.3)], 0.5).reason == "look straight at the camera first"
    two = [face(), face(OTHER, box=(290, 150, 400, 260))]
    assert capture.offer(SHARP, two, 0.6).reason.startswith("two faces")
    assert capture.samples == []
    small_background = [face(), face(OTHER, box=(320, 10, 360, 50))]  # a small face far behind is no second person
    assert capture.offer(SHARP, small_background, 0.7).taken


def test_follows_one_person() -> None:
    capture = GuidedCapture(TAU)
    capture.offer(SHARP, [face()], 0.0)
    stranger = capture.offer(SHARP, [face(OTHER, yaw=0.2)], 1.0)
    assert not stranger.taken
    assert stranger.reason == "not the same person as the first sample"
    topping_up = GuidedCapture(TAU, anchor=BASE[None, :])
    assert topping_up.offer(SHARP, [face(OTHER)], 0.0).reason == "not the person being topped up"
    assert topping_up.offer(SHARP, [face(nudged(0.05))], 0.1).taken


def test_spreads_over_poses_and_is_done_at_the_target() -> None:
    capture = GuidedCapture(TAU, wanted=5, limits=CaptureLimits(per_pose=1))
    offers = [(0, 0), (0.01, 0.0), (0.2, 0), (-0.2, 0), (0, 0.15), (0, -0.15)]
    taken = [capture.offer(SHARP, [face(nudged(0.05 * i), y, p)], float(i)) for i, (y, p) in enumerate(offers)]
    assert [v.taken for v in taken] == [True, False, True, True, True, True]
    assert taken[1].reason == "enough samples of this view (frontal)"
    assert [s.bin for s in capture.samples] == ["frontal", "left", "right", "up", "down"]
    assert capture.done
    assert capture.state().progress == 1.0
    assert capture.offer(SHARP, [face()], 9.0).reason == "the capture is over"


def test_times_out_and_keeps_what_it_has() -> None:
    capture = GuidedCapture(TAU, wanted=5, timeout_s=3.0)
    capture.offer(SHARP, [face()], 10.0)
    capture.tick(12.9)
    assert not capture.done
    capture.tick(13.0)
    assert capture.done
    assert len(capture.samples) == 1
    assert capture.instruction() == "Time is up"


def test_a_sharper_view_of_the_same_pose_replaces_the_poorer_one() -> None:
    soft = cv2.GaussianBlur(SHARP, (0, 0), 1.2)
    capture = GuidedCapture(TAU)
    capture.offer(soft, [face()], 0.0)
    before = capture.samples[0]
    verdict = capture.offer(SHARP, [face(nudged(0.005))], 1.0)
    assert verdict.taken
    assert verdict.replaced == before.id
    assert len(capture.samples) == 1
    assert capture.samples[0].quality > before.quality


def test_keep_one_and_remove() -> None:
    capture = GuidedCapture(TAU)
    capture.offer(SHARP, [face()], 0.0)
    capture.offer(SHARP, [face(nudged(0.01), yaw=0.2)], 1.0)
    left = capture.samples[1]
    assert capture.keep_one() == capture.samples[0]
    assert len(capture.samples) == 1
    capture.remove(capture.samples[0].id)
    assert capture.samples == []
    assert left.bin == "left"
    with pytest.raises(BadInputError):
        GuidedCapture(TAU, wanted=0)


class FakeAnalyzer:
    """Finds the faces of a script, one entry per frame (its own detector), embeds them as scripted, and records the
    thread of every call and how many faces it embedded."""

    def __init__(self, script: list[list[Face]]) -> None:
        self.script = script
        self.threads: list[threading.Thread] = []
        self.detector = self
        self.current: list[Face] = []
        self.embedded = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.threads.append(threading.current_thread())
        self.current = self.script.pop(0) if self.script else []
        return [f.detection for f in self.current]

    def embed(self, image: np.ndarray, detections: list[Detection], keep_chips: bool = False) -> list[Face]:
        self.threads.append(threading.current_thread())
        self.embedded += len(detections)
        return [next(f for f in self.current if f.detection is d) for d in detections]

    def analyze(self, image: np.ndarray, keep_chips: bool = False) -> list[Face]:
        return self.embed(image, self.detect(image))


def test_the_worker_runs_the_capture_off_the_calling_thread_until_done() -> None:
    script = [[face(nudged(0.05 * i), yaw=y)] for i, y in enumerate([0.0, 0.2, -0.2, 0.0, 0.3])]
    analyzer = FakeAnalyzer(script)
    mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
    updates: list[GuidedUpdate] = []
    worker = GuidedWorker(
        mailbox, analyzer, GuidedCapture(TAU, wanted=4, limits=CaptureLimits(min_gap_s=0)), updates.append
    )
    worker.start()
    for i in range(40):
        mailbox.put(Frame(i, 0.0, SHARP))
        time.sleep(0.02)
        if not worker.is_alive():
            break
    worker.join(2.0)
    assert not worker.is_alive()
    assert analyzer.threads
    assert all(t is worker for t in analyzer.threads)
    assert updates[-1].frame is None
    assert updates[-1].state.done
    assert len(updates[-1].state.samples) == 4
    assert [u.verdict.taken for u in updates[:-1]] == [True, True, True, True]


def test_the_worker_stops_on_request_and_applies_removals() -> None:
    analyzer = FakeAnalyzer([[face()]])
    mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
    updates: list[GuidedUpdate] = []
    worker = GuidedWorker(mailbox, analyzer, GuidedCapture(TAU, timeout_s=60), updates.append)
    worker.start()
    mailbox.put(Frame(0, 0.0, SHARP))
    deadline = time.monotonic() + 2
    while not updates and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.remove(updates[0].state.samples[0].id)
    worker.stop()
    worker.join(1.0)
    assert not worker.is_alive()
    assert updates[-1].state.samples == ()
    assert not updates[-1].state.done


class SeedAnalyzer(FakeAnalyzer):
    """Also embeds a given detection (the clicked face) as BASE."""

    def embed(self, image: np.ndarray, detections: list[Detection], keep_chips: bool = False) -> list[Face]:
        if any(f.detection is d for f in self.current for d in detections):
            return super().embed(image, detections)
        self.threads.append(threading.current_thread())
        return [Face(d, BASE) for d in detections]


def test_a_seeded_worker_follows_the_clicked_face_even_before_a_sample() -> None:
    clicked = face(yaw=0.3).detection  # turned: not a first sample, but the person to follow
    script = [[face(OTHER)], [face(nudged(0.05))], [face(nudged(0.05), yaw=0.2)]]
    analyzer = SeedAnalyzer(script)
    mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
    updates: list[GuidedUpdate] = []
    worker = GuidedWorker(
        mailbox, analyzer, GuidedCapture(TAU, wanted=2, limits=CaptureLimits(min_gap_s=0)), updates.append,
        seed=(SHARP, clicked),
    )  # fmt: skip
    worker.start()
    for i in range(3):
        deadline = time.monotonic() + 2
        while len(updates) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        mailbox.put(Frame(i, 0.0, SHARP))
    worker.join(2.0)
    assert updates[0].verdict.reason == "look straight at the camera first"
    assert updates[1].verdict.reason == "not the same person as the first sample"  # another face, frontal
    assert [u.verdict.taken for u in updates[2:4]] == [True, True]
    assert updates[-1].state.done


def test_the_lean_worker_embeds_only_the_largest_face_and_none_for_a_frame_a_gate_refuses() -> None:
    small = (100, 100, 150, 150)  # 50 px: under the 80 px gate
    embedded: dict[bool, int] = {}
    verdicts: dict[bool, list[str]] = {}
    for lean in (True, False):
        analyzer = FakeAnalyzer([[face(box=small)], [face(), face(OTHER, box=small)]])
        mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
        updates: list[GuidedUpdate] = []
        worker = GuidedWorker(mailbox, analyzer, GuidedCapture(TAU, timeout_s=60), updates.append, lean=lean)
        worker.start()
        for i in range(2):
            mailbox.put(Frame(i, 0.0, SHARP))
            deadline = time.monotonic() + 2
            while len(updates) < i + 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        worker.stop()
        worker.join(2.0)
        assert not worker.is_alive()
        embedded[lean] = analyzer.embedded
        verdicts[lean] = [u.verdict.reason for u in updates[:2]]
        assert len(updates[1].detections) == 2  # the dialog still sees every face found
    assert verdicts[True] == verdicts[False] == ["too small: come closer (50 px, 80 wanted)", "taken"]
    assert embedded == {True: 1, False: 3}


class ScaledDetector:
    """Says it looks at images at half size; finds one face at a fixed place of whatever image it is given (none in
    an image under `blind_below` px), and records the sizes it was given."""

    def __init__(self, blind_below: int = 0) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.blind_below = blind_below

    def detection_scale(self, shape: tuple[int, ...]) -> float:
        return 0.5

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.shapes.append(image.shape[:2])
        if image.shape[0] < self.blind_below:
            return []
        box = (10.0, 20.0, 60.0, 70.0)
        return [Detection(box, 0.99, landmarks(box))]


def test_coarse_detections_look_at_a_smaller_copy_and_answer_in_the_image_pixels() -> None:
    from faceapp.core.guided import coarse_detections

    detector = ScaledDetector()
    found = coarse_detections(detector, SHARP, min_size=80)  # 80 px at the detector's 0.5 is 40: a copy at 0.5
    assert detector.shapes == [(200, 200)]
    assert found[0].box == (20.0, 40.0, 120.0, 140.0)
    np.testing.assert_allclose(found[0].landmarks, landmarks((10.0, 20.0, 60.0, 70.0)) * 2)
    blind = ScaledDetector(blind_below=300)  # nothing on the copy: the detector's own pass decides
    assert coarse_detections(blind, SHARP, min_size=80)[0].box == (10.0, 20.0, 60.0, 70.0)
    assert blind.shapes == [(200, 200), (400, 400)]
    plain = FakeAnalyzer([[face()]])  # a detector that does not say its scale: its own pass
    assert len(coarse_detections(plain, SHARP, min_size=80)) == 1


def test_the_copy_keeps_every_face_above_the_detectors_own_minimum() -> None:
    """The detector drops faces under its min_face_size in the pixels it is given: shrinking by more would hide a
    smaller second face (review finding: a 70 px bystander beside a 130 px enrollee went unseen)."""
    from types import SimpleNamespace

    from faceapp.core.guided import coarse_detections

    strict = ScaledDetector()
    strict.config = SimpleNamespace(min_face_size=40)  # type: ignore[attr-defined]
    coarse_detections(strict, SHARP, min_size=40)  # 40 px faces matter (a second face of half of 80)
    assert strict.shapes == [(400, 400)]  # no copy: it could only shrink them under 40
    lenient = ScaledDetector()
    lenient.config = SimpleNamespace(min_face_size=10)  # type: ignore[attr-defined]
    coarse_detections(lenient, SHARP, min_size=80)
    assert lenient.shapes == [(200, 200)]


def test_coarse_detections_find_the_faces_mtcnn_finds_at_its_own_scale(shared_data: Path) -> None:
    from faceapp.core.detect import Detector, DetectorConfig
    from faceapp.core.guided import coarse_detections
    from faceapp.core.image_io import load_image

    detector = Detector(DetectorConfig(min_face_size=40, scale=0.5))  # the live view's
    examples = shared_data / "photos" / "face_recognition_examples"
    for name in ("obama/obama.jpg", "_multi_face/obama_and_biden.jpg"):
        image = load_image(examples / name)
        full = [d for d in detector.detect(image) if d.size >= 80]
        coarse = coarse_detections(detector, image, 80)
        assert full, name
        assert len(coarse) == len(full), name
        for a, b in zip(sorted(full, key=lambda d: d.box), sorted(coarse, key=lambda d: d.box), strict=True):
            tolerance = 0.08 * a.size  # boxes and landmarks within 8% of the face's size
            assert np.max(np.abs(np.subtract(a.box, b.box))) < tolerance, name
            assert np.max(np.abs(a.landmarks - b.landmarks)) < tolerance, name
            assert abs(pose_of(a.landmarks).yaw - pose_of(b.landmarks).yaw) < 0.05, name


def test_the_worker_runs_torch_on_one_thread() -> None:
    torch = pytest.importorskip("torch")
    setter = threading.Thread(target=lambda: torch.set_num_threads(3))  # new threads start from the last value set
    setter.start()
    setter.join()
    seen: list[int] = []

    class Counting(FakeAnalyzer):
        def detect(self, image: np.ndarray) -> list[Detection]:
            seen.append(torch.get_num_threads())
            return super().detect(image)

    mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
    updates: list[GuidedUpdate] = []
    worker = GuidedWorker(mailbox, Counting([[face()]]), GuidedCapture(TAU, timeout_s=60), updates.append)
    worker.start()
    mailbox.put(Frame(0, 0.0, SHARP))
    deadline = time.monotonic() + 2
    while not updates and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    worker.join(2.0)
    assert seen == [1]

"""The live pipeline without Qt: mailbox, frame source, capture thread, tracker and recognition worker."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.live import FrameResult, LiveFace, RecognitionWorker, Tracker
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import MatchRule
from faceapp.core.video import (
    CaptureThread,
    Frame,
    FrameSource,
    LatestFrameMailbox,
    SourceEvent,
    SourceStatus,
    parse_source,
)
from faceapp.errors import CameraError
from tests.fakes import FakeDetector, FakeEmbedder, detection


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """A 12-frame 80x64 MJPEG file at 25 fps: a test camera."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (80, 64))
    for i in range(12):
        writer.write(np.full((64, 80, 3), i * 20, np.uint8))
    writer.release()
    return path


def test_mailbox_keeps_only_the_newest_item() -> None:
    box: LatestFrameMailbox[int] = LatestFrameMailbox()
    box.put(1)
    box.put(2)
    assert box.get(timeout=0.01) == 2
    assert box.dropped == 1
    assert box.get(timeout=0.01) is None


def test_mailbox_close_wakes_a_waiting_reader() -> None:
    box: LatestFrameMailbox[int] = LatestFrameMailbox()
    threading.Timer(0.05, box.close).start()
    start = time.monotonic()
    assert box.get(timeout=5) is None
    assert time.monotonic() - start < 1


def test_sources_are_camera_indexes_or_files(video: Path, tmp_path: Path) -> None:
    assert parse_source("0") == 0
    assert parse_source(str(video)) == str(video)
    source = FrameSource(str(video))
    source.open()
    assert source.fps == pytest.approx(25.0)
    assert source.frame_count == 12
    frame = source.read()
    assert frame is not None
    assert frame.shape == (64, 80, 3)
    source.close()
    with pytest.raises(CameraError, match="does not exist"):
        FrameSource(str(tmp_path / "missing.mp4")).open()
    with pytest.raises(CameraError, match="Cannot open camera 57"):
        FrameSource("57").open()


def test_capture_thread_hands_over_every_frame_then_says_the_video_ended(video: Path) -> None:
    frames: list[Frame] = []
    status: list[SourceStatus] = []
    source = FrameSource(str(video))
    source.open()
    capture = CaptureThread(source, frames.append, status.append, loop=False, realtime=False)
    capture.start()
    capture.join(timeout=5)
    assert [f.index for f in frames] == list(range(12))
    assert status == [SourceStatus(SourceEvent.ENDED, "End of video.")]


def test_capture_thread_plays_a_file_in_real_time_and_stops_on_request(video: Path) -> None:
    frames: list[Frame] = []
    source = FrameSource(str(video))
    source.open()
    capture = CaptureThread(source, frames.append, loop=True, realtime=True)
    capture.start()
    time.sleep(0.4)
    capture.stop()
    capture.join(timeout=1)
    assert not capture.is_alive()
    assert 6 <= len(frames) <= 14  # 25 fps for 0.4 s is 10 frames


def test_tracker_keeps_ids_and_reembeds_on_a_cadence() -> None:
    tracker = Tracker(embed_every=3)
    a, b = detection(0, 0, 50, 50), detection(200, 0, 250, 50)
    first = tracker.assign([a, b])
    assert first == [1, 2]
    assert all(tracker.needs_embedding(t) for t in first)
    for t in first:
        tracker.set_embedding(t, np.ones(4))
    assert tracker.assign([detection(2, 0, 52, 50), b]) == [1, 2]
    assert not tracker.needs_embedding(1)
    tracker.assign([a, b])
    tracker.assign([a, b])
    assert tracker.needs_embedding(1)  # three updates since its embedding
    far = tracker.assign([detection(400, 300, 450, 350)])
    assert far == [3]


def test_tracker_votes_steady_the_label() -> None:
    tracker = Tracker(window=5)
    (tid,) = tracker.assign([detection(0, 0, 50, 50)])
    assert tracker.vote(tid, 7, 0.1, 0.3) == (7, 0.1, 0.3)
    tracker.vote(tid, 7, 0.12, 0.2)
    # One odd match does not flip the label; distances are the medians of the winning person's updates only.
    assert tracker.vote(tid, 8, 0.05, 0.06) == (7, pytest.approx(0.11), pytest.approx(0.25))


def test_live_face_applies_tau_and_the_margin() -> None:
    face = LiveFace(1, detection(0, 0, 50, 50), 7, "Ada", 0.10, runner_up=0.12)
    assert face.label(0.15) == "Ada"  # a bare tau: distance only
    assert face.label(MatchRule(0.15, 0.35)) == "Unknown"  # Bob at 0.12 is within 35% of 0.10
    assert face.ambiguous(MatchRule(0.15, 0.35))
    assert face.label(MatchRule(0.15, 0.15)) == "Ada"
    assert not face.ambiguous(MatchRule(0.05, 0.35))  # beyond tau is plain Unknown, not ambiguous


def image_with_pattern(seed: int) -> np.ndarray:
    image = np.zeros((128, 128, 3), np.uint8)
    image[20:84, 20:84] = (
        np.random.default_rng(seed).integers(0, 255, (4, 4), dtype=np.uint8).repeat(16, 0).repeat(16, 1)[:, :, None]
    )
    return image


def make_worker(results: list[FrameResult], embedder: FakeEmbedder) -> tuple[RecognitionWorker, np.ndarray]:
    analyzer = FaceAnalyzer(FakeDetector([detection(20, 20, 84, 84)]), embedder)  # type: ignore[arg-type]
    image = image_with_pattern(1)
    _, vectors = embedder.embed(image, [detection(20, 20, 84, 84)])
    embedder.calls = 0
    worker = RecognitionWorker(LatestFrameMailbox(), analyzer, GallerySnapshot.empty("fake", 16), results.append)
    return worker, vectors


def test_worker_labels_faces_and_follows_gallery_swaps_without_reembedding() -> None:
    embedder = FakeEmbedder()
    worker, vectors = make_worker([], embedder)
    image = image_with_pattern(1)
    first = worker.process(Frame(0, 0.0, image))
    assert first.faces[0].label(0.1) == "Unknown"
    assert first.faces[0].certainty == "undecided"  # one frame is not yet evidence
    i, shown = 1, first
    while shown.faces[0].certainty == "undecided":  # embedded in every update until its evidence is clear
        shown = worker.process(Frame(i, 0.04 * i, image))
        i += 1
    assert shown.faces[0].certainty == "unknown"  # nobody enrolled
    calls = embedder.calls
    worker.set_gallery(GallerySnapshot("fake", np.array([5]), {5: "Ada"}, vectors))
    second = worker.process(Frame(i, 0.04 * i, image))
    assert second.faces[0].label(0.1) == "Ada"  # the track's evidence meets the new gallery at once
    assert second.faces[0].certainty == "named"
    assert embedder.calls == calls
    assert second.faces[0].track_id == first.faces[0].track_id
    assert set(second.timings) >= {"detect", "embed", "match", "total"}


def test_worker_thread_reports_results_and_stops_quickly() -> None:
    results: list[FrameResult] = []
    worker, _ = make_worker(results, FakeEmbedder(delay=0.05))
    worker.start()
    for i in range(5):
        worker.mailbox.put(Frame(i, 0.0, image_with_pattern(1)))
        time.sleep(0.02)
    deadline = time.monotonic() + 2
    while not results and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    worker.stop()
    worker.join(timeout=1)
    assert not worker.is_alive()
    assert time.monotonic() - start < 1
    assert results
    assert worker.mailbox.dropped >= 1  # frames it was too slow for were replaced, not queued


def test_verify_mode_distance_is_measured_in_the_frames_own_model_and_gallery() -> None:
    embedder = FakeEmbedder()
    worker, vectors = make_worker([], embedder)
    worker.set_gallery(GallerySnapshot("fake", np.array([5, 6]), {5: "Ada", 6: "Bob"}, np.vstack([vectors, -vectors])))
    image = image_with_pattern(1)
    plain = worker.process(Frame(0, 0.0, image))
    assert plain.claimed_id is None
    assert not plain.faces[0].verified(4.0)  # no claim: no verdict
    worker.set_claim(6)
    claimed = worker.process(Frame(1, 0.04, image))
    assert claimed.claimed_id == 6
    assert claimed.faces[0].claimed_distance == pytest.approx(4.0, abs=1e-4)  # Bob is the opposite vector
    assert not claimed.faces[0].verified(0.5)
    worker.set_claim(5)
    ada = worker.process(Frame(2, 0.08, image)).faces[0]
    assert ada.claimed_distance == pytest.approx(0.0, abs=1e-5)
    assert ada.verified(0.1)


def test_pending_snapshots_are_applied_by_the_worker_at_its_next_frame() -> None:
    embedder = FakeEmbedder()
    worker, vectors = make_worker([], embedder)
    image = image_with_pattern(1)
    worker.process(Frame(0, 0.0, image))
    state = worker._state
    worker.set_gallery(GallerySnapshot("fake", np.array([5]), {5: "Ada"}, vectors))
    assert worker._state is state  # nothing changes until the worker's own thread takes the next frame
    assert worker.process(Frame(1, 0.04, image)).faces[0].name == "Ada"
    worker.set_gallery(GallerySnapshot("other-model", np.array([6]), {6: "Bob"}, vectors))  # ignored: not its model
    assert worker.process(Frame(2, 0.08, image)).faces[0].name == "Ada"


def test_a_scene_cut_ends_every_track_so_no_vote_crosses_it() -> None:
    """Issue 16 item 2: after a cut, the face in the same place is someone else; it is named by its own matches."""
    embedder = FakeEmbedder()
    worker, ada = make_worker([], embedder)
    before, after = image_with_pattern(1), image_with_pattern(2)
    after[:, :, :] = 255 - after  # a different scene: the whole frame changes
    _, bob = embedder.embed(after, [detection(20, 20, 84, 84)])
    worker.set_gallery(GallerySnapshot("fake", np.array([5, 6]), {5: "Ada", 6: "Bob"}, np.vstack([ada, bob])))
    for i in range(4):
        named = worker.process(Frame(i, i * 0.04, before)).faces[0]
    assert named.name == "Ada"
    cut = worker.process(Frame(4, 0.16, after, scene=1)).faces[0]  # the capture thread saw the cut
    assert cut.track_id != named.track_id  # a new track ...
    assert cut.name == "Bob"  # ... whose first match names it, not the four votes for Ada
    assert cut.distance == pytest.approx(0.0, abs=1e-5)
    same_scene = worker.process(Frame(5, 0.2, after, scene=1)).faces[0]
    assert same_scene.track_id == cut.track_id  # no cut within a scene: the track goes on


def test_results_carry_the_frame_they_were_computed_on() -> None:
    """Issue 16 item 3: click-to-enroll crops from the very frame a box came from, however late the result is."""
    worker, _ = make_worker([], FakeEmbedder())
    image = image_with_pattern(1)
    result = worker.process(Frame(7, 0.3, image))
    assert result.image is image  # the capture's array itself: no copy per frame


def test_a_file_that_will_not_open_gets_file_advice_not_camera_advice(tmp_path: Path) -> None:
    """Issue 16 item 8."""
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"not a video " * 100)
    with pytest.raises(CameraError) as raised:
        FrameSource(str(bad)).open()
    assert "damaged or in a format" in str(raised.value)
    assert "connected" not in str(raised.value)


def test_a_file_damaged_in_the_middle_says_so_instead_of_looping_silently(video: Path, tmp_path: Path) -> None:
    """Issue 16 item 8: the header promises more frames than can be read."""
    long = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(long), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (80, 64))
    rng = np.random.default_rng(0)
    for _ in range(40):
        writer.write(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8))
    writer.release()
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(long.read_bytes()[: long.stat().st_size // 2])
    status: list[SourceStatus] = []
    source = FrameSource(str(damaged))
    source.open()
    assert source.frame_count == 40
    capture = CaptureThread(source, lambda frame: None, status.append, loop=True, realtime=False)
    capture.start()
    time.sleep(0.5)
    capture.stop()
    capture.join(timeout=2)
    events = [s for s in status if s.event is SourceEvent.DAMAGED]
    assert len(events) == 1  # said once, not on every loop
    assert "of 40" in events[0].message


def _scene_with_square(x: int, seed: int = 3) -> np.ndarray:
    """A 240x320 grey scene with an 80-pixel textured square at column `x`."""
    rng = np.random.default_rng(seed)
    image = np.full((240, 320, 3), 90, np.uint8)
    image[80:160, x : x + 80] = np.kron(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    return image


def test_a_face_that_moved_during_the_recognition_delay_keeps_its_box_and_one_that_left_does_not() -> None:
    """Issue 16 review: boxes vanished on moving video when recognition was slow (patches were compared in place)."""
    from faceapp.core.video import patch_changed

    then = _scene_with_square(100)
    box = (100.0, 80.0, 180.0, 160.0)
    assert not patch_changed(then, _scene_with_square(114), box)  # moved 14 px (18% of the box) since its result
    assert patch_changed(then, np.full_like(then, 90), box)  # gone: the background is there
    assert patch_changed(then, _scene_with_square(100, seed=4), box)  # someone else stands there
    assert not patch_changed(then, then, box)  # the very frame its box was found in


def test_scenes_are_counted_on_consecutive_frames_and_exposure_is_not_a_cut() -> None:
    from faceapp.core.video import SceneCounter

    counter = SceneCounter()
    moving = [counter.next(_scene_with_square(x)) for x in range(100, 160, 4)]  # 15 frames of motion: one scene
    brighter = counter.next(np.clip(_scene_with_square(160).astype(int) * 1.2 + 10, 0, 255).astype(np.uint8))
    other = np.repeat(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], 240, axis=0).repeat(3, axis=2)
    cut = counter.next(other)  # another scene: a gradient
    counter.new_scene()  # a file looping back
    looped = counter.next(other)
    assert moving == [0] * 15
    assert brighter == 0  # auto-exposure is not a cut
    assert cut == 1
    assert looped == 2

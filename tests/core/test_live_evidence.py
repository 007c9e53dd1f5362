"""Both live workers name tracks from their evidence and hand ended tracks to the track sink (issue 13 item 2)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pytest

from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.evidence import TrackSummary
from faceapp.core.live import FrameResult, RecognitionWorker
from faceapp.core.matching import GallerySnapshot
from faceapp.core.pipeline import PipelineWorker
from faceapp.core.track_evidence import EvidenceBook, EvidenceRules
from faceapp.core.types import Detection, MatchRule
from faceapp.core.video import Frame, LatestFrameMailbox
from tests.fakes import FakeDetector, FakeEmbedder, detection

BOX = (20.0, 20.0, 84.0, 84.0)


def pattern(seed: int) -> np.ndarray:
    image = np.zeros((128, 128, 3), np.uint8)
    rng = np.random.default_rng(seed)
    image[20:84, 20:84] = rng.integers(0, 255, (4, 4), dtype=np.uint8).repeat(16, 0).repeat(16, 1)[:, :, None]
    return image


class FaceWhereDrawn(FakeDetector):
    """The fixed face where the image is not blank (a face that can leave); re-locates it too."""

    def __init__(self) -> None:
        super().__init__([detection(*BOX)])

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The face, unless the image is blank there."""
        return super().detect(image) if float(image[20:84, 20:84].mean()) > 10 else []

    def twin(self) -> FaceWhereDrawn:
        """Itself: the fake holds no model."""
        return self

    def detect_near(self, image: np.ndarray, boxes: Sequence[tuple[float, ...]]) -> list[list[Detection]]:
        """The face near each box, unless the image is blank there."""
        return [self.detect(image) for _ in boxes]


def gallery(embedder: FakeEmbedder) -> GallerySnapshot:
    """Ada is pattern 1, Bob pattern 2."""
    ada = embedder.embed(pattern(1), [detection(*BOX)])[1]
    bob = embedder.embed(pattern(2), [detection(*BOX)])[1]
    embedder.calls = 0
    return GallerySnapshot("fake", np.array([5, 6]), {5: "Ada", 6: "Bob"}, np.vstack([ada, bob]))


def single() -> tuple[RecognitionWorker, list[TrackSummary]]:
    embedder = FakeEmbedder()
    analyzer = FaceAnalyzer(FaceWhereDrawn(), embedder)  # type: ignore[arg-type]
    worker = RecognitionWorker(LatestFrameMailbox(), analyzer, gallery(embedder), lambda r: None)
    summaries: list[TrackSummary] = []
    worker.set_track_sink(summaries.append)
    return worker, summaries


def labels(results: list[FrameResult]) -> list[tuple[int, str, str]]:
    return [(f.track_id, f.label(4.0), f.certainty) for r in results for f in r.faces]


def test_the_name_waits_for_evidence_then_holds_and_the_track_ends_in_the_sink() -> None:
    worker, _ = single()
    worker._book = EvidenceBook(EvidenceRules(quick_within=0))  # no quick name: three frames
    waited = labels([worker.process(Frame(i, i / 30, pattern(1))) for i in range(3)])
    assert waited[0] == (1, "Unknown", "undecided")  # one frame: the view marks it undecided
    assert waited[-1] == (1, "Ada", "named")
    worker, summaries = single()
    shown = labels([worker.process(Frame(i, i / 30, pattern(1))) for i in range(12)])
    assert shown[0] == (1, "Ada", "named")  # the enrolled face itself: named by its first frame (the quick name)
    assert shown[-1] == (1, "Ada", "named")
    first_named = next(i for i, s in enumerate(shown) if s[1] == "Ada")
    assert all(s[1] == "Ada" for s in shown[first_named:])  # once named, never withdrawn
    assert not summaries
    blank = np.zeros((128, 128, 3), np.uint8)
    for i in range(12, 24):  # the face leaves; the tracker drops the track after 10 missed updates
        worker.process(Frame(i, i / 30, blank))
    (summary,) = summaries
    assert summary.person_id == 5
    assert summary.model == "fake"
    assert summary.track_id == 1
    assert 1 <= len(summary.embeddings) <= 5
    assert summary.first_seen <= summary.last_seen
    assert summary.samples[0].image.ndim == 3


def test_a_person_who_steps_into_the_same_box_does_not_keep_the_old_name() -> None:
    """The open bug of issue 12: the vote kept a swapped-in face's old name for several updates."""
    worker, summaries = single()
    for i in range(12):
        worker.process(Frame(i, i / 30, pattern(1)))
    after = labels([worker.process(Frame(i, i / 30, pattern(2))) for i in range(12, 30)])
    ada_frames = [i for i, (_, name, _) in enumerate(after) if name == "Ada"]
    assert len(ada_frames) <= 6  # at most until Bob's second fresh embedding (every third update here)
    assert after[-1][1] == "Bob"
    assert after[-1][0] != 1  # a new track: a click, the review and "capture more" see a new face
    assert [s.person_id for s in summaries] == [5]  # Ada's track ended there


def test_scene_cuts_model_switches_and_stopping_end_tracks() -> None:
    worker, summaries = single()
    for i in range(4):
        worker.process(Frame(i, i / 30, pattern(1)))
    worker.process(Frame(4, 4 / 30, pattern(1), scene=1))
    assert len(summaries) == 1
    embedder = FakeEmbedder()
    worker.set_analyzer(FaceAnalyzer(FaceWhereDrawn(), embedder), gallery(embedder))  # type: ignore[arg-type]
    worker.process(Frame(5, 5 / 30, pattern(1), scene=1))
    assert len(summaries) == 2
    worker.start()
    worker.mailbox.put(Frame(6, 6 / 30, pattern(1), scene=1))
    time.sleep(0.2)
    worker.stop()
    worker.join(timeout=2)
    assert len(summaries) == 3  # the worker's own thread ended the open track when it stopped


def test_a_sink_that_raises_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    worker, _ = single()

    def broken(_: TrackSummary) -> None:
        raise RuntimeError("review store is down")

    worker.set_track_sink(broken)
    worker.process(Frame(0, 0.0, pattern(1)))
    with caplog.at_level(logging.ERROR):
        result = worker.process(Frame(1, 0.04, pattern(1), scene=1))
    assert "track sink failed" in caplog.text
    assert result.faces


def test_a_rule_change_decides_again_from_the_same_evidence() -> None:
    worker, _ = single()
    for i in range(12):
        last = worker.process(Frame(i, i / 30, pattern(1)))
    assert last.faces[0].label(4.0) == "Ada"
    worker.set_rule(MatchRule(-1.0))  # nothing is near enough
    assert worker.process(Frame(12, 0.4, pattern(1))).faces[0].label(4.0) == "Unknown"


def test_the_staged_pipeline_names_by_evidence_and_feeds_the_sink() -> None:
    embedder = FakeEmbedder()
    detector = FaceWhereDrawn()
    results: list[FrameResult] = []
    analyzer = FaceAnalyzer(detector, embedder)  # type: ignore[arg-type]
    worker = PipelineWorker(LatestFrameMailbox(), analyzer, gallery(embedder), results.append)
    summaries: list[TrackSummary] = []
    worker.set_track_sink(summaries.append)
    worker.start()
    # A steady face is embedded again every MAX_AGE_S (0.5 s): Ada for 3.5 s, then Bob in her place for 3 s.
    frames = [pattern(1)] * 70 + [pattern(2)] * 60
    for i, image in enumerate(frames):
        worker.mailbox.put(Frame(i, time.monotonic(), image))
        time.sleep(0.05)
    time.sleep(0.2)
    worker.stop()
    worker.join(timeout=3)
    shown = [(r.frame_index, f.track_id, f.label(4.0), f.certainty) for r in results for f in r.faces]
    ada = [s for s in shown if s[0] < 70 and s[2] == "Ada"]
    assert ada
    assert all(s[3] == "named" for s in shown if s[0] < 70 and s[0] > ada[0][0])  # held once named
    bob = [s for s in shown if s[0] >= 70]
    assert bob[-1][2] == "Bob"
    assert bob[-1][1] != ada[0][1]  # the swap started a new track
    # Bob's first embedding comes with the next refresh (<= 0.5 s, 10 frames here) and is held aside; the track in
    # doubt is embedded again at once, and that second far frame ends Ada's track.
    # Measured: 6 with the re-embedding at once (but a hand over the face then read as a swap: below), 15 without
    # it, 35 with 1 s refreshes; with the 0.25 s wait before the second look, about 11.
    assert sum(s[2] == "Ada" for s in bob) <= 14
    assert [s.person_id for s in summaries] == [5, 6]  # Ada's at the swap, Bob's when the worker stopped


def test_a_short_bad_moment_on_a_named_face_is_no_swap() -> None:
    """A hand over the face or a blur for 150 ms: the frames held aside then agree with each other, so the second
    look at a track in doubt waits (DOUBT_WAIT_S) until the moment is over (review: every blip was two swaps, and two
    Unknown faces for the review)."""
    embedder = FakeEmbedder()
    results: list[FrameResult] = []
    worker = PipelineWorker(
        LatestFrameMailbox(),
        FaceAnalyzer(FaceWhereDrawn(), embedder),
        gallery(embedder),
        results.append,  # type: ignore[arg-type]
    )
    summaries: list[TrackSummary] = []
    worker.set_track_sink(summaries.append)
    worker.start()
    frames = ([pattern(1)] * 14 + [pattern(3)] * 3) * 8  # Ada, and every 0.85 s three frames of nobody
    for i, image in enumerate(frames):
        worker.mailbox.put(Frame(i, time.monotonic(), image))
        time.sleep(0.05)
    time.sleep(0.2)
    worker.stop()
    worker.join(timeout=3)
    tracks = {f.track_id for r in results for f in r.faces}
    assert len(tracks) <= 2  # one track (a blip caught twice in a row by chance may still restart it once)
    assert None not in [s.person_id for s in summaries]  # no Unknown face left for the review

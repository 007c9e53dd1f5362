"""Evidence over a track (issue 13 item 2): the rules that decide a track's name from all its frames."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from faceapp.core.distance import distance, normalize
from faceapp.core.evidence import TrackSummary
from faceapp.core.matching import GallerySnapshot
from faceapp.core.track_evidence import EvidenceBook, EvidenceRules, face_quality
from faceapp.core.types import MatchRule
from tests.fakes import detection

RULE = MatchRule(0.3)
ADA, BOB = 5, 6


def towards(angle_deg: float, plane: int = 1, dim: int = 8) -> np.ndarray:
    """A unit vector `angle_deg` away from e0, turned towards e[plane]."""
    v = np.zeros(dim, np.float32)
    v[0], v[plane] = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    return v


# Ada is e0; Bob is 40 degrees from her (d = 0.47): near enough that a poor early view of Ada can look like Bob.
GALLERY = GallerySnapshot("m", np.array([ADA, BOB]), {ADA: "Ada", BOB: "Bob"}, np.stack([towards(0), towards(40)]))


def feed(book: EvidenceBook, vectors: list[np.ndarray], track: int = 1, quality: float = 1.0) -> list[str]:
    """Observe each vector as a fresh frame; the label after each."""
    labels = []
    for i, v in enumerate(vectors):
        book.observe(track, v, quality, float(i), RULE, "m")
        verdict = book.decide(track, GALLERY, RULE)
        labels.append("…" if verdict.state == "undecided" else verdict.label)
    return labels


def test_a_name_waits_for_clear_evidence_then_stays() -> None:
    book = EvidenceBook(EvidenceRules(name_after=3, quick_within=0))  # no quick name: the frames must add up
    labels = feed(book, [towards(3), towards(-3), towards(5), towards(2)])
    assert labels == ["…", "…", "Ada", "Ada"]


def test_one_bad_frame_does_not_withdraw_the_name() -> None:
    book = EvidenceBook()
    feed(book, [towards(2)] * 4)
    # One frame that, alone, is Bob's (d 0.05 to Bob), and one that is nobody (a blurred or turned face).
    assert feed(book, [towards(33)]) == ["Ada"]
    assert feed(book, [towards(90, plane=2)]) == ["Ada"]
    assert feed(book, [towards(3)] * 3) == ["Ada"] * 3


def test_a_wrong_early_guess_is_corrected_as_evidence_grows() -> None:
    book = EvidenceBook(EvidenceRules(quick_within=0))  # the poor first view is not confident enough
    early = feed(book, [towards(28), towards(27), towards(28)])  # a poor first view: nearer Bob (d 0.06) than Ada
    assert early == ["…", "…", "Bob"]
    later = feed(book, [towards(0)] * 6)
    assert later[-1] == "Ada"
    assert set(later) == {"Bob", "Ada"}  # straight from the wrong name to the right one, never Unknown between
    assert 1 not in {i for i, s in enumerate(later) if s == "…"}  # corrected in place, not by restarting the track


def test_a_swap_in_the_same_box_restarts_the_evidence_and_drops_the_old_name() -> None:
    summaries: list[TrackSummary] = []
    book = EvidenceBook(sink=summaries.append)
    for i in range(5):
        image = np.full((120, 160, 3), 100, np.uint8)
        book.observe(1, towards(1), 0.9, float(i), RULE, "m", (image, detection(40, 30, 120, 110)))
    assert book.decide(1, GALLERY, RULE).label == "Ada"
    carol = [normalize(towards(90, plane=2) + 0.05 * towards(0, dim=8)), towards(90, plane=2)]  # nobody enrolled
    assert not book.observe(1, carol[0], 0.9, 5.0, RULE, "m")  # the first far frame: held aside, name kept
    assert book.decide(1, GALLERY, RULE).label == "Ada"
    assert book.observe(1, carol[1], 0.9, 6.0, RULE, "m")  # the second in a row: a swap
    book.rename(1, 2)
    verdict = book.decide(2, GALLERY, RULE)
    assert verdict.label == "Unknown"
    assert verdict.frames == 2  # the new evidence is the two frames that disagreed with Ada's
    assert [s.person_id for s in summaries] == [ADA]  # Ada's part of the track has ended
    assert summaries[0].track_id == 1
    assert summaries[0].last_seen == 4.0


def test_two_far_frames_that_disagree_are_noise_not_a_swap() -> None:
    book = EvidenceBook()
    feed(book, [towards(1)] * 4)
    assert not book.observe(1, towards(90, plane=2), 1.0, 9.0, RULE, "m")
    assert not book.observe(1, towards(90, plane=3), 1.0, 10.0, RULE, "m")
    assert book.decide(1, GALLERY, RULE).label == "Ada"


def test_a_stranger_stays_unknown_even_when_one_frame_looks_like_someone() -> None:
    book = EvidenceBook(EvidenceRules(unknown_after=3))
    stranger = [normalize(towards(90, plane=2) + 0.1 * towards(90, plane=k)) for k in (3, 4, 5, 6, 7)]
    labels = feed(book, stranger[:3])
    assert labels == ["…", "…", "Unknown"]
    assert feed(book, [towards(1)]) == ["Unknown"]  # one frame right on Ada: held aside
    assert feed(book, stranger[3:]) == ["Unknown", "Unknown"]


def test_tau_means_for_the_evidence_what_it_means_for_one_frame() -> None:
    """Frames each 33 degrees from Ada (d 0.32, past tau 0.3), scattered around her: their unit-length mean is within
    tau (d 0.28), but the evidence is the mean of the frames' own distances, so the face is never named."""
    book = EvidenceBook()
    frames = []
    for phi in (25, -25) * 5:
        side = np.cos(np.radians(phi)) * towards(90, plane=2) + np.sin(np.radians(phi)) * towards(90, plane=3)
        frames.append(np.cos(np.radians(33)) * towards(0) + np.sin(np.radians(33)) * side)
    assert min(distance(f, towards(0)) for f in frames) > RULE.threshold
    assert distance(normalize(np.mean(frames, axis=0)), towards(0)) < RULE.threshold
    assert set(feed(book, frames)) == {"…", "Unknown"}


def test_a_named_track_keeps_its_name_in_the_hold_band_and_loses_it_beyond() -> None:
    rules = EvidenceRules(hold=0.2)
    book = EvidenceBook(rules)
    feed(book, [towards(20, plane=2)] * 3)  # d 0.12 to Ada: named
    drift = feed(book, [towards(34, plane=2)] * 15)  # evidence drifts to d 0.34: past tau 0.3, inside 0.36
    assert drift[-1] == "Ada"
    fresh = EvidenceBook(rules)
    assert feed(fresh, [towards(34, plane=2)] * 5)[-1] == "Unknown"  # never named: tau alone decides
    gone = feed(book, [towards(40, plane=2)] * 15)  # d 0.47: past the band
    assert gone[-1] == "Unknown"


def test_the_margin_keeps_a_face_between_two_people_undecided_then_unknown() -> None:
    book = EvidenceBook()
    rule = MatchRule(0.3, margin=0.35)
    for i in range(3):
        book.observe(1, towards(20), 1.0, float(i), rule, "m")  # halfway between Ada and Bob
    assert book.decide(1, GALLERY, rule).label == "Unknown"
    assert book.decide(1, GALLERY, MatchRule(0.3)).label in ("Ada", "Bob")  # distance only: named


def test_a_new_gallery_redecides_from_the_kept_evidence() -> None:
    book = EvidenceBook()
    feed(book, [towards(90, plane=2)] * 3)
    assert book.decide(1, GALLERY, RULE).label == "Unknown"
    enrolled = GallerySnapshot("m", np.array([7]), {7: "Cy"}, np.stack([towards(90, plane=2)]))
    book.forget_decisions()
    assert book.decide(1, enrolled, RULE).label == "Cy"  # at once: no new frame needed


def test_the_sink_gets_the_best_five_frames_and_its_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    summaries: list[TrackSummary] = []
    book = EvidenceBook(sink=summaries.append)
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    for i, q in enumerate([0.2, 0.9, 0.4, 0.8, 0.1, 0.7, 0.6, 0.3]):
        book.observe(3, towards(90, plane=2), q, 100.0 + i, RULE, "m", (image, detection(100, 60, 200, 180)))
    book.decide(3, GALLERY, RULE)
    book.retain([], "m")  # the tracker lost track 3
    (summary,) = summaries
    assert summary.qualities == (0.9, 0.8, 0.7, 0.6, 0.4)
    assert summary.person_id is None
    assert (summary.first_seen, summary.last_seen, summary.model) == (100.0, 107.0, "m")
    assert summary.samples[0].image.shape[2] == 3
    assert summary.samples[0].image.shape[0] <= 400
    assert distance(summary.embeddings[0], towards(90, plane=2)) < 1e-5

    def broken(_: TrackSummary) -> None:
        raise RuntimeError("sink down")

    book = EvidenceBook(sink=broken)
    book.observe(4, towards(0), 0.5, 0.0, RULE, "m", (image, detection(100, 60, 200, 180)))
    with caplog.at_level(logging.ERROR):
        book.end_all("m")  # does not raise
    assert "sink" in caplog.text
    assert not book.tracks


def test_face_quality_prefers_big_sharp_frontal_faces() -> None:
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    blurred = np.full((240, 320, 3), 128, np.uint8)
    big, small = detection(60, 40, 200, 200), detection(60, 40, 90, 75)
    turned = detection(60, 40, 200, 200)
    turned.landmarks[2, 0] += 50  # the nose far off the eyes' midline: a face turned away
    good = face_quality(sharp, big)
    assert good == pytest.approx(1.0)
    assert face_quality(sharp, small) < 0.5 * good
    assert face_quality(blurred, big) < 0.2 * good
    assert face_quality(sharp, turned) < 0.5 * good
    assert 0.0 < face_quality(blurred, small) <= 0.05 + 1e-9


def test_a_frame_held_aside_leaves_no_crop_in_the_tracks_summary() -> None:
    """Review of the merge: the summary kept the crop of a far frame (the next person in the box), which the review
    could then enroll under the track's group."""
    summaries: list[TrackSummary] = []
    book = EvidenceBook(sink=summaries.append)
    for i in range(4):
        book.observe(
            1,
            towards(1),
            0.5,
            float(i),
            RULE,
            "m",
            (np.full((120, 160, 3), 100, np.uint8), detection(40, 30, 120, 110)),
        )
    stranger = np.full((120, 160, 3), 7, np.uint8)
    assert not book.observe(1, towards(90, plane=2), 0.99, 4.0, RULE, "m", (stranger, detection(40, 30, 120, 110)))
    book.end_all("m")
    assert len(summaries) == 1
    assert all(float(s.image.mean()) > 50 for s in summaries[0].samples)  # Ada's frames only, not the stranger's
    assert all(distance(e, towards(1)) < 1e-6 for e in summaries[0].embeddings)


def test_a_gallery_change_that_leaves_the_person_alone_keeps_a_held_name() -> None:
    """forget_decisions (any gallery or rule change) took every held name off: a track in the hold band (past tau,
    within tau * (1 + hold)) turned Unknown when somebody else was enrolled."""
    rules = EvidenceRules(hold=0.2)
    book = EvidenceBook(rules)
    feed(book, [towards(20, plane=2)] * 3)
    assert feed(book, [towards(34, plane=2)] * 15)[-1] == "Ada"  # d 0.34: past tau 0.3, held
    cy = towards(90, plane=3)
    grown = GallerySnapshot(
        "m", np.array([ADA, BOB, 7]), {ADA: "Ada", BOB: "Bob", 7: "Cy"}, np.stack([towards(0), towards(40), cy])
    )
    book.forget_decisions()
    assert book.decide(1, grown, RULE).label == "Ada"  # Cy's enrollment did not touch Ada
    book.forget_decisions()
    assert book.decide(1, grown, MatchRule(0.31)).label == "Ada"  # nor does a rule change that keeps her in the band
    # Ada re-enrolled (another sample): her name is decided by the rule alone, and d 0.34 is past tau.
    changed = GallerySnapshot(
        "m", np.array([ADA, BOB, 7]), {ADA: "Ada", BOB: "Bob", 7: "Cy"}, np.stack([towards(2), towards(40), cy])
    )
    book.forget_decisions()
    assert book.decide(1, changed, RULE).label == "Unknown"


def test_a_correction_against_the_named_person_takes_a_held_name_off() -> None:
    book = EvidenceBook(EvidenceRules(hold=0.2))
    feed(book, [towards(20, plane=2)] * 3)
    feed(book, [towards(34, plane=2)] * 15)
    corrected = GallerySnapshot(
        "m",
        np.array([ADA, BOB]),
        {ADA: "Ada", BOB: "Bob"},
        np.stack([towards(0), towards(40)]),
        negative_ids=np.array([ADA]),
        negatives=np.stack([towards(34, plane=2)]),
    )
    book.forget_decisions()
    assert book.decide(1, corrected, RULE).label == "Unknown"


def test_a_confident_first_frame_is_named_at_once_and_a_doubtful_one_waits() -> None:
    rules = EvidenceRules(name_after=3, quick_within=0.5, quick_after=1, quick_margin=1.0)
    assert feed(EvidenceBook(rules), [towards(5)]) == ["Ada"]  # d 0.008, far inside tau 0.3, Bob far: at once
    assert feed(EvidenceBook(rules), [towards(18)] * 3) == ["…", "…", "Ada"]  # d 0.10: past 0.5 tau, waits for 3
    close_call = GallerySnapshot(
        "m", np.array([ADA, BOB]), {ADA: "Ada", BOB: "Bob"}, np.stack([towards(0), towards(9)])
    )
    book = EvidenceBook(rules)
    book.observe(1, towards(4), 1.0, 0.0, RULE, "m")  # d 0.005 to Ada, 0.008 to Bob: not twice as far
    assert book.decide(1, close_call, RULE).state == "undecided"
    assert feed(EvidenceBook(EvidenceRules(quick_within=0)), [towards(5)] * 2) == ["…", "…"]  # off: 3 frames


def test_a_name_is_given_only_within_tau_times_name_within_and_kept_in_the_hold_band() -> None:
    rules = EvidenceRules(name_within=0.8, hold=0.15)
    assert feed(EvidenceBook(rules), [towards(30, plane=2)] * 6)[-1] == "Unknown"  # d 0.27: within tau, past 0.24
    book = EvidenceBook(rules)
    feed(book, [towards(10, plane=2)] * 3)  # d 0.03: named
    assert feed(book, [towards(30, plane=2)] * 12)[-1] == "Ada"  # d 0.27: not given, but kept

"""The corrections rule: a face nearer to a person's negatives than to their own samples is refused for them."""

from __future__ import annotations

import numpy as np
import pytest

from faceapp.core.distance import normalize
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import MatchRule


def unit(*values: float) -> np.ndarray:
    return normalize(np.asarray(values, np.float32))


ADA, BOB = 1, 2
A = unit(1, 0, 0, 0)  # Ada's sample
B = unit(0, 1, 0, 0)  # Bob's sample
STRANGER = unit(1, 0, 0.8, 0)  # d(stranger, Ada) = 0.44: within a tau of 0.6
NEAR_STRANGER = unit(1, 0, 0.9, 0)  # another photo of the stranger
ADA_AGAIN = unit(1, 0, -0.3, 0)  # Ada herself, turned the other way


@pytest.mark.parametrize("scoring", ["nearest", "average"])
def test_a_stranger_named_ada_is_refused_after_one_correction_and_ada_is_still_named(scoring: str) -> None:
    ids, gallery = np.array([ADA, BOB]), np.stack([A, B])
    names = {ADA: "Ada", BOB: "Bob"}
    before = GallerySnapshot("m", ids, names, gallery, scoring)  # type: ignore[arg-type]
    assert [m.label for m in before.identify(np.stack([STRANGER, NEAR_STRANGER, ADA_AGAIN]), 0.6)] == ["Ada"] * 3

    after = GallerySnapshot("m", ids, names, gallery, scoring, np.array([ADA]), STRANGER[None])  # type: ignore[arg-type]
    stranger, again, ada = after.identify(np.stack([STRANGER, NEAR_STRANGER, ADA_AGAIN]), 0.6)
    assert stranger.label == again.label == "Unknown"
    assert stranger.refused
    assert again.refused
    assert stranger.person_id is None  # Unknown, and not handed to Bob, the next nearest
    assert not np.isfinite(stranger.distance)
    assert ada.label == "Ada"
    assert not ada.refused
    assert ada.distance == pytest.approx(before.identify(ADA_AGAIN, 0.6)[0].distance)


def test_a_refused_only_person_leaves_nobody_nearest() -> None:
    snapshot = GallerySnapshot("m", np.array([ADA]), {ADA: "Ada"}, A[None], "nearest", np.array([ADA]), STRANGER[None])
    [match] = snapshot.identify(NEAR_STRANGER, MatchRule(4.0))
    assert (match.person_id, match.name, match.accepted, match.refused) == (None, None, False, True)
    assert match.label == "Unknown"
    assert not np.isfinite(match.distance)


def test_corrections_of_one_person_do_not_touch_another() -> None:
    ids = np.array([ADA, BOB])
    snapshot = GallerySnapshot(
        "m", ids, {ADA: "Ada", BOB: "Bob"}, np.stack([A, B]), "nearest", np.array([BOB]), STRANGER[None]
    )
    [match] = snapshot.identify(NEAR_STRANGER, 0.6)
    assert match.label == "Ada"  # the correction says "not Bob", not "not Ada"
    assert not match.refused


def test_verify_refuses_a_claim_the_corrections_contradict() -> None:
    snapshot = GallerySnapshot("m", np.array([ADA]), {ADA: "Ada"}, A[None], "average", np.array([ADA]), STRANGER[None])
    refused = snapshot.verify(NEAR_STRANGER, ADA, 0.6)
    assert not refused.accepted
    assert refused.refused
    assert not np.isfinite(refused.distance)
    kept = snapshot.verify(ADA_AGAIN, ADA, 0.6)
    assert kept.accepted
    assert not kept.refused


def test_corrections_of_people_without_samples_and_unsorted_galleries_are_handled() -> None:
    ids = np.array([BOB, ADA, BOB])  # not grouped by person
    gallery = np.stack([B, A, unit(0, 1, 0.1, 0)])
    negative_ids = np.array([7, ADA])  # person 7 has no samples: their correction is moot
    negatives = np.stack([B, STRANGER])
    snapshot = GallerySnapshot("m", ids, {ADA: "Ada", BOB: "Bob"}, gallery, "nearest", negative_ids, negatives)
    names = [m.label for m in snapshot.identify(np.stack([NEAR_STRANGER, B, ADA_AGAIN]), 0.6)]
    assert names == ["Unknown", "Bob", "Ada"]


def test_spread_is_the_largest_distance_between_a_persons_samples() -> None:
    ids = np.array([ADA, BOB, ADA, ADA])
    gallery = np.stack([A, B, ADA_AGAIN, STRANGER])
    snapshot = GallerySnapshot("m", ids, {ADA: "Ada", BOB: "Bob"}, gallery)
    expected = float(np.sum((ADA_AGAIN - STRANGER) ** 2))
    assert snapshot.spread(ADA) == pytest.approx(expected, abs=1e-5)
    assert snapshot.spread(BOB) == 0.0
    assert np.isnan(snapshot.spread(99))

"""The distance and gallery matching: identify (1:K) and verify (1:1)."""

from __future__ import annotations

import numpy as np
import pytest

from faceapp.core.distance import distance, distances, normalize
from faceapp.core.matching import GallerySnapshot, two_nearest
from faceapp.core.types import MatchRule


def unit(*values: float) -> np.ndarray:
    return normalize(np.array(values, np.float32))


def test_distance_is_squared_euclidean_of_unit_vectors() -> None:
    a, b = unit(1, 0, 0), unit(0, 1, 0)
    assert distance(a, b) == pytest.approx(2.0)
    assert distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert distance(a, -a) == pytest.approx(4.0)
    rng = np.random.default_rng(0)
    p, g = normalize(rng.normal(size=(3, 8))), normalize(rng.normal(size=(5, 8)))
    brute = ((p[:, None, :] - g[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(distances(p, g), brute, atol=1e-5)


def test_normalize_keeps_zero_rows_finite() -> None:
    out = normalize(np.zeros((2, 4)))
    assert np.isfinite(out).all()


@pytest.fixture
def gallery() -> GallerySnapshot:
    # Person 1 has two samples; person 2 has one. Nearest-sample scoring (the average has its own tests below).
    vectors = np.stack([unit(1, 0, 0), unit(1, 1, 0), unit(0, 0, 1)])
    return GallerySnapshot("m", np.array([1, 1, 2]), {1: "Ada", 2: "Bob"}, vectors, scoring="nearest")


def test_identify_names_the_nearest_sample_and_applies_tau(gallery: GallerySnapshot) -> None:
    probes = np.stack([unit(0, 1, 0), unit(0, 0.1, 1), unit(-1, -1, -1)])
    matches = gallery.identify(probes, 0.7)
    # (0,1,0) is nearest the second sample of Ada: d = 2 - 2 cos 45deg = 0.586.
    assert matches[0].name == "Ada"
    assert matches[0].distance == pytest.approx(2 - np.sqrt(2), abs=1e-5)
    assert matches[0].accepted
    assert matches[1].label == "Bob"
    assert not matches[2].accepted
    assert matches[2].label == "Unknown"


def test_identify_on_an_empty_gallery_is_unknown() -> None:
    matches = GallerySnapshot.empty("m", 3).identify(np.stack([unit(1, 0, 0)]), 1.0)
    assert matches[0].label == "Unknown"
    assert matches[0].person_id is None


def test_verify_compares_with_the_claimed_person_only(gallery: GallerySnapshot) -> None:
    probe = unit(1, 0, 0)
    assert gallery.verify(probe, 1, 0.1).accepted
    rejected = gallery.verify(probe, 2, 0.1)
    assert not rejected.accepted
    assert rejected.distance == pytest.approx(2.0, abs=1e-5)
    assert not gallery.verify(probe, 99, 4.0).accepted


def test_person_distances_takes_each_persons_nearest_sample(gallery: GallerySnapshot) -> None:
    people, d = gallery.person_distances(np.stack([unit(0, 1, 0)]))
    assert list(people) == [1, 2]
    assert d[0, 0] == pytest.approx(2 - np.sqrt(2), abs=1e-5)
    assert d[0, 1] == pytest.approx(2.0, abs=1e-5)
    assert gallery.people_count == 2
    assert gallery.sample_count == 3


def test_pair_distances_match_the_matrix_form() -> None:
    rng = np.random.default_rng(3)
    a, b = normalize(rng.normal(size=(6, 8))), normalize(rng.normal(size=(6, 8)))
    from faceapp.core.distance import pair_distances

    np.testing.assert_allclose(pair_distances(a, b), np.diag(distances(a, b)), atol=1e-5)


def test_person_distances_match_brute_force_with_interleaved_people() -> None:
    rng = np.random.default_rng(5)
    ids = np.array([3, 1, 3, 2, 1, 3, 9])  # unsorted, interleaved, several samples each
    vectors = normalize(rng.normal(size=(7, 8)))
    probes = normalize(rng.normal(size=(4, 8)))
    full = distances(probes, vectors)
    for scoring, reduce in (("nearest", np.min), ("average", np.mean)):
        snap = GallerySnapshot("m", ids, {}, vectors, scoring=scoring)  # type: ignore[arg-type]
        people, d = snap.person_distances(probes)
        assert list(people) == [1, 2, 3, 9]
        for column, pid in enumerate(people):
            np.testing.assert_allclose(d[:, column], reduce(full[:, ids == pid], axis=1), atol=1e-6)


def test_the_app_scores_a_person_by_the_mean_distance_to_their_samples() -> None:
    vectors = np.stack([unit(1, 0, 0), unit(1, 1, 0), unit(0, 0, 1)])
    snap = GallerySnapshot("m", np.array([1, 1, 2]), {1: "Ada", 2: "Bob"}, vectors)
    assert snap.scoring == "average"
    probe = unit(0, 1, 0)
    (match,) = snap.identify(probe, 2.0)
    assert match.distance == pytest.approx((2.0 + (2 - np.sqrt(2))) / 2, abs=1e-5)
    assert snap.verify(probe, 1, 4.0).distance == pytest.approx(match.distance, abs=1e-6)


def test_more_samples_give_a_stranger_no_more_chances() -> None:
    # A stranger close to one of Ada's 30 varied samples: named under nearest-sample scoring, not under the mean.
    rng = np.random.default_rng(7)
    ada = normalize(np.array([1.0, 0, 0]) + rng.normal(0, 0.6, (30, 3)))
    stranger = normalize(ada[17] + 0.05)
    ids = np.ones(30, np.int64)
    nearest = GallerySnapshot("m", ids, {1: "Ada"}, ada, scoring="nearest").identify(stranger, 0.1)[0]
    average = GallerySnapshot("m", ids, {1: "Ada"}, ada).identify(stranger, 0.1)[0]
    assert nearest.accepted
    assert not average.accepted


def test_identify_reports_the_runner_up_person_not_a_second_sample(gallery: GallerySnapshot) -> None:
    (match,) = gallery.identify(unit(1, 0.2, 0), 0.7)
    assert match.name == "Ada"
    assert match.runner_up_name == "Bob"  # Ada's own second sample is nearer, but it is the same person
    assert match.runner_up == pytest.approx(2.0, abs=1e-5)


def test_the_margin_turns_a_too_close_call_into_unknown() -> None:
    # A probe nearly between Ada and Bob: d(Ada) = 0.513, d(Bob) = 0.662, only 1.29 times as far.
    snap = GallerySnapshot("m", np.array([1, 2]), {1: "Ada", 2: "Bob"}, np.stack([unit(1, 0, 0), unit(0, 1, 0)]))
    probe = unit(1, 0.9, 0)
    (plain,) = snap.identify(probe, MatchRule(1.0))
    (guarded,) = snap.identify(probe, MatchRule(1.0, 0.35))
    assert plain.accepted
    assert plain.label == "Ada"
    assert guarded.name == "Ada"
    assert not guarded.accepted
    assert guarded.ambiguous
    assert guarded.label == "Unknown"
    assert guarded.runner_up / guarded.distance < 1.35
    (clear,) = snap.identify(unit(1, 0.2, 0), MatchRule(1.0, 0.35))
    assert clear.accepted
    assert not clear.ambiguous
    (far,) = snap.identify(probe, MatchRule(0.1, 0.35))
    assert not far.accepted
    assert not far.ambiguous


def test_the_margin_does_not_apply_with_one_person() -> None:
    snap = GallerySnapshot("m", np.array([1, 1]), {1: "Ada"}, np.stack([unit(1, 0, 0), unit(1, 0.1, 0)]))
    (match,) = snap.identify(unit(1, 0.05, 0), MatchRule(0.5, 1.0))
    assert match.accepted
    assert match.runner_up == float("inf")
    assert match.runner_up_name is None


def test_two_nearest_orders_the_two_best_columns() -> None:
    d = np.array([[0.5, 0.1, 0.3], [0.2, 0.9, 0.1]])
    best, d1, second, d2 = two_nearest(d)
    assert list(best) == [1, 2]
    assert list(second) == [2, 0]
    np.testing.assert_allclose(d1, [0.1, 0.1])
    np.testing.assert_allclose(d2, [0.3, 0.2])
    best, d1, second, d2 = two_nearest(np.array([[0.4]]))
    assert list(best) == [0]
    assert list(second) == [-1]
    assert d2[0] == float("inf")


def test_a_tie_is_never_clear_with_a_margin_not_even_at_zero() -> None:
    # The same face enrolled under two names: both at d = 0.
    snap = GallerySnapshot("m", np.array([1, 2]), {1: "Ada", 2: "Bob"}, np.stack([unit(1, 0, 0), unit(1, 0, 0)]))
    (guarded,) = snap.identify(unit(1, 0, 0), MatchRule(0.5, 0.35))
    assert not guarded.accepted
    assert guarded.ambiguous
    (plain,) = snap.identify(unit(1, 0, 0), MatchRule(0.5))
    assert plain.accepted  # margin 0: distance only, as before
    rule = MatchRule(0.5, 0.35)
    mask = rule.clear_mask(np.array([0.0, 0.1, 0.1]), np.array([0.0, 0.2, 0.12]))
    assert list(mask) == [False, True, False]
    assert [rule.clear(d, r) for d, r in [(0.0, 0.0), (0.1, 0.2), (0.1, 0.12)]] == list(mask)


def test_person_distances_does_not_hand_out_its_cache(gallery: GallerySnapshot) -> None:
    people, _ = gallery.person_distances(unit(1, 0, 0))
    with pytest.raises(ValueError, match="read-only"):
        people[0] = 99

"""The distance and gallery matching: identify (1:K) and verify (1:1)."""

from __future__ import annotations

import numpy as np
import pytest

from faceapp.core.distance import distance, distances, normalize
from faceapp.core.matching import GallerySnapshot


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
    # Person 1 has two samples; person 2 has one.
    vectors = np.stack([unit(1, 0, 0), unit(1, 1, 0), unit(0, 0, 1)])
    return GallerySnapshot("m", np.array([1, 1, 2]), {1: "Ada", 2: "Bob"}, vectors)


def test_identify_names_the_nearest_sample_and_applies_tau(gallery: GallerySnapshot) -> None:
    probes = np.stack([unit(0, 1, 0), unit(0, 0.1, 1), unit(-1, -1, -1)])
    matches = gallery.identify(probes, threshold=0.7)
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

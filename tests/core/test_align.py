"""Alignment: the similarity fit, dlib chips, and sample crops."""

from __future__ import annotations

import numpy as np
import pytest

from faceapp.core import align
from tests.fakes import detection


def test_similarity_matrix_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    m = align.similarity_matrix(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_similarity_matrix_never_reflects() -> None:
    src = np.array([[0.0, 0], [1, 0], [0, 1]])
    mirrored = src * [-1, 1]
    m = align.similarity_matrix(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0


def test_dlib_chip_puts_landmarks_on_the_template() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    det = detection(100, 120, 260, 300)
    m = align.similarity_matrix(det.landmarks, align.DLIB_MTCNN_TEMPLATE)
    mapped = det.landmarks @ m[:, :2].T + m[:, 2]
    # Five points, four degrees of freedom: the fit is close, not exact.
    assert np.abs(mapped - align.DLIB_MTCNN_TEMPLATE).max() < 12
    chip = align.dlib_chip(image, det)
    assert chip.shape == (150, 150, 3)
    assert chip.dtype == np.uint8


def test_box_crop_is_resized_to_size() -> None:
    image = np.random.default_rng(1).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    chip = align.box_crop(image, detection(20, 30, 120, 160), 160, 14)
    assert chip.shape == (160, 160, 3)


def test_box_crop_outside_the_image_is_black() -> None:
    chip = align.box_crop(np.full((50, 50, 3), 255, np.uint8), detection(60, 60, 90, 90), 32, 0)
    assert chip.shape == (32, 32, 3)
    assert chip.max() == 0


@pytest.mark.parametrize("size", [(2000, 1500), (300, 300)])
def test_sample_crop_keeps_landmarks_on_the_same_pixels(size: tuple[int, int]) -> None:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (127 + 60 * np.sin(xx / 37.0) + 60 * np.cos(yy / 23.0)).astype(np.uint8)
    image = np.dstack([smooth, smooth[::-1], smooth[:, ::-1]])
    det = detection(w * 0.4, h * 0.4, w * 0.6, h * 0.6)
    crop, moved = align.sample_crop(image, det, max_side=400)
    assert max(crop.shape[:2]) <= 400
    # The face region of a chip aligned from the stored crop matches one aligned from the full image.
    full = align.dlib_chip(image, det)[25:125, 25:125].astype(float)
    again = align.dlib_chip(crop, moved)[25:125, 25:125].astype(float)
    assert np.abs(full - again).mean() < 3.0

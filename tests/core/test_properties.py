"""Property-based tests (hypothesis): image bytes, boxes and landmarks never give anything but a usable answer or
faceapp's own one-line error."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from faceapp.core.align import sample_crop, similarity_matrix
from faceapp.core.image_io import load_image, to_rgb
from faceapp.core.types import Detection, FaceSample
from faceapp.errors import BadInputError, ImageReadError
from faceapp.storage.models import encode_sample

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _seed_images() -> list[bytes]:
    """Small valid files of every allowed format, the starting points for mutation."""
    rng = np.random.default_rng(3)
    picture = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    out = []
    for fmt, mode in [("JPEG", "RGB"), ("PNG", "RGBA"), ("GIF", "P"), ("BMP", "RGB"), ("TIFF", "RGB")]:
        buffer = io.BytesIO()
        picture.convert(mode).save(buffer, fmt)
        out.append(buffer.getvalue())
    buffer = io.BytesIO()
    picture.save(buffer, "WEBP")
    out.append(buffer.getvalue())
    buffer = io.BytesIO()
    picture.convert("L").save(buffer, "PPM")
    out.append(buffer.getvalue())
    return out


SEEDS = _seed_images()


def _load_bytes(data: bytes) -> np.ndarray | None:
    """load_image on `data` written to a file; None when refused (with a one-line message)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "photo.jpg"
        path.write_bytes(data)
        try:
            return load_image(path)
        except ImageReadError as exc:
            message = str(exc)
    assert "\n" not in message
    return None


def _check_pixels(image: np.ndarray | None) -> None:
    if image is not None:
        assert image.dtype == np.uint8
        assert image.ndim == 3
        assert image.shape[2] == 3
        assert image.flags.writeable


@FAST
@given(st.binary(max_size=2048))
def test_random_bytes_are_an_image_or_a_one_line_refusal(data: bytes) -> None:
    _check_pixels(_load_bytes(data))


@FAST
@given(
    st.sampled_from(range(len(SEEDS))),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12),
    st.one_of(st.none(), st.integers(0, 4000)),
)
def test_mutated_images_are_an_image_or_a_one_line_refusal(
    seed: int, flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(SEEDS[seed])
    for index, value in flips:
        data[index % len(data)] = value
    if cut is not None:
        data = data[:cut]
    _check_pixels(_load_bytes(bytes(data)))


@FAST
@given(
    st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_]),
    st.integers(1, 6),
    st.integers(1, 6),
    st.sampled_from([None, 1, 3, 4]),
    st.randoms(use_true_random=False),
)
def test_any_numeric_array_becomes_rgb(dtype: type, h: int, w: int, channels: int | None, rnd: object) -> None:
    rng = np.random.default_rng(abs(hash(str(rnd))) % 2**32)
    shape = (h, w) if channels is None else (h, w, channels)
    values = rng.normal(0, 1e6, shape)
    if np.issubdtype(dtype, np.floating):
        values[rng.random(shape) < 0.1] = np.nan
        array = values.astype(dtype)
    elif dtype is np.bool_:
        array = values > 0
    else:
        info = np.iinfo(dtype)  # type: ignore[type-var]
        array = np.clip(values, info.min, info.max).astype(dtype)
    rgb = to_rgb(array)
    assert rgb.shape == (h, w, 3)
    assert rgb.dtype == np.uint8


finite = st.floats(-1e4, 1e4, allow_nan=False)
any_float = st.floats(allow_nan=True, allow_infinity=True)


@FAST
@given(
    st.integers(1, 120),
    st.integers(1, 120),
    st.tuples(st.one_of(finite, any_float), finite, finite, finite),
    st.lists(st.tuples(finite, finite), min_size=5, max_size=5),
)
def test_sample_crop_gives_a_crop_or_bad_input(
    h: int, w: int, box: tuple[float, float, float, float], points: list[tuple[float, float]]
) -> None:
    image = np.zeros((h, w, 3), np.uint8)
    detection = Detection(box, 0.99, np.asarray(points, np.float64))
    try:
        crop, moved = sample_crop(image, detection)
    except BadInputError as exc:
        message = str(exc)
        crop = None
    if crop is None:
        assert "\n" not in message
        return
    assert crop.ndim == 3
    assert crop.shape[2] == 3
    assert min(crop.shape[:2]) >= 1
    assert max(crop.shape[:2]) <= 400
    assert np.isfinite(moved.landmarks).all()
    scale = moved.width / detection.width  # one scale and one shift move the box and the landmarks together
    np.testing.assert_allclose(
        moved.landmarks - moved.box[:2], (detection.landmarks - detection.box[:2]) * scale, atol=1e-6 * (1 + w + h)
    )


@FAST
@given(
    st.lists(st.tuples(st.one_of(finite, any_float), finite), min_size=5, max_size=5),
    st.tuples(any_float, finite, finite, finite),
    st.one_of(st.floats(0, 1), any_float),
)
def test_encode_sample_refuses_non_finite_geometry(
    points: list[tuple[float, float]], box: tuple[float, float, float, float], score: float
) -> None:
    landmarks = np.asarray(points, np.float64)
    sample = FaceSample(np.zeros((8, 8, 3), np.uint8), Detection(box, score, landmarks))
    values = [*box, score, *landmarks.reshape(-1)]
    if np.isfinite(values).all():
        row = encode_sample(sample)
        assert np.frombuffer(row["landmarks"], "<f8").reshape(5, 2).tolist() == landmarks.tolist()
    else:
        with pytest.raises(BadInputError):
            encode_sample(sample)


@FAST
@given(
    st.lists(st.tuples(st.floats(-200, 200), st.floats(-200, 200)), min_size=5, max_size=5, unique=True),
    st.floats(0.2, 5.0),
    st.floats(-np.pi, np.pi),
    st.tuples(st.floats(-100, 100), st.floats(-100, 100)),
)
def test_similarity_matrix_recovers_a_similarity(
    points: list[tuple[float, float]], scale: float, angle: float, shift: tuple[float, float]
) -> None:
    src = np.asarray(points, np.float64)
    if np.linalg.matrix_rank(src - src.mean(axis=0), tol=1.0) < 2:
        return  # (nearly) collinear points do not pin down a rotation
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rotation.T + np.asarray(shift)
    matrix = similarity_matrix(src, dst)
    mapped = src @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, dst, atol=1e-6 * (1 + np.abs(dst).max()))

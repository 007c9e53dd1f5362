"""The strict loader against hostile files: no other program started, no hang, no huge allocation, no wrong pixels."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from faceapp.core import image_io
from faceapp.core.image_io import load_image
from faceapp.errors import ImageReadError
from tests.hostile import OK, POSTSCRIPT_LOOP, jpeg_header, make_corpus, png_header

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")


def _one_line_refusal(path: Path, match: str | None = None) -> str:
    with pytest.raises(ImageReadError, match=match) as info:
        load_image(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_postscript_named_jpg_never_reaches_ghostscript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    opened: list[object] = []

    def no_process(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise AssertionError("a process was started")

    original_open = EpsImagePlugin.EpsImageFile._open

    def eps_open(self: EpsImagePlugin.EpsImageFile) -> None:
        opened.append(self)
        original_open(self)

    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", eps_open)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(POSTSCRIPT_LOOP)
    _one_line_refusal(photo, "not an image file")
    assert opened == []  # Pillow's EPS plugin (which runs Ghostscript to decode) never saw the file
    assert started == []


@pytest.mark.parametrize("fmt", ["ICO", "TGA", "PCX", "SGI", "DDS"])
def test_formats_outside_the_allow_list_are_refused_whatever_the_name(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(path, fmt)
    _one_line_refusal(path, "not an image file")


@pytest.mark.parametrize(
    ("fmt", "suffix", "mode"),
    [
        ("JPEG", ".jpg", "RGB"),
        ("PNG", ".png", "RGBA"),
        ("WEBP", ".webp", "RGB"),
        ("BMP", ".bmp", "RGB"),
        ("TIFF", ".tif", "RGB"),
        ("GIF", ".gif", "P"),
        ("PPM", ".ppm", "RGB"),
        ("PPM", ".pgm", "L"),
    ],
)
def test_every_allowed_format_loads(tmp_path: Path, fmt: str, suffix: str, mode: str) -> None:
    path = tmp_path / f"x{suffix}"
    Image.new("RGB", (20, 10), (200, 100, 50)).convert(mode).save(path, fmt)
    assert load_image(path).shape == (10, 20, 3)


@posix_only
def test_a_fifo_named_jpg_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_image(fifo)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock the reader the old loader left waiting for a writer
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("loading a FIFO hung")
    assert isinstance(outcome[0], ImageReadError)
    assert "not a regular file" in str(outcome[0])


@posix_only
def test_a_device_is_not_read(tmp_path: Path) -> None:
    link = tmp_path / "zero.jpg"
    link.symlink_to("/dev/zero")
    _one_line_refusal(link, "not a regular file")


@pytest.mark.parametrize("header", [png_header(12000, 12000), jpeg_header(12000, 12000)], ids=["png", "jpeg"])
def test_a_tiny_file_declaring_12000_squared_is_refused_before_decoding(
    tmp_path: Path, header: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.img"
    path.write_bytes(header)
    assert len(header) < 500
    loaded: list[object] = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loaded.append(self))
    started = time.perf_counter()
    _one_line_refusal(path, "12000x12000 pixels is more than faceapp reads")
    assert time.perf_counter() - started < 1.0
    assert loaded == []


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (6400, 4800), (90, 120, 150)).save(path)
    image = load_image(path)
    assert image.shape == (2400, 3200, 3)  # drafted to 1/2: the long side stays >= WORKING_SIDE
    assert max(image.shape) >= image_io.WORKING_SIDE


def test_a_large_png_is_reduced_after_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (6000, 3000), 77).save(path)
    image = load_image(path)
    assert image.shape == (1500, 3000, 3)
    assert image[0, 0].tolist() == [77, 77, 77]


def test_16_bit_grey_png_keeps_its_tones(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256), (4, 1)).astype(np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    image = load_image(path)
    assert image[0, 0].tolist() == [0, 0, 0]
    assert image[-1, -1].tolist() == [255, 255, 255]
    assert 120 <= image[0, 128, 0] <= 135  # mid-grey, not white


def test_float_tiff_is_scaled_from_its_unit_range(tmp_path: Path) -> None:
    path = tmp_path / "float.tif"
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(path)
    assert load_image(path)[0, 0].tolist() == [128, 128, 128]


def test_to_rgb_handles_nan_and_wide_integers() -> None:
    with_nan = np.array([[np.nan, 0.0], [1.0, np.inf]], np.float32)
    assert image_io.to_rgb(with_nan)[:, :, 0].tolist() == [[0, 0], [255, 0]]
    wide = np.array([[0, 1 << 20]], np.int64)
    assert image_io.to_rgb(wide)[0, :, 0].tolist() == [0, 255]
    assert image_io.to_rgb(np.array([[0, 65535]], np.uint16))[0, :, 0].tolist() == [0, 255]


def test_a_300_character_name_is_a_one_line_error(tmp_path: Path) -> None:
    message = _one_line_refusal(tmp_path / ("x" * 296 + ".jpg"))
    assert "too long" in message


def test_a_name_with_a_nul_byte_is_a_one_line_error() -> None:
    _one_line_refusal(Path("bad\0name.jpg"), "not a usable file name")


def test_every_corpus_case_gets_its_answer(tmp_path: Path) -> None:
    for case in make_corpus(tmp_path / "corpus"):
        started = time.perf_counter()
        if case.expect == OK:
            image = load_image(case.path)
            assert image.dtype == np.uint8, case.name
            assert image.ndim == 3, case.name
            assert image.shape[2] == 3, case.name
        else:
            _one_line_refusal(case.path)
        assert time.perf_counter() - started < 5.0, case.name


def test_extreme_floats_scale_without_overflow() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fuzzer found "overflow encountered in subtract" here
        assert image_io.to_rgb(np.array([[-3e38, 3e38]], np.float32))[0, :, 0].tolist() == [0, 255]
        assert image_io.to_rgb(np.array([[-1.7e308, 1.7e308]], np.float64))[0, :, 0].tolist() == [0, 255]
        assert image_io.to_rgb(np.array([[-5.0, -5.0]], np.float32))[0, :, 0].tolist() == [0, 0]


def test_a_float_tiff_with_signalling_nans_loads_without_warnings(tmp_path: Path) -> None:
    import warnings

    bits = np.full((8, 8), 0x3F000000, np.uint32)  # 0.5
    bits[0, :4] = 0x7F800001  # signalling NaN: the fuzzer's "invalid value encountered in cast"
    path = tmp_path / "snan.tif"
    Image.fromarray(bits.view(np.float32)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert image[0, 0].tolist() == [0, 0, 0]
    assert image[4, 4].tolist() == [128, 128, 128]

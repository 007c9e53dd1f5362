"""Reading images: formats, EXIF orientation, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceapp.core.image_io import load_image, to_rgb
from faceapp.errors import ImageReadError


def test_grey_rgba_and_bgr_arrays_become_rgb() -> None:
    grey = np.full((4, 5), 7, np.uint8)
    assert to_rgb(grey).shape == (4, 5, 3)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 200
    assert to_rgb(rgba)[0, 0].tolist() == [200, 0, 0]
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 50
    assert to_rgb(bgr, "bgr")[0, 0].tolist() == [0, 0, 50]
    assert to_rgb(np.ones((2, 2, 3), np.float32)).max() == 255
    with pytest.raises(ImageReadError):
        to_rgb(np.zeros((2, 2, 7), np.uint8))


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif)
    assert load_image(path).shape == (40, 20, 3)


def test_png_with_alpha_and_grey_images_load(tmp_path: Path) -> None:
    Image.new("RGBA", (8, 6), (0, 0, 255, 128)).save(tmp_path / "a.png")
    Image.new("L", (8, 6), 90).save(tmp_path / "g.png")
    assert load_image(tmp_path / "a.png").shape == (6, 8, 3)
    assert load_image(tmp_path / "g.png")[0, 0].tolist() == [90, 90, 90]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"not an image at all", "not an image"), (b"\xff\xd8\xff\xe0truncated", "image")],
)
def test_bad_files_give_one_line_messages(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "photo.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message) as info:
        load_image(path)
    assert "\n" not in str(info.value)


def test_a_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="folder"):
        load_image(tmp_path)

"""Reading images from files and arrays into the one form the core uses: RGB uint8 (H, W, 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceapp.errors import ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm")


def to_rgb(image: np.ndarray, order: str = "rgb") -> np.ndarray:
    """An RGB uint8 (H, W, 3) copy of a grey, RGB/BGR or RGBA/BGRA array; `order` names the colour order."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating):
            a = np.clip(a * (255.0 if a.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        elif a.dtype == np.uint16:
            a = (a >> 8).astype(np.uint8)
        else:
            a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageReadError(f"Not an image array: shape {a.shape}.")
    if a.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(a, 3, axis=2))
    a = a[:, :, :3]
    if order.lower().startswith("bgr"):
        a = a[:, :, ::-1]
    return np.ascontiguousarray(a)


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 with its EXIF orientation applied; ImageReadError says why not."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"{p}: no such file.")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a folder, not an image file.")
    try:
        with Image.open(p) as img:
            img.load()
            oriented = ImageOps.exif_transpose(img)
            if oriented.mode in ("RGBA", "LA", "P"):
                oriented = oriented.convert("RGBA")
                background = Image.new("RGBA", oriented.size, (255, 255, 255, 255))
                oriented = Image.alpha_composite(background, oriented)
            rgb = oriented.convert("RGB")
            return np.asarray(rgb, dtype=np.uint8).copy()
    except UnidentifiedImageError:
        raise ImageReadError(f"{p}: not an image file (or a format faceapp cannot read).") from None
    except PermissionError:
        raise ImageReadError(f"{p}: permission denied.") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{p}: cannot read the image ({exc}).") from None
    except Image.DecompressionBombError:
        raise ImageReadError(f"{p}: image is too large to open safely.") from None

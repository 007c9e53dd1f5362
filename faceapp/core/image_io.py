"""Reading images from files and arrays into the one form the core uses: RGB uint8 (H, W, 3).

The file loader is strict because a photo may come from anyone: only regular files, only the formats below (decided
by the decoder that recognises the content, whatever the file is called), and no more pixels than face detection
can use. Pillow knows formats such as EPS that it decodes by starting Ghostscript; those are never tried.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import stat
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.errors import ImageReadError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm")

# Pillow's names of the formats faceapp decodes (PPM covers PGM and PPM; MPO is the multi-picture JPEG of cameras).
BASE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "PPM")
OPTIONAL_FORMATS = ("AVIF", "HEIF")  # only when Pillow has the codec or pillow-heif is installed
# Detection works on at most 1280 px (DetectorConfig.max_side); decoding far more only costs memory and time.
MAX_PIXELS = 50_000_000
# Bigger images are reduced by a whole factor that keeps at least this long side: JPEGs while decoding (draft, at
# 1/2, 1/4 or 1/8 scale), other formats right after. Twice the detector's cap leaves crops their detail.
WORKING_SIDE = 2560
MAX_FILE_BYTES = 512 * 1024 * 1024

_formats: tuple[str, ...] | None = None


def allowed_formats() -> tuple[str, ...]:
    """The Pillow formats load_image opens: the base list, plus AVIF/HEIF when a codec is installed."""
    global _formats
    if _formats is None:
        from PIL import Image

        if importlib.util.find_spec("pillow_heif") is not None:
            try:
                from pillow_heif import register_heif_opener

                register_heif_opener()
            except Exception:  # a broken optional plugin only means no HEIC
                log.warning("pillow-heif is installed but cannot be registered", exc_info=True)
        Image.init()
        _formats = BASE_FORMATS + tuple(f for f in OPTIONAL_FORMATS if f in Image.OPEN)
    return _formats


def to_rgb(image: np.ndarray, order: str = "rgb") -> np.ndarray:
    """An RGB uint8 (H, W, 3) copy of a grey, RGB/BGR or RGBA/BGRA array; `order` names the colour order."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = to_uint8(a)
    if a.ndim == 2:
        return np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or 0 in a.shape:
        raise ImageReadError(f"Not an image array: shape {a.shape}.")
    if a.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(a, 3, axis=2))
    a = a[:, :, :3]
    if order.lower().startswith("bgr"):
        a = a[:, :, ::-1]
    return np.ascontiguousarray(a)


def to_uint8(a: np.ndarray) -> np.ndarray:
    """Pixel values of any numeric dtype as uint8: uint16 by its full range, floats in [0, 1] or [0, 255].

    Other integers are taken as 8-bit, else 16-bit, by their range; floats outside both ranges and integers beyond
    16 bits are stretched from their minimum to their maximum; NaN and infinities become 0.
    """
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16 or a.dtype == np.dtype(">u2"):
        return (a.astype(np.uint32) * 255 // 65535).astype(np.uint8)  # 16-bit: 65535 is white, not 255
    if np.issubdtype(a.dtype, np.floating):
        with np.errstate(invalid="ignore"):  # a signalling NaN raises "invalid" when cast; it becomes 0 just below
            f = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(f.min(initial=0.0)), float(f.max(initial=0.0))
        if low >= 0.0 and high <= 1.0:
            f = f * 255.0
        elif low < 0.0 or high > 255.0:
            half_span = high / 2 - low / 2  # halves: the span of two extreme floats would overflow
            f = (f / 2 - low / 2) * (255.0 / half_span)
        return np.clip(np.rint(f), 0, 255).astype(np.uint8)
    if not np.issubdtype(a.dtype, np.integer):
        raise ImageReadError(f"Not an image array: dtype {a.dtype}.")
    low, high = int(a.min(initial=0)), int(a.max(initial=0))
    if low >= 0 and high <= 255:
        return a.astype(np.uint8)
    if low >= 0 and high <= 65535:
        return (a.astype(np.uint32) * 255 // 65535).astype(np.uint8)  # 16-bit: 65535 is white, not 255
    stretched = (a.astype(np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.rint(stretched), 0, 255).astype(np.uint8)


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 with its EXIF orientation applied; ImageReadError says why not."""
    label = _label(path)
    fd = _open_regular(path, label)
    with os.fdopen(fd, "rb") as f:
        return _decode(f, label)


def _label(path: str | Path) -> str:
    """The file's name as shown in a one-line message."""
    text = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else repr(path)
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\n", "\\n").replace("\r", "\\r")


def _open_regular(path: str | Path, label: str) -> int:
    """A read-only descriptor of `path` when it is a regular file of a sensible size; ImageReadError otherwise.

    The open is non-blocking, so a FIFO swapped in after the stat cannot make it wait for a writer.
    """
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ImageReadError(f"{label}: is a folder, not an image file.")
        _check_regular(info, label)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ImageReadError(f"{label}: no such file.") from None
    except PermissionError:
        raise ImageReadError(f"{label}: permission denied.") from None
    except OSError as exc:  # a name too long, a loop of links, an I/O error: the system's one-line reason
        raise ImageReadError(f"{label}: cannot open the file ({exc.strerror or exc}).") from None
    except (ValueError, TypeError) as exc:  # an embedded NUL byte, or not a path at all
        raise ImageReadError(f"{label}: not a usable file name ({exc}).") from None
    try:
        _check_regular(os.fstat(fd), label)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_regular(info: os.stat_result, label: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(f"{label}: not a regular file (a pipe, device or socket), so not read.")
    if info.st_size == 0:
        raise ImageReadError(f"{label}: the file is empty.")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageReadError(
            f"{label}: the file is {info.st_size / 2**20:.0f} MB, larger than any photo faceapp reads."
        )


def _decode(f: Any, label: str) -> np.ndarray:
    """The RGB pixels of an open image file, after the format and size checks."""
    from PIL import Image, UnidentifiedImageError

    formats = allowed_formats()
    # faceapp applies its own, lower pixel limit below; Pillow's warning for large images would only be noise.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    # Damaged metadata makes some plugins warn ("Truncated File Read"); the outcome is reported as one line instead.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    try:
        with Image.open(f, formats=list(formats)) as img:
            if img.format not in (*formats, "MPO"):
                raise ImageReadError(f"{label}: {img.format} images are not read by faceapp.")
            _limit_pixels(img, label)
            img.load()
            return _pixels(img)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{label}: not an image file (or a format faceapp cannot read; it reads {', '.join(formats)})."
        ) from None
    except Image.DecompressionBombError:
        raise ImageReadError(f"{label}: image is too large to open safely.") from None
    except MemoryError:
        raise ImageReadError(f"{label}: not enough memory to decode this image.") from None
    except Exception as exc:  # decoders raise many kinds (OSError, SyntaxError, struct.error...) on a damaged file
        log.debug("cannot decode %s", label, exc_info=True)
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise ImageReadError(f"{label}: cannot read the image ({detail}).") from None


def _limit_pixels(img: Any, label: str) -> None:
    """Decode big JPEGs at a reduced scale, then refuse anything still above MAX_PIXELS, before decoding."""
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImageReadError(f"{label}: the image declares no pixels ({w}x{h}).")
    if img.format in ("JPEG", "MPO") and max(w, h) > 2 * WORKING_SIDE:
        factor = WORKING_SIDE / max(w, h)
        img.draft("RGB", (max(1, int(w * factor)), max(1, int(h * factor))))
        w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageReadError(
            f"{label}: {w}x{h} pixels is more than faceapp reads ({MAX_PIXELS // 1_000_000} megapixels at most)."
        )


def _pixels(img: Any) -> np.ndarray:
    """RGB uint8 pixels of a loaded image: EXIF orientation applied, transparency over white, deep images scaled."""
    from PIL import Image, ImageOps

    try:
        oriented = ImageOps.exif_transpose(img)
    except Exception:  # a damaged EXIF block should not cost the photo: use it as stored
        log.debug("ignoring unreadable EXIF orientation", exc_info=True)
        oriented = img
    oriented = _reduced(oriented)
    if oriented.mode.startswith("I;16"):
        return to_rgb(np.asarray(oriented).astype(np.uint16))  # uint16 is scaled by its full range
    if oriented.mode in ("I", "F"):
        return to_rgb(np.asarray(oriented))
    if oriented.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        oriented = oriented.convert("RGBA")
        background = Image.new("RGBA", oriented.size, (255, 255, 255, 255))
        oriented = Image.alpha_composite(background, oriented)
    rgb = _reduced(oriented.convert("RGB"))
    return np.asarray(rgb, dtype=np.uint8).copy()


def _reduced(img: Any) -> Any:
    """`img` reduced by the whole factor that keeps its long side at least WORKING_SIDE (as is when small)."""
    factor = max(img.size) // WORKING_SIDE
    if factor < 2:
        return img
    try:
        return img.reduce(factor)
    except ValueError:  # a mode reduce() does not handle (palette, 16-bit): reduced after conversion instead
        return img

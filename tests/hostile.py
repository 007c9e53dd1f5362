"""Hostile input files, generated at run time (nothing third-party is committed), and what faceapp must answer.

`make_corpus(folder)` writes every case and returns them; each says whether the loader must decode it ("ok") or
refuse it with a one-line ImageReadError ("refused"). Cases that need POSIX (a FIFO, /dev/zero) are skipped
elsewhere.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

OK, REFUSED = "ok", "refused"


@dataclass(frozen=True)
class Case:
    """One hostile file: its path and what the loader must do with it."""

    name: str
    path: Path
    expect: str


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header(width: int, height: int, depth: int = 8, colour: int = 2, idat: bytes = b"") -> bytes:
    """A PNG declaring `width` x `height` with the given (possibly empty or short) image data."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    data = _chunk(b"IHDR", ihdr)
    if idat:
        data += _chunk(b"IDAT", idat)
    return b"\x89PNG\r\n\x1a\n" + data + _chunk(b"IEND", b"")


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a baseline JPEG declaring `width` x `height`, with no scan data."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    quant = b"\x00" + bytes(range(1, 65))
    return (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", 16)
        + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\xff\xdb"
        + struct.pack(">H", 2 + len(quant))
        + quant
        + b"\xff\xc0"
        + struct.pack(">H", 2 + len(sof))
        + sof
    )


def _saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _face_like(size: int) -> Image.Image:
    """A smooth grey blob with two dark eyes: face-ish enough to exercise detection, no real person."""
    yy, xx = np.mgrid[0:size, 0:size] / max(size, 1)
    img = 200 - 120 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)
    for ex in (0.35, 0.65):
        img -= 120 * np.exp(-(((xx - ex) ** 2 + (yy - 0.4) ** 2) / 0.002))
    grey = np.clip(img, 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=2))


POSTSCRIPT_LOOP = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n{ } loop\nshowpage\n"


def _eps_binary() -> bytes:
    """A DOS EPS binary header (C5D0D3C6) pointing at PostScript that loops."""
    header = struct.pack("<4sIIIIIIH", b"\xc5\xd0\xd3\xc6", 30, len(POSTSCRIPT_LOOP), 0, 0, 0, 0, 0xFFFF)
    return header + POSTSCRIPT_LOOP


def _bytes_cases() -> dict[str, tuple[str, Callable[[], bytes]]]:
    """File name -> (expectation, content maker)."""
    rng = np.random.default_rng(1)
    grey16 = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    return {
        "postscript-loop.jpg": (REFUSED, lambda: POSTSCRIPT_LOOP),
        "postscript-plain.png": (REFUSED, lambda: b"%!PS\n/x { x } def x\n"),
        "eps-binary.jpg": (REFUSED, _eps_binary),
        "pdf.jpg": (REFUSED, lambda: b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"),
        "svg.png": (REFUSED, lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>'),
        "random.jpg": (REFUSED, lambda: rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        "empty.jpg": (REFUSED, lambda: b""),
        "jpeg-magic-only.jpg": (REFUSED, lambda: b"\xff\xd8\xff\xe0"),
        "png-12000-header.png": (REFUSED, lambda: png_header(12000, 12000)),
        "png-12000-zeros.png": (REFUSED, lambda: png_header(12000, 12000, idat=zlib.compress(b"\x00" * 4096))),
        "png-1x2e9.png": (REFUSED, lambda: png_header(1, 2_000_000_000)),
        "jpeg-12000-header.jpg": (REFUSED, lambda: jpeg_header(12000, 12000)),
        "jpeg-65500-header.jpg": (REFUSED, lambda: jpeg_header(65500, 65500)),
        "png-truncated.png": (REFUSED, lambda: _saved(_face_like(200), "PNG")[:300]),
        "jpeg-truncated.jpg": (REFUSED, lambda: _saved(_face_like(200), "JPEG")[:400]),
        "ico.jpg": (REFUSED, lambda: _saved(_face_like(64), "ICO")),
        "tga.jpg": (REFUSED, lambda: _saved(_face_like(64), "TGA")),
        "pcx.png": (REFUSED, lambda: _saved(_face_like(64), "PCX")),
        "sgi.jpg": (REFUSED, lambda: _saved(_face_like(64), "SGI")),
        "dds.jpg": (REFUSED, lambda: _saved(_face_like(64), "DDS")),
        "tiny-24.jpg": (OK, lambda: _saved(_face_like(24), "JPEG")),
        "tiny-30.png": (OK, lambda: _saved(_face_like(30), "PNG")),
        "tiny-39.jpg": (OK, lambda: _saved(_face_like(39), "JPEG")),
        "one-pixel.png": (OK, lambda: _saved(Image.new("RGB", (1, 1)), "PNG")),
        "strip-1x4000.png": (OK, lambda: _saved(Image.new("RGB", (1, 4000)), "PNG")),
        "strip-9000x30.png": (OK, lambda: _saved(Image.new("RGB", (9000, 30)), "PNG")),
        "grey16.png": (OK, lambda: _saved(Image.fromarray(grey16), "PNG")),
        "float.tif": (
            OK,
            lambda: _saved(Image.fromarray(np.linspace(0, 1, 4096, dtype=np.float32).reshape(64, 64)), "TIFF"),
        ),
        "cmyk.jpg": (OK, lambda: _saved(_face_like(80).convert("CMYK"), "JPEG")),
        "palette-alpha.png": (OK, lambda: _saved(_face_like(80).convert("P"), "PNG", transparency=0)),
        "gif-animated.gif": (
            OK,
            lambda: _saved(_face_like(80), "GIF", save_all=True, append_images=[_face_like(80)] * 20),
        ),
        "bmp-1bit.bmp": (OK, lambda: _saved(_face_like(80).convert("1"), "BMP")),
        "pgm.pgm": (OK, lambda: _saved(_face_like(80).convert("L"), "PPM")),
        "webp.webp": (OK, lambda: _saved(_face_like(80), "WEBP")),
        "tiff-multipage.tif": (
            OK,
            lambda: _saved(_face_like(80), "TIFF", save_all=True, append_images=[_face_like(40)]),
        ),
        "exif-orientation-9.jpg": (OK, lambda: _exif_jpeg(9)),
        "png-bomb-49mp.png": (OK, lambda: _saved(Image.new("L", (7000, 7000)), "PNG", compress_level=9)),
        "jpeg-large-7000.jpg": (OK, lambda: _saved(Image.new("RGB", (7000, 5000), (90, 120, 150)), "JPEG")),
    }


def _exif_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _saved(_face_like(80), "JPEG", exif=exif)


def make_corpus(folder: Path, posix_specials: bool = True) -> list[Case]:
    """Write every hostile case into `folder` (created) and return them; FIFOs and links only on POSIX."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    for name, (expect, make) in _bytes_cases().items():
        path = folder / name
        path.write_bytes(make())
        cases.append(Case(name, path, expect))
    (folder / "folder.jpg").mkdir(exist_ok=True)
    cases.append(Case("folder.jpg", folder / "folder.jpg", REFUSED))
    cases.append(Case("missing.jpg", folder / "missing.jpg", REFUSED))
    cases.append(Case("name-300-chars.jpg", folder / ("n" * 296 + ".jpg"), REFUSED))
    if posix_specials and os.name == "posix":
        fifo = folder / "fifo.jpg"
        os.mkfifo(fifo)
        cases.append(Case("fifo.jpg", fifo, REFUSED))
        zero = folder / "dev-zero.jpg"
        zero.symlink_to("/dev/zero")
        cases.append(Case("dev-zero.jpg", zero, REFUSED))
        loop = folder / "link-loop.jpg"
        loop.symlink_to(loop.name)
        cases.append(Case("link-loop.jpg", loop, REFUSED))
    return cases

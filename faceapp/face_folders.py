"""`faceapp gallery export-faces DIR`: the gallery's face crops as one folder of PNGs per person (LFW's layout),
the DATA that `faceapp train` reads.

Folder names are the people's names made safe as file names (no separators, no leading dots, at most 100
characters; two names that come out the same get " (2)", " (3)"...). The folder must be new or empty: nothing in it
is overwritten. The crops are the ones the gallery keeps (the face and a wide margin), so training detects and aligns
them with the app's own pipeline.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import cv2

from faceapp.engine import Engine
from faceapp.errors import BadInputError

MAX_FOLDER_NAME = 100
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def folder_name(name: str) -> str:
    """A person's name as a folder name on any common file system ('_' for what cannot be in one)."""
    clean = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip().lstrip(".").rstrip(". ")
    clean = clean[:MAX_FOLDER_NAME].rstrip(". ") or "_"
    return f"_{clean}" if clean.split(".")[0].upper() in _RESERVED else clean


def export_faces(engine: Engine, folder: Path) -> tuple[int, int]:
    """Write every person's sample crops to `folder/<name>/<name>_0001.png`...; returns (people, images)."""
    try:
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise BadInputError(f"{folder} is not an empty folder; choose a new or empty one (nothing is overwritten).")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInputError(f"Cannot use the folder {folder} ({error.strerror or error}).") from None
    taken: set[str] = set()
    people = images = 0
    for person in engine.people():
        stored = engine.samples_of(person.id)
        if not stored:
            continue
        base = name = folder_name(person.name)
        n = 2
        while name.casefold() in taken:  # case-insensitive file systems would merge "Ann" and "ann"
            name = f"{base} ({n})"
            n += 1
        taken.add(name.casefold())
        target = folder / name
        try:
            target.mkdir()
            for i, s in enumerate(stored, 1):
                ok, png = cv2.imencode(".png", cv2.cvtColor(s.sample.image, cv2.COLOR_RGB2BGR))
                if not ok:
                    raise BadInputError(f"A face crop of {person.name} cannot be encoded as PNG.")
                (target / f"{name}_{i:04d}.png").write_bytes(png.tobytes())
                images += 1
        except OSError as error:
            raise BadInputError(f"Cannot write into {target} ({error.strerror or error}).") from None
        people += 1
    return people, images

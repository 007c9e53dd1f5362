"""Training data: a folder of people (one sub-folder of images each), aligned by the app's own pipeline, cached.

Each image is detected (MTCNN, as the app detects photos), its face chosen as the benchmarks choose it (the one
nearest the centre; LFW's median detection when none is found) and aligned to dlib's 150x150 chip. The chips of a
folder are cached in paths.cache_dir()/train, keyed by every file's path, size and mtime and the pipeline version.
People are split into train and validation by person, never by image.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.errors import BadInputError

PIPELINE_VERSION = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".pgm", ".ppm", ".tif", ".tiff")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class FaceSet:
    """Aligned chips (N, 150, 150, 3) uint8, each image's person index and path, and the people's names."""

    chips: np.ndarray
    labels: np.ndarray
    files: tuple[str, ...]
    people: tuple[str, ...]

    def subset(self, people: Sequence[str]) -> FaceSet:
        """The images of `people` only, relabelled 0..len(people)-1 in that order."""
        index = {name: i for i, name in enumerate(self.people)}
        wanted = {index[name]: j for j, name in enumerate(people)}
        rows = np.array([i for i, label in enumerate(self.labels) if int(label) in wanted], dtype=np.int64)
        labels = np.array([wanted[int(self.labels[i])] for i in rows], dtype=np.int64)
        return FaceSet(self.chips[rows], labels, tuple(self.files[i] for i in rows), tuple(people))

    def digest(self) -> str:
        """SHA-256 of the sorted file list, for the model card."""
        return hashlib.sha256("\n".join(sorted(self.files)).encode()).hexdigest()


def scan(root: Path, min_images: int = 1) -> dict[str, list[Path]]:
    """Each person (a sub-folder of `root`) with their image files, sorted; those with under `min_images` left out."""
    if not root.is_dir():
        raise BadInputError(f"{root}: no such folder (it should hold one sub-folder of images per person).")
    people: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) >= min_images:
            people[folder.name] = files
    if not people:
        raise BadInputError(f"{root}: no sub-folders with images (one sub-folder of images per person is expected).")
    return people


def split_people(people: Sequence[str], validation: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, validation) people: a seeded shuffle, at least 2 people each side."""
    order = sorted(people)
    np.random.default_rng(seed).shuffle(order)
    n_val = min(max(2, round(len(order) * validation)), len(order) - 2)
    if n_val < 2:
        raise BadInputError(f"{len(order)} people with 2 or more images; training needs at least 4.")
    return sorted(order[n_val:]), sorted(order[:n_val])


def _cache_file(root: Path, files: Sequence[Path]) -> Path:
    from faceapp import paths

    h = hashlib.sha256(f"v{PIPELINE_VERSION}|{root.resolve()}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return paths.cache_dir() / "train" / f"chips-{h.hexdigest()[:24]}.npz"


def align_files(files: Sequence[Path], detector: Any = None, progress: Progress | None = None) -> np.ndarray:
    """dlib chips (N, 150, 150, 3) for `files`, detected and aligned as the benchmarks do."""
    from faceapp.bench.embed_cache import CHUNK, batch_detector, central_face, fallback_detection
    from faceapp.core.align import dlib_chip
    from faceapp.core.image_io import load_image

    det = detector or batch_detector()
    chips = np.zeros((len(files), 150, 150, 3), np.uint8)
    start = time.perf_counter()
    for offset in range(0, len(files), CHUNK):
        images = [load_image(f) for f in files[offset : offset + CHUNK]]
        found = det.detect_many(images)
        for i, (image, dets) in enumerate(zip(images, found, strict=True)):
            chosen = central_face(dets, image.shape) or fallback_detection(image.shape)
            chips[offset + i] = dlib_chip(image, chosen)
        done = offset + len(images)
        if progress is not None and (done % (CHUNK * 20) < CHUNK or done == len(files)):
            rate = done / max(time.perf_counter() - start, 1e-9)
            progress(
                f"aligning: {done}/{len(files)} images, {rate:.1f}/s, about {(len(files) - done) / rate:.0f} s left"
            )
    return chips


def load(
    root: Path,
    people: Sequence[str] | None = None,
    min_images: int = 2,
    detector: Any = None,
    progress: Progress | None = None,
) -> FaceSet:
    """The aligned chips of every person of `root` with at least `min_images` (only `people`, when given)."""
    found = scan(root, min_images)
    names = sorted(found) if people is None else [p for p in people if p in found]
    if not names:
        raise BadInputError(f"{root}: none of the chosen people has {min_images} or more images.")
    files = [f for name in names for f in found[name]]
    labels = np.array([i for i, name in enumerate(names) for _ in found[name]], dtype=np.int64)
    rel = tuple(f.relative_to(root).as_posix() for f in files)
    return FaceSet(cached_chips(root, files, detector, progress), labels, rel, tuple(names))


def cached_chips(
    root: Path, files: Sequence[Path], detector: Any = None, progress: Progress | None = None
) -> np.ndarray:
    """align_files, kept on disk per (root, file list with sizes and mtimes, pipeline version)."""
    cache = _cache_file(root, files)
    if cache.is_file():
        with np.load(cache) as z:
            return np.asarray(z["chips"])
    chips = align_files(files, detector, progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    np.savez(tmp, chips=chips)
    tmp.replace(cache)
    return chips

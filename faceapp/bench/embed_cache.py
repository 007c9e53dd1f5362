"""Embedding every image of a benchmark once: detect, choose the face, align, embed, and keep the result on disk.

The cache is one .npz per (dataset, model, PIPELINE_VERSION) in paths.cache_dir()/bench; an entry is keyed by the
image's path relative to the dataset root, its size and its mtime, so an edited file is embedded again.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from faceapp.core.embedders.base import Embedder
from faceapp.core.types import Detection

# Bump whenever detection, face choice, fallback or alignment changes: old caches are then ignored.
PIPELINE_VERSION = 2
CHUNK = 32  # images per detection + embedding round: chips of a chunk go through the network together

# When MTCNN finds no face in a 250x250 deep-funneled LFW image, this fixed detection stands in: the median
# MTCNN box and landmarks over 480 random LFW images (seed 0; a face was found in all of them).
# For other image sizes it is scaled to the image.
FALLBACK_SIZE = 250.0
FALLBACK_BOX = (79.1, 65.0, 171.4, 188.0)
FALLBACK_LANDMARKS = ((104.9, 113.3), (146.9, 112.5), (125.8, 137.4), (108.7, 159.2), (145.1, 158.5))
FALLBACK_NOTE = "no face found: the median LFW MTCNN detection (box and 5 landmarks) in the image centre is used"
CHOICE_NOTE = "several faces found: the one whose box centre is nearest the image centre is used"


class ManyDetector(Protocol):
    """Anything that finds faces in a list of RGB images."""

    def detect_many(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Every face in each image."""
        ...


class SingleDetector(Protocol):
    """Anything with the app's Detector.detect signature."""

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Every face in `image`."""
        ...


@dataclass
class PerImage:
    """A ManyDetector that calls a one-image detector (the app's Detector, or a test fake) on each image."""

    detector: SingleDetector

    def detect_many(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """detect() on each image in turn."""
        return [self.detector.detect(image) for image in images]


def batch_detector() -> Any:
    """The app's detector with its default settings; its detect_many batches same-size images (LFW: 250x250)."""
    from faceapp.core.detect import Detector, DetectorConfig

    return Detector(DetectorConfig())


def fallback_detection(shape: tuple[int, ...]) -> Detection:
    """The fixed centre detection used when no face is found, scaled to an image of `shape`."""
    sx, sy = shape[1] / FALLBACK_SIZE, shape[0] / FALLBACK_SIZE
    x1, y1, x2, y2 = FALLBACK_BOX
    landmarks = np.array(FALLBACK_LANDMARKS, dtype=np.float64) * [sx, sy]
    return Detection((x1 * sx, y1 * sy, x2 * sx, y2 * sy), 0.0, landmarks)


def central_face(detections: list[Detection], shape: tuple[int, ...]) -> Detection | None:
    """The detection whose box centre is nearest the image centre (LFW labels the centred face), or None."""
    if not detections:
        return None
    cx, cy = shape[1] / 2, shape[0] / 2

    def off_centre(d: Detection) -> float:
        return ((d.box[0] + d.box[2]) / 2 - cx) ** 2 + ((d.box[1] + d.box[3]) / 2 - cy) ** 2

    return min(detections, key=off_centre)


def cache_path(dataset: str, model: str, pipeline_version: int = PIPELINE_VERSION) -> Path:
    """Where the embeddings of `dataset` by `model` under this pipeline version are kept."""
    from faceapp import paths

    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{dataset}-{model}")
    return paths.cache_dir() / "bench" / f"{safe}-p{pipeline_version}.npz"


def file_key(path: Path, root: Path) -> str:
    """The cache key of one image: its path under `root`, size and mtime (ns)."""
    st = path.stat()
    return f"{path.relative_to(root).as_posix()}|{st.st_size}|{st.st_mtime_ns}"


@dataclass
class EmbedCache:
    """Embeddings and detection results of one (dataset, model, pipeline version), loaded from and saved to .npz."""

    path: Path | None
    model: str
    dim: int
    index: dict[str, int] = field(default_factory=dict)
    embeddings: list[np.ndarray] = field(default_factory=list)
    faces: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0  # wall time spent computing the cached entries (for images/s on warm runs)

    @classmethod
    def open(cls, path: Path | None, model: str, dim: int) -> EmbedCache:
        """The cache at `path` (None: in memory only); an unreadable or mismatched file starts an empty cache."""
        cache = cls(path, model, dim)
        if path is None or not path.exists():
            return cache
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("model") != model or meta.get("pipeline_version") != PIPELINE_VERSION:
                    return cache
                keys = [str(k) for k in data["keys"]]
                emb, faces, boxes, marks = data["embeddings"], data["faces"], data["boxes"], data["landmarks"]
        except (OSError, ValueError, KeyError) as exc:
            print(f"bench: ignoring unreadable cache {path} ({exc})", file=sys.stderr)
            return cache
        cache.index = {k: i for i, k in enumerate(keys)}
        cache.embeddings, cache.faces = list(emb), [int(f) for f in faces]
        cache.boxes, cache.landmarks = list(boxes), list(marks)
        cache.seconds = float(meta.get("seconds", 0.0))
        return cache

    def add(self, key: str, embedding: np.ndarray, faces: int, detection: Detection) -> None:
        """Store one image's result (faces = how many were found; 0 means the fallback was used)."""
        self.index[key] = len(self.embeddings)
        self.embeddings.append(np.asarray(embedding, np.float32))
        self.faces.append(faces)
        self.boxes.append(np.asarray(detection.box, np.float32))
        self.landmarks.append(np.asarray(detection.landmarks, np.float32).reshape(5, 2))

    def save(self) -> None:
        """Write the cache atomically (a temporary file renamed over the old one)."""
        if self.path is None or not self.embeddings:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"model": self.model, "pipeline_version": PIPELINE_VERSION, "seconds": self.seconds}
        keys = sorted(self.index, key=self.index.__getitem__)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            meta=np.array(json.dumps(meta)),
            keys=np.array(keys),
            embeddings=np.stack(self.embeddings),
            faces=np.array(self.faces, np.int16),
            boxes=np.stack(self.boxes),
            landmarks=np.stack(self.landmarks),
        )
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class Embedded:
    """The embeddings of a list of images, with what detection found and how long the new ones took."""

    embeddings: np.ndarray
    faces: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray
    computed: int
    seconds: float
    detect_seconds: float
    embed_seconds: float
    cached_seconds_per_image: float | None


def _embed_chunk(
    paths: list[Path],
    keys: list[str],
    embedder: Embedder,
    detector: ManyDetector,
    load: Callable[[Path], np.ndarray],
    known: Mapping[str, tuple[int, Detection]],
) -> tuple[np.ndarray, list[int], list[Detection], float]:
    """Embeddings of a few images (one network batch), faces found per image, detections used, detection time.

    Images whose detection is in `known` (another model's cache of the same pipeline) are not detected again.
    """
    images = [load(p) for p in paths]
    todo = [i for i, k in enumerate(keys) if k not in known]
    start = time.perf_counter()
    found = dict(zip(todo, detector.detect_many([images[i] for i in todo]) if todo else [], strict=True))
    detect_seconds = time.perf_counter() - start
    counts, chosen = [], []
    for i, (key, im) in enumerate(zip(keys, images, strict=True)):
        if i in found:
            counts.append(len(found[i]))
            chosen.append(central_face(found[i], im.shape) or fallback_detection(im.shape))
        else:
            counts.append(known[key][0])
            chosen.append(known[key][1])
    return embedder.embed_faces(images, chosen), counts, chosen, detect_seconds


def known_detections(caches: Sequence[EmbedCache]) -> dict[str, tuple[int, Detection]]:
    """Every image's face count and chosen detection in `caches` (detection does not depend on the model)."""
    out: dict[str, tuple[int, Detection]] = {}
    for cache in caches:
        for key, row in cache.index.items():
            box = tuple(float(v) for v in cache.boxes[row])
            marks = np.asarray(cache.landmarks[row], np.float64)
            out.setdefault(key, (cache.faces[row], Detection((box[0], box[1], box[2], box[3]), 1.0, marks)))
    return out


def embed_images(
    paths: Sequence[Path],
    root: Path,
    embedder: Embedder,
    detector: ManyDetector,
    cache: EmbedCache,
    progress: Callable[[str], None] | None = None,
    known: Mapping[str, tuple[int, Detection]] | None = None,
) -> Embedded:
    """One embedding per image (cached ones reused, the rest computed in chunks and saved every ~1000).

    `known`: detections to reuse by cache key (known_detections of other models' caches).
    """
    from faceapp.core.image_io import load_image

    keys = [file_key(p, root) for p in paths]
    todo = sorted({k: p for k, p in zip(keys, paths, strict=True) if k not in cache.index}.items())
    cached_rate = cache.seconds / len(cache.index) if cache.index and cache.seconds else None
    start, detect_s, last_save, next_report = time.perf_counter(), 0.0, 0, 0.0
    for offset in range(0, len(todo), CHUNK):
        chunk = todo[offset : offset + CHUNK]
        emb, counts, chosen, took = _embed_chunk(
            [p for _, p in chunk], [k for k, _ in chunk], embedder, detector, load_image, known or {}
        )
        detect_s += took
        for (key, _), e, n, d in zip(chunk, emb, counts, chosen, strict=True):
            cache.add(key, e, n, d)
        done, elapsed = offset + len(chunk), time.perf_counter() - start
        if progress is not None and (done / len(todo) >= next_report or done == len(todo)):
            eta = elapsed / done * (len(todo) - done)
            progress(
                f"embedding: {done}/{len(todo)} images ({100 * done / len(todo):.0f}%), "
                f"{done / elapsed:.1f} images/s, about {eta:.0f} s left"
            )
            next_report = done / len(todo) + 0.05
        if done - last_save >= 1000:
            cache.save()
            last_save = done
    seconds = time.perf_counter() - start
    if todo:
        cache.seconds += seconds
        cache.save()
    rows = [cache.index[k] for k in keys]
    return Embedded(
        embeddings=np.stack([cache.embeddings[i] for i in rows]) if rows else np.zeros((0, cache.dim), np.float32),
        faces=np.array([cache.faces[i] for i in rows], dtype=np.int64),
        boxes=np.stack([cache.boxes[i] for i in rows]) if rows else np.zeros((0, 4), np.float32),
        landmarks=np.stack([cache.landmarks[i] for i in rows]) if rows else np.zeros((0, 5, 2), np.float32),
        computed=len(todo),
        seconds=seconds,
        detect_seconds=detect_s,
        embed_seconds=seconds - detect_s,
        cached_seconds_per_image=cached_rate,
    )


def embed_dataset(
    dataset: str,
    paths: Sequence[Path],
    root: Path,
    embedder: Embedder,
    detector: ManyDetector,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Embedded:
    """embed_images with the cache of (dataset, model), reusing detections from other models' caches.

    A fused model (one with `parts`) is the fusion of its parts' cached embeddings, so each part is embedded once.
    """
    from faceapp.core import catalog
    from faceapp.core.embedders.fused import FusedEmbedder, fuse

    if isinstance(embedder, FusedEmbedder):
        each = [embed_dataset(dataset, paths, root, part, detector, use_cache, progress) for part in embedder.parts]
        first = each[0]
        return Embedded(
            embeddings=fuse([e.embeddings for e in each], embedder.weights),
            faces=first.faces,
            boxes=first.boxes,
            landmarks=first.landmarks,
            computed=max(e.computed for e in each),
            seconds=sum(e.seconds for e in each),
            detect_seconds=sum(e.detect_seconds for e in each),
            embed_seconds=sum(e.embed_seconds for e in each),
            cached_seconds_per_image=None,
        )
    cache = EmbedCache.open(cache_path(dataset, embedder.name) if use_cache else None, embedder.name, embedder.info.dim)
    others = [
        EmbedCache.open(cache_path(dataset, name), name, catalog.spec(name).dim)
        for name in catalog.names()
        if use_cache and name != embedder.name and cache_path(dataset, name).exists()
    ]
    return embed_images(paths, root, embedder, detector, cache, progress, known_detections(others))

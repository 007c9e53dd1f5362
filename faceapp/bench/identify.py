"""`faceapp bench identify`: one-shot open-set identification on all of LFW.

Gallery: the first K images of every person with more than K images. Known probes: those people's other images.
Unknown probes: every image of the people with K images or fewer (for K = 1, the 4,069 people with one image).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench import metrics
from faceapp.bench.embed_cache import (
    FALLBACK_NOTE,
    PIPELINE_VERSION,
    EmbedCache,
    ManyDetector,
    batch_detector,
    cache_path,
    embed_images,
)
from faceapp.bench.lfw import FARS, lfw_root, speed_figures
from faceapp.core.distance import distances
from faceapp.core.embedders.base import Embedder
from faceapp.errors import BadInputError


@dataclass(frozen=True)
class Split:
    """Which image plays which part: gallery (with person ids), known probes (with ids) and unknown probes."""

    gallery: list[Path]
    gallery_ids: np.ndarray
    known: list[Path]
    known_ids: np.ndarray
    unknown: list[Path]
    unknown_people: int


def list_people(root: Path) -> dict[str, list[Path]]:
    """Each person's images, in index order: every folder of `root` holding <name>_NNNN.jpg files."""
    people = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(folder.glob(f"{folder.name}_[0-9][0-9][0-9][0-9].jpg"))
        if images:
            people[folder.name] = images
    if not people:
        raise BadInputError(f"{root}: no person folders with <name>_NNNN.jpg images.")
    return people


def split_people(people: dict[str, list[Path]], samples: int) -> Split:
    """The open-set split for K = `samples` (see the module docstring)."""
    if samples < 1:
        raise BadInputError("--samples must be at least 1.")
    gallery, gallery_ids, known, known_ids, unknown = [], [], [], [], []
    unknown_people = 0
    for pid, images in enumerate(people.values()):
        if len(images) > samples:
            gallery += images[:samples]
            gallery_ids += [pid] * samples
            known += images[samples:]
            known_ids += [pid] * (len(images) - samples)
        else:
            unknown += images
            unknown_people += 1
    if not gallery or not unknown:
        raise BadInputError(f"K={samples} leaves an empty gallery or no unknown probes.")
    return Split(gallery, np.array(gallery_ids), known, np.array(known_ids), unknown, unknown_people)


def match_time_ms(gallery: np.ndarray, gallery_ids: np.ndarray, probes: np.ndarray, model: str) -> float:
    """Milliseconds to match one probe against the whole gallery with the app's GallerySnapshot.identify."""
    from faceapp.core.matching import GallerySnapshot

    snapshot = GallerySnapshot(model, gallery_ids, {int(i): str(i) for i in np.unique(gallery_ids)}, gallery)
    sample = probes[: min(200, len(probes))]
    snapshot.identify(sample[:1], 1.0)  # warm-up
    start = time.perf_counter()
    for probe in sample:
        snapshot.identify(probe[None], 1.0)
    return 1000 * (time.perf_counter() - start) / len(sample)


@dataclass(frozen=True)
class Nearest:
    """Each probe's nearest gallery sample: distances, and for known probes whether its person is right."""

    known_d: np.ndarray
    correct: np.ndarray
    unknown_d: np.ndarray

    @classmethod
    def compute(
        cls, gallery: np.ndarray, gallery_ids: np.ndarray, known: np.ndarray, known_ids: np.ndarray, unknown: np.ndarray
    ) -> Nearest:
        """Nearest samples by faceapp's distance (core/distance.py), one matrix product per probe set."""
        col, known_d = metrics.nearest(distances(known, gallery))
        _, unknown_d = metrics.nearest(distances(unknown, gallery))
        return cls(known_d, gallery_ids[col] == known_ids, unknown_d)


def identification_figures(near: Nearest, tau: float) -> dict[str, Any]:
    """Rank-1, DIR at each FAR, and DIR / FAR at threshold `tau`."""
    rows = []
    for far in FARS:
        rate, threshold = metrics.dir_at_far(near.known_d, near.correct, near.unknown_d, far)
        rows.append({"far": far, "dir": rate, "threshold": threshold})
    return {
        "rank1": float(near.correct.mean()),
        "dir_at_far": rows,
        "at_default": {
            "threshold": tau,
            "dir": float(np.mean(near.correct & (near.known_d <= tau))),
            "far": float(np.mean(near.unknown_d <= tau)),
        },
    }


def dir_curve(near: Nearest) -> dict[str, list[float]]:
    """DIR against FAR at up to 200 thresholds, for the plot and the JSON."""
    thresholds = np.unique(np.quantile(near.unknown_d, np.geomspace(1e-4, 1.0, 200)))
    far = np.searchsorted(np.sort(near.unknown_d), thresholds, side="right") / near.unknown_d.size
    rate = [float(np.mean(near.correct & (near.known_d <= t))) for t in thresholds]
    return {"far": far.tolist(), "dir": rate, "thresholds": thresholds.tolist()}


def run(
    data: Path,
    model: str = "dlib-resnet",
    *,
    samples: int = 1,
    embedder: Embedder | None = None,
    detector: ManyDetector | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Embed every LFW image once (cached) and compute the open-set identification figures (JSON-ready)."""
    from faceapp.core.embedders.base import create_embedder

    root = lfw_root(data)
    split = split_people(list_people(root), samples)
    embedder = embedder or create_embedder(model)
    cache = EmbedCache.open(cache_path("lfw", embedder.name) if use_cache else None, embedder.name, embedder.info.dim)
    files = split.gallery + split.known + split.unknown
    embedded = embed_images(files, root, embedder, detector or batch_detector(), cache, progress)
    e = embedded.embeddings
    ng, nk = len(split.gallery), len(split.known)
    gallery, known, unknown = e[:ng], e[ng : ng + nk], e[ng + nk :]
    result: dict[str, Any] = {
        "benchmark": "identify",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "model": embedder.name,
        "data": str(root),
        "pipeline_version": PIPELINE_VERSION,
        "samples": samples,
        "gallery_images": ng,
        "gallery_people": int(np.unique(split.gallery_ids).size),
        "known_probes": nk,
        "unknown_probes": len(split.unknown),
        "unknown_people": split.unknown_people,
        "no_face": int((embedded.faces == 0).sum()),
        "no_face_handling": FALLBACK_NOTE,
    }
    near = Nearest.compute(gallery, split.gallery_ids, known, split.known_ids, unknown)
    result.update(identification_figures(near, embedder.info.default_threshold))
    result["match_ms_per_probe"] = match_time_ms(gallery, split.gallery_ids, known, embedder.name)
    result["speed"] = speed_figures(embedded, embedder, files[0])
    result["dir_curve"] = dir_curve(near)
    return result

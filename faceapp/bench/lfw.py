"""`faceapp bench lfw`: LFW face verification by the official pairs.txt protocol (10 folds of 300 + 300 pairs)."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench import metrics
from faceapp.bench.embed_cache import (
    CHOICE_NOTE,
    FALLBACK_NOTE,
    PIPELINE_VERSION,
    Embedded,
    ManyDetector,
    batch_detector,
    embed_dataset,
)
from faceapp.core.distance import pair_distances
from faceapp.core.embedders.base import Embedder
from faceapp.core.types import Detection
from faceapp.errors import BadInputError

FARS = (0.01, 0.001)


@dataclass(frozen=True)
class Pair:
    """One line of pairs.txt: image i1 of name1 and image i2 of name2, in fold `fold`."""

    name1: str
    i1: int
    name2: str
    i2: int
    fold: int

    @property
    def same(self) -> bool:
        """Whether both images show the same person."""
        return self.name1 == self.name2


def lfw_root(data: Path) -> Path:
    """The LFW folder (the one holding pairs.txt and a folder per person): `data` itself or data/lfw."""
    data = Path(data)
    for candidate in (data, data / "lfw"):
        if (candidate / "pairs.txt").is_file():
            return candidate
    raise BadInputError(f"{data}: no LFW here (expected pairs.txt in it or in {data / 'lfw'}).")


def image_path(root: Path, name: str, index: int) -> Path:
    """Image `index` (1-based) of person `name`: <root>/<name>/<name>_<index:04d>.jpg."""
    return root / name / f"{name}_{index:04d}.jpg"


def parse_pairs(path: Path, limit: int | None = None) -> list[Pair]:
    """The pairs of an LFW pairs file: a header "folds per_fold" (or just "per_fold"), then per fold `per_fold`
    same-person lines `name i j` and `per_fold` different-person lines `name1 i name2 j`.

    With `limit`, only the first `limit` pairs of each kind in each fold are kept.
    """
    lines = [ln.split() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not lines:
        raise BadInputError(f"{path}: empty pairs file.")
    try:
        head = [int(x) for x in lines[0]]
        folds, per_fold = (1, head[0]) if len(head) == 1 else (head[0], head[1])
    except (ValueError, IndexError):
        raise BadInputError(f"{path}: the first line should be 'folds pairs_per_kind', got {lines[0]}.") from None
    body = lines[1:]
    if len(body) != folds * 2 * per_fold:
        raise BadInputError(f"{path}: expected {folds * 2 * per_fold} pair lines, found {len(body)}.")
    pairs = []
    for n, fields in enumerate(body):
        fold, position = divmod(n, 2 * per_fold)
        same = position < per_fold
        if limit is not None and position % per_fold >= limit:
            continue
        try:
            if same and len(fields) == 3:
                pairs.append(Pair(fields[0], int(fields[1]), fields[0], int(fields[2]), fold))
            elif not same and len(fields) == 4:
                pairs.append(Pair(fields[0], int(fields[1]), fields[2], int(fields[3]), fold))
            else:
                raise ValueError
        except ValueError:
            kind = "name i j" if same else "name1 i name2 j"
            raise BadInputError(f"{path}: line {n + 2} should be '{kind}', got {' '.join(fields)!r}.") from None
    return pairs


def time_embedder(embedder: Embedder, image: np.ndarray, detection: Detection, repeats: int = 10) -> dict[str, float]:
    """What one face costs the embedder: live (align + embed one face, as the app does per frame) and in batches."""
    embedder.embed(image, [detection])  # warm-up
    live = []
    for _ in range(repeats):
        start = time.perf_counter()
        embedder.embed(image, [detection])
        live.append(time.perf_counter() - start)
    start = time.perf_counter()
    embedder.embed_faces([image] * 32, [detection] * 32)
    batched = (time.perf_counter() - start) / 32
    return {"embed_ms_per_face_live": 1000 * statistics.median(live), "embed_ms_per_face_batch32": 1000 * batched}


def speed_figures(embedded: Embedded, embedder: Embedder, first: Path) -> dict[str, Any]:
    """Throughput of this run's new embeddings (or of the cached ones) and the embedder's cost per face.

    The per-face cost is timed on `first`, the first embedded image, with the detection the pipeline used for it.
    """
    import torch

    from faceapp.core.image_io import load_image

    n = embedded.computed
    speed: dict[str, Any] = {
        "images_computed": n,
        "seconds": embedded.seconds,
        "images_per_s": n / embedded.seconds if n else None,
        "detect_ms_per_image": 1000 * embedded.detect_seconds / n if n else None,
        "load_align_embed_ms_per_image": 1000 * embedded.embed_seconds / n if n else None,
        "images_per_s_when_cached": 1 / embedded.cached_seconds_per_image
        if embedded.cached_seconds_per_image
        else None,
        "mirror_averaging": getattr(embedder, "mirror", None),
        "torch_threads": torch.get_num_threads(),
    }
    x1, y1, x2, y2 = (float(v) for v in embedded.boxes[0])
    detection = Detection((x1, y1, x2, y2), 1.0, embedded.landmarks[0].astype(np.float64))
    speed.update(time_embedder(embedder, load_image(first), detection))
    return speed


def verification_figures(dist: np.ndarray, same: np.ndarray, folds: np.ndarray, default: float) -> dict[str, Any]:
    """Every verification figure of the protocol from per-pair distances, labels and folds."""
    best = metrics.best_threshold(dist, same)
    out: dict[str, Any] = {
        "threshold_best_all": best,
        "accuracy_best_all": metrics.accuracy(dist, same, best),
        "default_threshold": default,
        "accuracy_at_default": metrics.accuracy(dist, same, default),
        "tar_at_far": [_tar_row(dist, same, far) for far in FARS],
    }
    if np.unique(folds).size >= 2:
        result = metrics.kfold(dist, same, folds)
        out.update(
            accuracy_mean=result.mean,
            accuracy_std=result.std,
            fold_accuracies=result.accuracies.tolist(),
            fold_thresholds=result.thresholds.tolist(),
            threshold_mean_of_folds=float(result.thresholds.mean()),
        )
    curve = metrics.roc(dist, same)
    small = metrics.downsample(curve)
    out["auc"] = metrics.auc(curve)
    out["roc"] = {"far": small.far.tolist(), "tar": small.tar.tolist(), "thresholds": small.thresholds.tolist()}
    return out


def _tar_row(dist: np.ndarray, same: np.ndarray, far: float) -> dict[str, float]:
    tar, tau = metrics.tar_at_far(dist, same, far)
    return {"far": far, "tar": tar, "threshold": tau}


def run(
    data: Path,
    model: str = "dlib-resnet",
    *,
    embedder: Embedder | None = None,
    detector: ManyDetector | None = None,
    use_cache: bool = True,
    limit: int | None = None,
    pairs_file: str = "pairs.txt",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Embed every image of the pairs once and compute the verification figures (a JSON-ready dict)."""
    from faceapp.core.embedders.registry import create_embedder

    root = lfw_root(data)
    pairs = parse_pairs(root / pairs_file, limit)
    embedder = embedder or create_embedder(model)
    detector = detector or batch_detector()
    files = sorted({image_path(root, p.name1, p.i1) for p in pairs} | {image_path(root, p.name2, p.i2) for p in pairs})
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise BadInputError(f"{len(missing)} images of {pairs_file} are missing, e.g. {missing[0]}.")
    embedded = embed_dataset("lfw", files, root, embedder, detector, use_cache, progress)
    row = {f: i for i, f in enumerate(files)}
    a = np.array([row[image_path(root, p.name1, p.i1)] for p in pairs])
    b = np.array([row[image_path(root, p.name2, p.i2)] for p in pairs])
    dist = pair_distances(embedded.embeddings[a], embedded.embeddings[b])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    no_face = [str(f.relative_to(root)) for f, n in zip(files, embedded.faces, strict=True) if n == 0]
    result: dict[str, Any] = {
        "benchmark": "lfw",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "model": embedder.name,
        "data": str(root),
        "pairs_file": pairs_file,
        "pipeline_version": PIPELINE_VERSION,
        "pairs": len(pairs),
        "same_pairs": int(same.sum()),
        "folds": int(np.unique(folds).size),
        "images": len(files),
        "no_face": {"count": len(no_face), "images": no_face, "handling": FALLBACK_NOTE},
        "multi_face": {"count": int((embedded.faces > 1).sum()), "handling": CHOICE_NOTE},
    }
    result.update(verification_figures(dist, same, folds, embedder.info.default_threshold))
    result["speed"] = speed_figures(embedded, embedder, files[0])
    return result

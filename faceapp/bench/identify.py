"""`faceapp bench identify`: one-shot open-set identification on all of LFW.

Gallery: the first K images of every person with more than K images. Known probes: those people's other images.
Unknown probes: every image of the people with K images or fewer (for K = 1, the 4,069 people with one image).

Two decision rules are measured, both with the app's own matching code (GallerySnapshot.person_distances): distance
only (the nearest person is named when d <= tau), and the app's rule, which also asks the next person to be at least
(1 + margin) times as far (MatchRule). A sweep over margins shows where the model's default margin comes from;
`--people peopleDevTrain.txt` restricts everything to LFW's development people, for calibrating without the test data.
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
    ManyDetector,
    batch_detector,
    embed_dataset,
)
from faceapp.bench.lfw import FARS, lfw_root, speed_figures
from faceapp.core.embedders.base import Embedder
from faceapp.core.types import MatchRule
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
    """Each probe's nearest and second-nearest gallery person (by nearest sample), and whether the nearest is right."""

    known_d: np.ndarray
    known_runner_up: np.ndarray
    correct: np.ndarray
    unknown_d: np.ndarray
    unknown_runner_up: np.ndarray

    @classmethod
    def compute(
        cls,
        gallery: np.ndarray,
        gallery_ids: np.ndarray,
        known: np.ndarray,
        known_ids: np.ndarray,
        unknown: np.ndarray,
        scoring: str = "average",
    ) -> Nearest:
        """Per-person distances with the app's GallerySnapshot (under the model's `scoring`), in blocks of probes."""
        from faceapp.core.matching import GallerySnapshot, two_nearest

        snapshot = GallerySnapshot("bench", gallery_ids, {}, gallery, scoring)  # type: ignore[arg-type]

        def search(probes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            who, d1, d2 = [], [], []
            for start in range(0, probes.shape[0], 2048):
                people, d = snapshot.person_distances(probes[start : start + 2048])
                best, first, _, second = two_nearest(d)
                who.append(people[best])
                d1.append(first)
                d2.append(second)
            return np.concatenate(who), np.concatenate(d1), np.concatenate(d2)

        who, known_d, known_r = search(known)
        _, unknown_d, unknown_r = search(unknown)
        return cls(known_d, known_r, who == known_ids, unknown_d, unknown_r)

    def scores(self, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Known and unknown probes' scores under a margin: d where the next person is clear, else inf (never named).

        A probe is named at tau exactly when its score <= tau, so sweeping tau over these scores is the app's rule.
        """

        rule = MatchRule(4.0, margin)

        def score(d: np.ndarray, runner_up: np.ndarray) -> np.ndarray:
            return np.where(rule.clear_mask(d, runner_up), d, np.inf)

        return score(self.known_d, self.known_runner_up), score(self.unknown_d, self.unknown_runner_up)


MARGIN_SWEEP = tuple(round(0.05 * i, 2) for i in range(11))


def dir_rows(near: Nearest, margin: float) -> list[dict[str, float]]:
    """DIR and tau at each FAR under `margin` (tau is capped at 4, the largest distance, when any tau would do)."""
    known, unknown = near.scores(margin)
    named = near.correct & np.isfinite(known)
    rows = []
    for far in FARS:
        rate, threshold = metrics.dir_at_far(known, named, unknown, far)
        rows.append({"far": far, "dir": rate, "threshold": min(threshold, 4.0)})
    return rows


def identification_figures(near: Nearest, rule: MatchRule) -> dict[str, Any]:
    """Rank-1; DIR at each FAR by distance only and under the app's margin; the rule's own DIR / FAR; a margin sweep."""
    known, unknown = near.scores(rule.margin)
    by_margin = {m: dir_rows(near, m) for m in MARGIN_SWEEP}
    best = max(MARGIN_SWEEP, key=lambda m: (by_margin[m][0]["dir"], -m))
    sweep = [{"margin": m, "dir_at_far": rows} for m, rows in by_margin.items()]
    return {
        "rank1": float(near.correct.mean()),
        "dir_at_far": dir_rows(near, 0.0),
        "margin": rule.margin,
        "dir_at_far_margin": dir_rows(near, rule.margin),
        "at_default": {
            "threshold": rule.threshold,
            "margin": rule.margin,
            "dir": float(np.mean(near.correct & (known <= rule.threshold))),
            "far": float(np.mean(unknown <= rule.threshold)),
            "dir_distance_only": float(np.mean(near.correct & (near.known_d <= rule.threshold))),
            "far_distance_only": float(np.mean(near.unknown_d <= rule.threshold)),
        },
        "margin_sweep": sweep,
        "best_margin_at_far_1pct": best,
    }


def dir_curve(near: Nearest, margin: float = 0.0) -> dict[str, list[float]]:
    """DIR against FAR at up to 200 thresholds under `margin`, for the plot and the JSON."""
    known, unknown = near.scores(margin)
    finite = unknown[np.isfinite(unknown)]
    if finite.size == 0:
        return {"far": [], "dir": [], "thresholds": []}
    thresholds = np.unique(np.quantile(finite, np.geomspace(1e-4, 1.0, 200)))
    far = np.searchsorted(np.sort(unknown), thresholds, side="right") / unknown.size
    rate = [float(np.mean(near.correct & (known <= t))) for t in thresholds]
    return {"far": far.tolist(), "dir": rate, "thresholds": thresholds.tolist()}


def read_people(path: Path) -> set[str]:
    """The names in an LFW people file (peopleDevTrain.txt: a count line, then `name<TAB>images` lines)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the people file ({exc.strerror or exc}).") from None
    names = {line.split("\t")[0] for line in lines if "\t" in line}
    if not names:
        raise BadInputError(f"{path}: no `name<TAB>count` lines; expected an LFW people file.")
    return names


def run(
    data: Path,
    model: str = "dlib-resnet",
    *,
    samples: int = 1,
    margin: float | None = None,
    people_file: str | None = None,
    embedder: Embedder | None = None,
    detector: ManyDetector | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Embed every LFW image once (cached) and compute the open-set identification figures (JSON-ready)."""
    from faceapp.core.embedders.registry import create_embedder

    root = lfw_root(data)
    people = list_people(root)
    if people_file is not None:
        wanted = read_people(root / people_file if not Path(people_file).is_absolute() else Path(people_file))
        people = {name: images for name, images in people.items() if name in wanted}
    split = split_people(people, samples)
    embedder = embedder or create_embedder(model)
    files = split.gallery + split.known + split.unknown
    embedded = embed_dataset("lfw", files, root, embedder, detector or batch_detector(), use_cache, progress)
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
    info = embedder.info
    rule = MatchRule(info.default_threshold, info.default_margin if margin is None else margin)
    result["people_file"] = people_file
    near = Nearest.compute(gallery, split.gallery_ids, known, split.known_ids, unknown, info.scoring)
    result["scoring"] = info.scoring
    result.update(identification_figures(near, rule))
    result["match_ms_per_probe"] = match_time_ms(gallery, split.gallery_ids, known, embedder.name)
    result["speed"] = speed_figures(embedded, embedder, files[0])
    result["dir_curve"] = dir_curve(near)
    result["dir_curve_margin"] = dir_curve(near, rule.margin)
    return result

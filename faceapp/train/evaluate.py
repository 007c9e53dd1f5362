"""Verification figures of an embedding network on held-out people: accuracy, TAR at FAR, histograms, tau.

Scores are the app's distance d = ||f(a) - f(b)||^2 (or 1 - P(same) for a pair classifier, so that a lower score
still means "more alike" and the same threshold code applies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from faceapp.bench import metrics

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
MAX_PAIRS = 3000  # genuine pairs per evaluation (all of them when fewer), and as many impostor pairs


def eval_pairs(labels: np.ndarray, seed: int = 0, max_pairs: int = MAX_PAIRS) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (M, 2) and same-person flags (M,): up to max_pairs genuine pairs and as many impostor pairs."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    genuine = np.array(
        [(i, j) for i in range(len(labels)) for j in range(i + 1, len(labels)) if labels[i] == labels[j]],
        dtype=np.int64,
    ).reshape(-1, 2)
    if len(genuine) > max_pairs:
        genuine = genuine[rng.choice(len(genuine), max_pairs, replace=False)]
    n = max(len(genuine), 1)
    a, b = rng.integers(0, len(labels), size=(2, 4 * n))
    keep = labels[a] != labels[b]
    impostor = np.stack([a[keep], b[keep]], axis=1)[:n]
    pairs = np.concatenate([genuine, impostor])
    same = np.concatenate([np.ones(len(genuine), bool), np.zeros(len(impostor), bool)])
    return pairs, same


def distance_scores(embeddings: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """d for each index pair."""
    diff = embeddings[pairs[:, 0]] - embeddings[pairs[:, 1]]
    return np.einsum("ij,ij->i", diff, diff)


def classifier_scores(head: torch.nn.Module) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """1 - P(same) from a pair classifier, for each index pair."""

    def score(embeddings: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        e = torch.from_numpy(embeddings)
        with torch.no_grad():
            p = head.probability(e[pairs[:, 0]], e[pairs[:, 1]])  # type: ignore[operator]
        return 1.0 - p.numpy().astype(np.float64)

    return score


def figures(scores: np.ndarray, same: np.ndarray, bins: int = 40, top: float = 4.0) -> dict[str, Any]:
    """Accuracy at the best threshold (that threshold is the calibrated tau), TAR at FAR 1% and 0.1%, the ROC, and
    histograms over [0, top] narrowed to where the scores are (0.1% of the largest may fall in the last bin)."""
    top = float(min(top, max(1e-3, 1.1 * np.quantile(scores, 0.999))))
    tau = metrics.best_threshold(scores, same)
    tar1, tau1 = metrics.tar_at_far(scores, same, 0.01)
    tar01, tau01 = metrics.tar_at_far(scores, same, 0.001)
    edges = np.linspace(0.0, top, bins + 1)
    curve = metrics.downsample(metrics.roc(scores, same), 100)
    return {
        "pairs": len(same),
        "accuracy": metrics.accuracy(scores, same, tau),
        "tau": tau,
        "tar_at_far_1pct": tar1,
        "tau_far_1pct": tau1,
        "tar_at_far_0.1pct": tar01,
        "tau_far_0.1pct": tau01,
        "roc": {"far": curve.far.tolist(), "tar": curve.tar.tolist()},
        "histogram": {
            "edges": edges.tolist(),
            "genuine": np.histogram(np.clip(scores[same], 0, top), edges)[0].tolist(),
            "impostor": np.histogram(np.clip(scores[~same], 0, top), edges)[0].tolist(),
        },
    }


MIN_STRANGER_PROBES = 100  # fewer than this cannot place FAR = 1% (one stranger would be 1% or more)
MIN_MARGIN_GAIN = 0.01  # DIR points the best margin must gain over the base model's margin to replace it


def open_set_split(labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(enrolled people, strangers): a seeded half of the people each."""
    order = np.random.default_rng(seed).permutation(np.unique(labels))
    return order[: len(order) // 2], order[len(order) // 2 :]


def calibrate_margin(
    embeddings: np.ndarray, labels: np.ndarray, seed: int = 0, scoring: str = "nearest", base: float | None = None
) -> dict[str, Any] | None:
    """The 1:K ambiguity margin for a model, chosen as the app's defaults were: the one of `MARGIN_SWEEP` that
    maximises DIR at FAR 1% of one-shot open-set identification, here on the held-out (validation) people.

    Half the people (a seeded shuffle) are enrolled with their first image and probed with the others; the other half
    are strangers, every image a probe. The `base` model's margin stays unless the best one gains MIN_MARGIN_GAIN
    of DIR over it (a few hundred probes cannot tell smaller differences apart). None when the people are too few
    for FAR 1% (see MIN_STRANGER_PROBES).
    """
    from faceapp.bench.identify import MARGIN_SWEEP, Nearest, dir_rows

    known_people, strangers = open_set_split(labels, seed)
    stranger_rows = np.flatnonzero(np.isin(labels, strangers))
    if stranger_rows.size < MIN_STRANGER_PROBES or known_people.size < 2:
        return None
    gallery_rows: list[int] = []
    probe_rows: list[int] = []
    for person in known_people:
        rows = np.flatnonzero(labels == person)
        gallery_rows.append(rows[0])
        probe_rows.extend(rows[1:])
    gallery, probes = np.asarray(gallery_rows), np.asarray(probe_rows)
    near = Nearest.compute(
        embeddings[gallery], labels[gallery], embeddings[probes], labels[probes], embeddings[stranger_rows], scoring
    )
    sweep = {m: dir_rows(near, m)[0]["dir"] for m in MARGIN_SWEEP}  # FARS[0] is 1%
    best = max(MARGIN_SWEEP, key=lambda m: (sweep[m], -m))
    if base is not None:
        sweep.setdefault(base, dir_rows(near, base)[0]["dir"])
        if sweep[best] - sweep[base] < MIN_MARGIN_GAIN:
            best = base
    return {
        "margin": best,
        "best_in_sweep": max(MARGIN_SWEEP, key=lambda m: (sweep[m], -m)),
        "known_people": int(known_people.size),
        "known_probes": int(probes.size),
        "stranger_probes": int(stranger_rows.size),
        "dir_at_far_1pct": {f"{m:.2f}": float(d) for m, d in sorted(sweep.items())},
    }

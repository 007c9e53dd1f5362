"""Grouping unknown faces by person: average-link agglomerative clustering of track-mean embeddings.

Two groups join while the mean squared L2 distance over all pairs of their tracks is at most a threshold. Average
link rather than single link because one pair of lookalike tracks must not chain two people into one group: a group
should never mix two people (purity), and a person split over two groups costs the user one "Merge" click.
Tracks the user merged (`links`) stay in one group, with whatever joins any of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# A group joins tracks whose average distance is at most GROUP_FACTOR * tau (the model's default tau). Tuned on
# LFW's development people (peopleDevTrain.txt, the first 244 with 2+ photos) with `faceapp bench review --people
# peopleDevTrain.txt --max-people 244 --sweep`: 0.6 keeps purity at 99.7% there (0.7: 96.8%, near the 95% target);
# docs/benchmarks.md, "Unknown-face review (issue 13)".
GROUP_FACTOR = 0.6
# A new track whose mean is within FOLD_FACTOR * tau of a kept track's is that face seen again: it is folded into
# the kept one (its crops compete for the kept slots, its mean joins the mean) instead of becoming another candidate,
# so the same frames coming back (a looping clip, a still scene) cost memory once. Only near-identical tracks: on
# LFW dev-test people larger factors fold more (0.25 x tau: 859 -> 526 candidates) and never fold two people, but the
# folded means then group more eagerly and purity fell (98.6% -> 97.2%; 0.1: 97.9%); at 0.05 nothing on LFW folds
# and the figures are unchanged. The memory budget (core.review) bounds the rest. docs/benchmarks.md, "Unknown-face
# review": `faceapp bench review` replays the folding (--fold-factor).
FOLD_FACTOR = 0.05


def track_mean(embeddings: np.ndarray) -> np.ndarray:
    """The unit-length mean of a track's unit embeddings (n, dim) -> (dim,) float32."""
    v = np.asarray(embeddings, np.float64).reshape(len(embeddings), -1).mean(axis=0)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("a track's embeddings cancel out (or hold NaN): it cannot be grouped")
    return (v / norm).astype(np.float32)


def nearest_within(means: np.ndarray, vector: np.ndarray, threshold: float) -> int | None:
    """The row of `means` (m, dim, unit) nearest to the unit `vector` when its squared L2 is <= threshold, else None."""
    if len(means) == 0 or not threshold > 0:
        return None
    d = np.maximum(2.0 - 2.0 * (np.asarray(means, np.float64) @ np.asarray(vector, np.float64)), 0.0)
    best = int(d.argmin())
    return best if d[best] <= threshold else None


def fold_mean(mean: np.ndarray, weight: int, vector: np.ndarray) -> np.ndarray:
    """The unit mean of `weight` tracks averaging to `mean` and one more track `vector` (unit float32)."""
    v = np.asarray(mean, np.float64) * weight + np.asarray(vector, np.float64)
    return (v / np.linalg.norm(v)).astype(np.float32)


def fold_tracks(vectors: np.ndarray, threshold: float) -> tuple[list[list[int]], np.ndarray]:
    """The store's folding replayed over tracks in order: each joins the nearest kept mean within `threshold`.

    Returns the kept candidates' track indices and their unit means (m, dim); threshold 0 folds nothing.
    """
    members: list[list[int]] = []
    means: list[np.ndarray] = []
    for i, v in enumerate(np.asarray(vectors, np.float32)):
        k = nearest_within(np.stack(means) if means else np.empty((0, v.size)), v, threshold)
        if k is None:
            members.append([i])
            means.append(v)
        else:
            means[k] = fold_mean(means[k], len(members[k]), v)
            members[k].append(i)
    return members, np.stack(means) if means else np.empty((0, np.asarray(vectors).shape[-1]), np.float32)


def average_link(
    vectors: np.ndarray,
    threshold: float,
    links: Sequence[object | None] | None = None,
    weights: Sequence[int] | None = None,
) -> list[list[int]]:
    """Indices of `vectors` (n, dim, unit length) grouped by average link at `threshold` (squared L2), largest first.

    `links[i]`, when not None, is a key: the groups holding rows with the same key are one group (the user merged
    them), so a new track that joins either part joins the whole. `weights[i]` is how many tracks row i stands for
    (tracks folded into one candidate): the average is over tracks, as if they had stayed apart.
    """
    n = len(vectors)
    if n == 0:
        return []
    if links is not None and len(links) != n:
        raise ValueError(f"{len(links)} link keys for {n} tracks")
    if weights is not None and len(weights) != n:
        raise ValueError(f"{len(weights)} weights for {n} tracks")
    x = np.asarray(vectors, np.float64).reshape(n, -1)
    dist = np.maximum(2.0 - 2.0 * (x @ x.T), 0.0)  # squared L2 between unit vectors
    np.fill_diagonal(dist, np.inf)
    count = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    groups = _agglomerate(dist, count, [[i] for i in range(n)], threshold)
    return groups if links is None else _join_linked(groups, links)


def _join_linked(groups: list[list[int]], links: Sequence[object | None]) -> list[list[int]]:
    """Groups that hold rows with a common link key, joined (union-find over the groups)."""
    parent = list(range(len(groups)))

    def root(g: int) -> int:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    first: dict[object, int] = {}
    for g, rows in enumerate(groups):
        for i in rows:
            key = links[i]
            if key is None:
                continue
            if key in first:
                parent[root(g)] = root(first[key])
            else:
                first[key] = g
    joined: dict[int, list[int]] = {}
    for g, rows in enumerate(groups):
        joined.setdefault(root(g), []).extend(rows)
    return sorted((sorted(rows) for rows in joined.values()), key=lambda g: (-len(g), g[0]))


def _agglomerate(dist: np.ndarray, count: np.ndarray, members: list[list[int]], threshold: float) -> list[list[int]]:
    """Join the closest two groups while their average distance is <= threshold (Lance-Williams update).

    Each row keeps its nearest group, so a step costs O(m) plus the rows whose nearest was one of the two joined.
    """
    alive = np.ones(len(members), bool)
    nearest = dist.argmin(axis=1)
    best = dist[np.arange(len(members)), nearest]
    while alive.sum() > 1:
        i = int(best.argmin())
        if not best[i] <= threshold:
            break
        j = int(nearest[i])
        merged = (count[i] * dist[i] + count[j] * dist[j]) / (count[i] + count[j])
        merged[i] = merged[j] = np.inf
        dist[i, :] = dist[:, i] = merged
        dist[j, :] = dist[:, j] = np.inf
        count[i] += count[j]
        members[i] = members[i] + members[j]
        alive[j], best[j] = False, np.inf
        stale = np.flatnonzero(alive & ((nearest == i) | (nearest == j)))
        for k in stale:
            nearest[k] = int(dist[k].argmin())
            best[k] = dist[k, nearest[k]]
        closer = alive & (merged < best)
        nearest[closer], best[closer] = i, merged[closer]
    groups = [sorted(members[g]) for g in np.flatnonzero(alive)]
    return sorted(groups, key=lambda g: (-len(g), g[0]))

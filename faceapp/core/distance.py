"""The one distance faceapp shows everywhere: squared euclidean between unit-length embeddings.

d(a, b) = ||a - b||^2 = 2 - 2 cos(a, b), in [0, 4]; d <= tau means "same person".
"""

from __future__ import annotations

import numpy as np


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); a zero row stays zero."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def distances(probes: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Squared euclidean distances (P, G) between unit-length probe rows and gallery rows, in one product."""
    p = np.atleast_2d(np.asarray(probes, dtype=np.float32))
    g = np.atleast_2d(np.asarray(gallery, dtype=np.float32))
    if g.shape[0] == 0:
        return np.zeros((p.shape[0], 0), dtype=np.float32)
    d = 2.0 - 2.0 * (p @ g.T)
    return np.clip(d, 0.0, 4.0)


def pair_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """d(a[i], b[i]) for each row i of two equally long stacks of unit-length embeddings."""
    return np.clip(np.sum((np.asarray(a, np.float32) - np.asarray(b, np.float32)) ** 2, axis=-1), 0.0, 4.0)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """d(a, b) for two unit-length embeddings."""
    return float(distances(a, b)[0, 0])

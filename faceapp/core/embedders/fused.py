"""A fused model: several embedders on every face, their unit vectors concatenated with fixed weights.

With parts u_i of unit length and weights w_i summing to 1, the fused vector [sqrt(w_1) u_1, sqrt(w_2) u_2, ...] has
unit length and d = ||a - b||^2 = sum_i w_i d_i: the app's one distance stays in [0, 4] and is the weighted mean of
the parts' distances. Averaging z-normalised distances is the same rule up to an affine change of d (weights
proportional to 1 / std_i), so the weights cover both fusions the issue names; they are chosen on LFW's
development split (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faceapp.core.catalog import ModelSpec
from faceapp.core.embedders.base import Embedder
from faceapp.core.types import Detection


def fuse(parts: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The fused unit vectors (N, sum of dims) from each part's unit vectors (N, dim_i) and weights summing to 1."""
    total = float(sum(weights))
    return np.concatenate(
        [np.asarray(p, np.float32) * np.float32(np.sqrt(w / total)) for p, w in zip(parts, weights, strict=True)],
        axis=1,
    )


class FusedEmbedder(Embedder):
    """Embeds each face with every part, each from its own chip; `chip_size` and `align` are the first part's."""

    def __init__(self, info: ModelSpec, parts: Sequence[Embedder], weights: Sequence[float] | None = None) -> None:
        """Fuse `parts` as the model `info`, with its part_weights unless `weights` is given."""
        self.info = info
        self.parts = tuple(parts)
        self.weights = tuple(weights if weights is not None else info.part_weights)
        if len(self.weights) != len(self.parts) or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"{info.name}: need one non-negative weight per part, got {self.weights}")
        self.chip_size = self.parts[0].chip_size

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """The first part's chip (what the app shows); embedding needs the image, as every part aligns anew."""
        return self.parts[0].align(image, detection)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Not possible: each part needs its own chip. Use embed() or embed_faces()."""
        raise TypeError(f"{self.name} embeds from the image (each part aligns its own chip), not from one chip")

    def embed_faces(self, images: Sequence[np.ndarray], detections: Sequence[Detection]) -> np.ndarray:
        """Each part's embeddings of one detection per image, fused."""
        return fuse([part.embed_faces(images, detections) for part in self.parts], self.weights)

    def embed(self, image: np.ndarray, detections: list[Detection]) -> tuple[np.ndarray, np.ndarray]:
        """The first part's chips and the fused embeddings of every detection in `image`."""
        chips, first = self.parts[0].embed(image, detections)
        rest = [part.embed(image, detections)[1] for part in self.parts[1:]]
        return chips, fuse([first, *rest], self.weights)

"""The embedder interface: each model owns its alignment, chip size and output size (its spec: core/catalog.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from faceapp.core.catalog import ModelSpec
from faceapp.core.types import Detection


class Embedder(ABC):
    """Maps aligned face chips to unit-length embedding vectors. Thread affinity: any one thread at a time."""

    info: ModelSpec
    chip_size: int

    @property
    def name(self) -> str:
        """The catalog name of this model."""
        return self.info.name

    @abstractmethod
    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """The chip (chip_size, chip_size, 3) RGB uint8 this model expects for `detection` in RGB `image`."""

    @abstractmethod
    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Embeddings (N, dim) float32 of unit length for chips (N, chip_size, chip_size, 3) RGB uint8."""

    def embed_faces(self, images: Sequence[np.ndarray], detections: Sequence[Detection]) -> np.ndarray:
        """Embeddings (N, dim) of one detection in each image, in one batch (the benchmark's form)."""
        if not images:
            return np.zeros((0, self.info.dim), np.float32)
        return self.embed_chips(np.stack([self.align(im, d) for im, d in zip(images, detections, strict=True)]))

    def embed(self, image: np.ndarray, detections: list[Detection]) -> tuple[np.ndarray, np.ndarray]:
        """Chips and embeddings for every detection in `image`, in one batch."""
        if not detections:
            empty = np.zeros((0, self.chip_size, self.chip_size, 3), np.uint8)
            return empty, np.zeros((0, self.info.dim), np.float32)
        chips = np.stack([self.align(image, d) for d in detections])
        return chips, self.embed_chips(chips)

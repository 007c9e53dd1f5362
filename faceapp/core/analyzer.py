"""Detection and embedding together: an image in, a list of faces with embeddings out."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from faceapp.core.detect import Detector
from faceapp.core.embedders.base import Embedder
from faceapp.core.types import Detection, Face


def own_threads(count: int = 1) -> None:
    """Run torch on `count` threads in the calling thread (a no-op until torch is imported: nothing runs it yet)."""
    torch: Any = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(count)


class FaceAnalyzer:
    """Finds every face in an RGB image and embeds it. Thread affinity: one worker thread at a time."""

    def __init__(self, detector: Detector, embedder: Embedder) -> None:
        self.detector = detector
        self.embedder = embedder

    def analyze(self, image: np.ndarray, keep_chips: bool = False) -> list[Face]:
        """Faces in `image` (RGB uint8), largest first."""
        return self.embed(image, self.detector.detect(image), keep_chips)

    def embed(self, image: np.ndarray, detections: list[Detection], keep_chips: bool = False) -> list[Face]:
        """Faces for detections already found in `image`."""
        chips, vectors = self.embedder.embed(image, detections)
        return [Face(det, vectors[i], chips[i] if keep_chips else None) for i, det in enumerate(detections)]

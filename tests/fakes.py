"""Small fakes shared by the tests: an embedder that needs no weights."""

from __future__ import annotations

import time

import numpy as np

from faceapp.core.align import box_crop
from faceapp.core.distance import normalize
from faceapp.core.embedders.base import Embedder, ModelInfo
from faceapp.core.types import Detection

FAKE_INFO = ModelInfo("fake", "Fake", 16, 0.5, "deterministic test embedder")


class FakeEmbedder(Embedder):
    """Embeds a chip as its normalised 4x4 grey thumbnail: same pixels, same vector. Optionally slow."""

    chip_size = 32

    def __init__(self, delay: float = 0.0, info: ModelInfo = FAKE_INFO) -> None:
        self.info = info
        self.delay = delay
        self.calls = 0

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """A plain box crop."""
        return box_crop(image, detection, self.chip_size, 0)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """4x4 block means of the grey chip, centred and normalised."""
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        grey = np.asarray(chips, np.float32).mean(axis=3)
        blocks = grey.reshape(len(chips), 4, 8, 4, 8).mean(axis=(2, 4)).reshape(len(chips), 16)
        return normalize(blocks - blocks.mean(axis=1, keepdims=True) + 1e-3)


class FakeDetector:
    """Returns fixed detections for any image."""

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The fixed detections that fit inside the image."""
        h, w = image.shape[:2]
        return [d for d in self.detections if d.box[2] <= w and d.box[3] <= h]


def detection(x1: float, y1: float, x2: float, y2: float, score: float = 0.99) -> Detection:
    """A detection with plausible landmarks inside its box."""
    w, h = x2 - x1, y2 - y1
    rel = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])
    return Detection((x1, y1, x2, y2), score, rel * [w, h] + [x1, y1])

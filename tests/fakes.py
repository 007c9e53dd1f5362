"""Small fakes shared by the tests: the one fake embedder (no weights), a fixed detector, synthetic video."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np

from faceapp.core import align
from faceapp.core.catalog import BUILTIN, ModelSpec
from faceapp.core.detect import DetectorConfig
from faceapp.core.distance import normalize
from faceapp.core.embedders.base import Embedder
from faceapp.core.types import Detection

FAKE_INFO = ModelSpec("fake", "Fake", 16, 0.5, "deterministic test embedder")


class FakeEmbedder(Embedder):
    """Same pixels, same vector; optionally slow. Records the thread of every call (napari's thread-checking fakes).

    Two geometries: a 32-pixel box crop embedded as its 4x4 grey blocks (16-d; the default), or, with `dlib_chip`,
    dlib's 150-pixel chip embedded as 8x16 grey levels (128-d), a stand-in for the dlib model on real faces.
    """

    def __init__(self, delay: float = 0.0, info: ModelSpec = FAKE_INFO, dlib_chip: bool = False) -> None:
        self.info = info
        self.delay = delay
        self.dlib_chip = dlib_chip
        self.chip_size = 150 if dlib_chip else 32
        self.calls = 0
        self.threads: list[threading.Thread] = []

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """dlib's chip, or a plain box crop."""
        if self.dlib_chip:
            return align.dlib_chip(image, detection)
        return align.box_crop(image, detection, self.chip_size, 0)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Grey levels of each chip, centred and normalised."""
        self.calls += 1
        self.threads.append(threading.current_thread())
        if self.delay:
            time.sleep(self.delay)
        if self.dlib_chip:
            small = [cv2.resize(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY), (8, 16)).reshape(-1) for c in chips]
            return normalize(np.asarray(small, np.float32) - 100.0)
        grey = np.asarray(chips, np.float32).mean(axis=3)
        blocks = grey.reshape(len(chips), 4, 8, 4, 8).mean(axis=(2, 4)).reshape(len(chips), 16)
        return normalize(blocks - blocks.mean(axis=1, keepdims=True) + 1e-3)


def dlib_like(delay: float = 0.0) -> FakeEmbedder:
    """The fake under the dlib model's name and chip geometry (the app's default model, no weights needed)."""
    return FakeEmbedder(delay, BUILTIN["dlib-resnet"], dlib_chip=True)


class FakeDetector:
    """Returns fixed detections for any image (after `delay` seconds: a slow detector)."""

    def __init__(self, detections: list[Detection], delay: float = 0.0) -> None:
        self.detections = detections
        self.delay = delay
        self.config = DetectorConfig()  # the window sets min_face_size on it; the fake ignores it

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The fixed detections that fit inside the image."""
        if self.delay:
            time.sleep(self.delay)
        h, w = image.shape[:2]
        return [d for d in self.detections if d.box[2] <= w and d.box[3] <= h]


def detection(x1: float, y1: float, x2: float, y2: float, score: float = 0.99) -> Detection:
    """A detection with plausible landmarks inside its box."""
    w, h = x2 - x1, y2 - y1
    rel = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])
    return Detection((x1, y1, x2, y2), score, rel * [w, h] + [x1, y1])


SYNTHETIC_FACE = (40.0, 30.0, 120.0, 110.0)  # where synthetic_video draws its "face"


def synthetic_video(path: Path, frames: int = 50, fps: float = 25.0) -> Path:
    """An MJPEG file of a 160x120 grey scene with a textured square at SYNTHETIC_FACE: a camera for UI tests that
    need no real faces (pair it with FakeDetector([detection(*SYNTHETIC_FACE)]))."""
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 255, (8, 8), dtype=np.uint8).repeat(10, 0).repeat(10, 1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (160, 120))
    x1, y1, x2, y2 = (int(v) for v in SYNTHETIC_FACE)
    for i in range(frames):
        image = np.full((120, 160, 3), 90 + i % 5, np.uint8)
        image[y1:y2, x1:x2] = texture[: y2 - y1, : x2 - x1, None]
        writer.write(image)
    writer.release()
    return path

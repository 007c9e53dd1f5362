"""The `dlib-resnet` embedder: dlib's face ResNet in torch, on weights from the face_recognition_models package."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from faceapp.core import align, catalog, weights
from faceapp.core.catalog import ModelSpec
from faceapp.core.distance import normalize
from faceapp.core.embedders.base import Embedder
from faceapp.core.embedders.dlib_format import read_network
from faceapp.core.embedders.dlib_net import DlibResNet
from faceapp.core.types import Detection

BATCH_SIZE = 32


class DlibResnetEmbedder(Embedder):
    """dlib's 128-d face descriptor, optionally averaged with the mirrored chip's. Thread affinity: any thread."""

    chip_size = 150

    def __init__(self, weights_path: Path | None = None, mirror: bool = True, info: ModelSpec | None = None) -> None:
        """Load the network from `weights_path` (None: the verified installed file); ModelError when unusable."""
        self.info = info or catalog.BUILTIN["dlib-resnet"]
        path = weights.resolve(self.info.name) if weights_path is None else Path(weights_path)
        self.weights_path = path
        self.mirror = mirror
        self._model = DlibResNet(read_network(path)).to(dtype=torch.float32, device="cpu").eval()
        # One forward pass at a time: a worker thread and a benchmark may share the embedder.
        self._lock = threading.Lock()

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """dlib's 150x150 chip geometry (padding 0.25), fitted from the detection's five MTCNN landmarks."""
        return align.dlib_chip(image, detection)

    def descriptors(self, chips: np.ndarray) -> np.ndarray:
        """Raw dlib descriptors (N, 128) float32 of chips (N, 150, 150, 3) RGB uint8: no mirror, not normalised."""
        chips = self._check(chips)
        out = np.empty((chips.shape[0], self.info.dim), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for start in range(0, chips.shape[0], BATCH_SIZE):
                batch = torch.from_numpy(np.ascontiguousarray(chips[start : start + BATCH_SIZE]))
                pixels = batch.permute(0, 3, 1, 2).to(torch.float32)
                out[start : start + BATCH_SIZE] = self._model(pixels).numpy()
        return out

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Unit-length embeddings (N, 128): the mean of the chip's and its mirror's descriptors when `mirror`."""
        chips = self._check(chips)
        if not self.mirror:
            return normalize(self.descriptors(chips))
        both = self.descriptors(np.concatenate([chips, chips[:, :, ::-1]]))
        n = chips.shape[0]
        # (a + b) / 2 is symmetric in a and b, so a flipped chip embeds exactly like the chip.
        return normalize((both[:n] + both[n:]) / 2)

    def _check(self, chips: np.ndarray) -> np.ndarray:
        """`chips` as a uint8 array (N, 150, 150, 3), or ValueError naming the shape or type received."""
        chips = np.asarray(chips)
        size = self.chip_size
        if chips.ndim != 4 or chips.shape[1:] != (size, size, 3) or chips.dtype != np.uint8:
            raise ValueError(f"expected uint8 chips (N, {size}, {size}, 3), got {chips.dtype} {chips.shape}")
        return chips

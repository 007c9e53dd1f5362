"""Models trained with `faceapp train`: the network from NAME.safetensors (no pickle), checked by the SHA-256 its
card records, run on dlib chips with mirror averaging, as training evaluated it (train/trainer.embed)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn

from faceapp.core import align, weights
from faceapp.core.catalog import ModelSpec
from faceapp.core.distance import normalize
from faceapp.core.embedders.base import Embedder
from faceapp.core.types import Detection
from faceapp.errors import ModelError

BATCH_SIZE = 32


def build(info: ModelSpec) -> nn.Module:
    """The untrained network of the trained model `info` (its base's verified weights for a dlib-based one)."""
    from faceapp.core.embedders.trained_net import TRAIN_MODES, DlibTrainable, SmallCNN

    card = info.trained or {}
    if info.family == "trained-scratch":
        return SmallCNN()
    mode = card.get("trained")
    if info.family != "trained-dlib" or mode not in TRAIN_MODES:
        raise ModelError(f"{info.name}: its card names no network faceapp can build ({info.family}, {mode}).")
    from faceapp.core.embedders.dlib_format import read_network
    from faceapp.core.embedders.dlib_net import DlibResNet

    base = DlibResNet(read_network(weights.resolve(str(card["base"])))).to(torch.float32)
    return DlibTrainable(base, str(mode))


def load(info: ModelSpec, path: Path) -> nn.Module:
    """The trained network of `info` with the tensors of `path` (its digest checked, strict key matching)."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    assert info.weights is not None
    data = weights.read_verified(info.weights, path)
    try:
        tensors = load_tensors(data)
    except (SafetensorError, ValueError) as exc:
        raise ModelError(f"{path} is not a safetensors file ({exc}).") from None
    state = {k[len("net.") :]: v for k, v in tensors.items() if k.startswith("net.")}
    net = build(info)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path} does not hold the network of {info.name}: {str(exc).splitlines()[0][:160]}") from None
    return net.eval()


class TrainedEmbedder(Embedder):
    """A `faceapp train` model on dlib's 150x150 chips; the mean of the chip's and its mirror's embeddings."""

    chip_size = 150

    def __init__(self, info: ModelSpec, weights_path: Path | None = None) -> None:
        """Load the trained model `info`; ModelError when its file is missing, altered or not its network."""
        self.info = info
        path = weights_path if weights_path is not None else weights.resolve(info.name)
        self._net = load(info, path)
        self._lock = threading.Lock()

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """dlib's 150x150 chip, as the training data was aligned."""
        return align.dlib_chip(image, detection)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Unit-length embeddings (N, dim) of chips (N, 150, 150, 3) RGB uint8."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (150, 150, 3) or chips.dtype != np.uint8:
            raise ValueError(f"expected uint8 chips (N, 150, 150, 3), got {chips.dtype} {chips.shape}")
        both = np.concatenate([chips, chips[:, :, ::-1]])
        out = np.empty((both.shape[0], self.info.dim), np.float32)
        with self._lock, torch.inference_mode():
            for start in range(0, both.shape[0], BATCH_SIZE):
                pixels = torch.from_numpy(np.ascontiguousarray(both[start : start + BATCH_SIZE])).permute(0, 3, 1, 2)
                out[start : start + BATCH_SIZE] = self._net(pixels.to(torch.float32)).numpy()
        n = chips.shape[0]
        return normalize((out[:n] + out[n:]) / 2)

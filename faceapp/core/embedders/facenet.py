"""FaceNet embedders: facenet-pytorch's InceptionResnetV1 with VGGFace2 or CASIA-WebFace weights."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.core import align, weights
from faceapp.core.catalog import ModelSpec
from faceapp.core.distance import normalize
from faceapp.core.embedders.base import Embedder
from faceapp.core.types import Detection
from faceapp.errors import ModelError

CHIP_SIZE = 160
MARGIN = 14  # pixels at 160x160, as in facenet-pytorch's examples


def build_network(classes: int) -> Any:
    """An untrained InceptionResnetV1 with the classifier head (`classes` rows) the released state dict carries."""
    import torch
    from facenet_pytorch import InceptionResnetV1

    net = InceptionResnetV1(pretrained=None, classify=False)
    net.logits = torch.nn.Linear(512, classes)
    return net


def load_state_dict(info: ModelSpec, path: Path) -> Any:
    """The network of `info` with weights from `path`, loaded with weights_only=True and strict key matching."""
    import torch

    model = info.name

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a foreign or truncated file
        raise ModelError(f"{path} is not a {model} weights file ({type(exc).__name__}).") from None
    net = build_network(info.classes)
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).splitlines()[0][:160]
        raise ModelError(f"{path} does not hold {model} weights: {first}") from None
    return net.eval()


class FacenetEmbedder(Embedder):
    """InceptionResnetV1 on 160x160 MTCNN box crops; outputs 512-d unit vectors."""

    chip_size = CHIP_SIZE

    def __init__(self, info: ModelSpec, weights_path: Path | None = None, mirror: bool = True) -> None:
        """Load the FaceNet model of `info` (verified weights unless `weights_path` is given)."""
        if info.family != "facenet" or info.classes <= 0:
            raise ModelError(f"{info.name} is not a FaceNet model.")
        self.info = info
        self.mirror = mirror
        path = weights_path if weights_path is not None else weights.resolve(info.name)
        self._net = load_state_dict(info, path)
        self._lock = threading.Lock()

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """The 160x160 crop of the detection box with facenet-pytorch's margin rule."""
        return align.box_crop(image, detection, CHIP_SIZE, MARGIN)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Unit-length 512-d embeddings; with mirror, the mean of the chip's and its mirror image's."""
        import torch

        batch = np.asarray(chips, dtype=np.float32)
        if self.mirror:
            batch = np.concatenate([batch, batch[:, :, ::-1]])
        tensor = torch.from_numpy((batch - 127.5) / 128.0).permute(0, 3, 1, 2).contiguous()
        with self._lock, torch.inference_mode():
            out = self._net(tensor).numpy()
        if self.mirror:
            n = chips.shape[0]
            out = out[:n] + out[n:]
        return normalize(out)

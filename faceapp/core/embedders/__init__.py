"""Face embedders behind one interface, and the registry of model names."""

from faceapp.core.embedders.base import MODELS, Embedder, ModelInfo, create_embedder, model_info

__all__ = ["MODELS", "Embedder", "ModelInfo", "create_embedder", "model_info"]

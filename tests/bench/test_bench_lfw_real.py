"""`bench lfw` for real: dlib-resnet through MTCNN on a few official LFW pairs (needs ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceapp.bench import lfw
from faceapp.core.embedders.base import Embedder


@pytest.mark.shared_data
def test_real_lfw_pairs_with_dlib_resnet(shared_data: Path, dlib_embedder: Embedder) -> None:
    # The first same and the first different pair of each of the 10 folds: 20 pairs, 40 images.
    result = lfw.run(shared_data, embedder=dlib_embedder, limit=1, use_cache=False)
    assert result["pairs"] == 20
    assert result["no_face"]["count"] == 0
    assert result["accuracy_best_all"] >= 0.95
    assert result["accuracy_mean"] >= 0.9
    assert result["speed"]["embed_ms_per_face_live"] > 0

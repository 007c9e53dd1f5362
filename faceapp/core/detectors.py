"""The detectors the app offers, by name: the one place that imports each of them."""

from __future__ import annotations

from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.types import DETECTORS


def create_detector(name: str = "mtcnn", config: DetectorConfig | None = None) -> Detector:
    """The detector `name` (mtcnn or yunet) with `config`; ValueError for another name. Models load on first use."""
    if name == "mtcnn":
        return Detector(config)
    if name == "yunet":
        from faceapp.core.detect_yunet import YunetDetector

        return YunetDetector(config)
    raise ValueError(f"Unknown detector {name!r}; known detectors: {', '.join(DETECTORS)}.")

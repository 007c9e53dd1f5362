"""Is a face good enough to enroll? Size, sharpness and pose from the detection and its pixels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from faceapp.core.types import Detection


@dataclass(frozen=True)
class QualityLimits:
    """The bounds a face must meet to be enrolled without a warning."""

    min_size: float = 80.0
    min_sharpness: float = 40.0
    max_yaw: float = 0.35
    min_score: float = 0.95


@dataclass(frozen=True)
class Quality:
    """Measured quality of one face, and the problems found (empty when it is fine to enroll)."""

    size: float
    sharpness: float
    yaw: float
    score: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def yaw_ratio(landmarks: np.ndarray) -> float:
    """How far the nose sits off the eyes' midline, as a share of the eye distance (0 frontal, ~0.5 profile)."""
    left, right, nose = landmarks[0], landmarks[1], landmarks[2]
    eye_vec = right - left
    eye_dist = float(np.linalg.norm(eye_vec))
    if eye_dist < 1e-6:
        return 1.0
    mid = (left + right) / 2
    offset = float(np.dot(nose - mid, eye_vec) / eye_dist)
    return abs(offset) / eye_dist


def sharpness(image: np.ndarray, detection: Detection) -> float:
    """Variance of the Laplacian over the face box, resized to 112 px wide, as a blur measure."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (round(v) for v in detection.box)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if x2 - x1 < 4 or y2 - y1 < 4:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (112, 112), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def assess(image: np.ndarray, detection: Detection, limits: QualityLimits | None = None) -> Quality:
    """Measure a face and list what would make it a poor enrollment sample."""
    lim = limits or QualityLimits()
    size, sharp, yaw = detection.size, sharpness(image, detection), yaw_ratio(detection.landmarks)
    problems = []
    if size < lim.min_size:
        problems.append(f"face is small ({size:.0f} px; {lim.min_size:.0f} px or more is best)")
    if sharp < lim.min_sharpness:
        problems.append("face is blurred")
    if yaw > lim.max_yaw:
        problems.append("face is turned away; look at the camera")
    if detection.score < lim.min_score:
        problems.append("face is unclear (low detection confidence)")
    return Quality(size, sharp, yaw, detection.score, tuple(problems))

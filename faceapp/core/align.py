"""Face alignment: similarity transforms from landmarks, chips for each embedder, and stored sample crops."""

from __future__ import annotations

import cv2
import numpy as np

from faceapp.core.types import Detection
from faceapp.errors import BadInputError

# Where MTCNN's five points (image-left eye, image-right eye, nose tip, mouth left, mouth right) fall inside
# dlib's 150x150 face chip (padding 0.25): medians measured on LFW (docs/DLIB_RESNET.md, shared docs).
DLIB_CHIP_SIZE = 150
DLIB_MTCNN_TEMPLATE = np.array(
    [
        [47.833, 46.207],
        [102.233, 45.906],
        [74.429, 78.860],
        [51.445, 106.232],
        [98.480, 106.288],
    ],
    dtype=np.float64,
)


# The standard 112x112 ArcFace template (insightface's arcface_dst; OpenCV's FaceRecognizerSF uses the same points),
# in MTCNN's order: image-left eye, image-right eye, nose tip, mouth left, mouth right.
ARCFACE_CHIP_SIZE = 112
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift) that best maps points `src` onto `dst` (Umeyama)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n = src.shape[0]
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / n
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # reflection: flip the weakest axis
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    src_var = (src_c**2).sum() / n
    scale = float((s * d).sum() / src_var) if src_var > 0 else 1.0
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Sample a size x size chip from `image` through the 2x3 `matrix` (image -> chip), bilinear.

    Where the chip reaches past the image (a face cut off by the frame), the image is mirrored at its edge rather
    than padded with black: on the shared photos this names both half-visible Obama photos correctly where black
    padding misnamed one, and LFW accuracy is unchanged (docs/benchmarks.md).
    """
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def dlib_chip(image: np.ndarray, detection: Detection) -> np.ndarray:
    """dlib's 150x150 chip geometry (padding 0.25), fitted from MTCNN's five landmarks."""
    matrix = similarity_matrix(detection.landmarks, DLIB_MTCNN_TEMPLATE)
    return warp(image, matrix, DLIB_CHIP_SIZE)


def check_detection(detection: Detection) -> None:
    """BadInputError unless the box is 4 finite numbers with x1 < x2, y1 < y2 and the landmarks 5 finite points."""
    box = np.asarray(detection.box, dtype=np.float64)
    points = np.asarray(detection.landmarks, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        raise BadInputError(f"Not a usable face box: {detection.box}.")
    if points.size != 10 or not np.isfinite(points).all():
        raise BadInputError("A face needs five finite landmarks.")


def arcface_chip(image: np.ndarray, detection: Detection) -> np.ndarray:
    """The 112x112 ArcFace chip SFace expects: the five landmarks fitted to ARCFACE_TEMPLATE by a similarity."""
    matrix = similarity_matrix(detection.landmarks, ARCFACE_TEMPLATE)
    return warp(image, matrix, ARCFACE_CHIP_SIZE)


def box_crop(image: np.ndarray, detection: Detection, size: int, margin: float) -> np.ndarray:
    """facenet-pytorch's crop: the box grown by `margin` pixels at the output scale, resized to size x size."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = detection.box
    grow_x = margin * (x2 - x1) / (size - margin) / 2
    grow_y = margin * (y2 - y1) / (size - margin) / 2
    left, top = int(max(x1 - grow_x, 0)), int(max(y1 - grow_y, 0))
    right, bottom = int(min(x2 + grow_x, w)), int(min(y2 + grow_y, h))
    if right <= left or bottom <= top:
        return np.zeros((size, size, 3), np.uint8)
    crop = image[top:bottom, left:right]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def sample_crop(image: np.ndarray, detection: Detection, max_side: int = 400) -> tuple[np.ndarray, Detection]:
    """The region kept in the gallery for a face: its box and a wide margin, at most `max_side` pixels.

    Returns the crop and the detection moved into the crop's coordinates, so any embedder can align from it later.
    BadInputError when the box or landmarks are not finite, or the region misses the image.
    """
    h, w = image.shape[:2]
    check_detection(detection)
    x1, y1, x2, y2 = detection.box
    side = max(x2 - x1, y2 - y1) * 2.0
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    right, bottom = int(min(cx + side / 2, w)), int(min(cy + side / 2, h))
    crop = image[top:bottom, left:right]
    if crop.size == 0:
        raise BadInputError(f"The face box {tuple(round(v, 1) for v in detection.box)} misses the {w}x{h} image.")
    scale = min(1.0, max_side / max(crop.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    moved = detection.shifted(-left, -top).shifted(0, 0, scale)
    return np.ascontiguousarray(crop), moved

"""Face detection with facenet-pytorch's MTCNN: boxes, scores and five landmarks per face."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from faceapp.core.types import Detection


@dataclass(frozen=True)
class DetectorConfig:
    """Detection settings: smallest face (pixels, full resolution), scale applied before detection, size cap."""

    min_face_size: int = 40
    scale: float = 1.0
    max_side: int = 1280
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    min_score: float = 0.9


class Detector:
    """MTCNN on the CPU. Large images are downscaled for detection; results are in full-resolution pixels."""

    name = "mtcnn"

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._mtcnn: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._mtcnn is None:
            from faceapp.core.memory import torchvision_without_dynamo

            with torchvision_without_dynamo():  # facenet-pytorch imports torchvision (issue 12: 74 MiB less)
                from facenet_pytorch import MTCNN

            from faceapp.core.weights import verify_mtcnn

            verify_mtcnn()

            self._mtcnn = MTCNN(
                keep_all=True,
                min_face_size=20,
                thresholds=list(self.config.thresholds),
                device="cpu",
                select_largest=False,
            )
            _fast_pools(self._mtcnn)
        return self._mtcnn

    def detection_scale(self, shape: tuple[int, ...]) -> float:
        """The factor an image of `shape` is resized by before MTCNN sees it (config scale, capped by max_side)."""
        h, w = shape[:2]
        return float(min(self.config.scale, self.config.max_side / max(h, w, 1)))

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Every face in RGB uint8 `image`, largest first, at least min_face_size and min_score."""
        scale = self.detection_scale(image.shape)
        small = image
        if abs(scale - 1.0) > 1e-6:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            small = cv2.resize(image, size, interpolation=interp)
        if min(small.shape[:2]) < self._smallest_side(scale):
            return []
        return self._run(small, scale)[0]

    def twin(self) -> Detector:
        """A detector of the same kind and settings with a model of its own (for another thread to run)."""
        return type(self)(self.config)

    def detect_near(
        self, image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]
    ) -> list[list[Detection]]:
        """Each tracked face found again near its last box, by MTCNN's last stage (O-net) alone on the squared box:
        a new box, score and five landmarks for a fraction of a full pass. In `image`'s pixels; [] where O-net finds
        no face, so a face that left its box is lost."""
        if not boxes:
            return []
        squares = [_square(box) for box in boxes]
        chips = np.stack([_crop(image, sq, 48) for sq in squares])
        import torch

        with self._lock:
            onet = self._model().onet
            data = (torch.as_tensor(chips).permute(0, 3, 1, 2).float() - 127.5) * 0.0078125
            with torch.inference_mode():
                reg, points, probs = (t.numpy() for t in onet(data))
        out = []
        for (x1, y1, side), r, pts, p in zip(squares, reg, points, probs[:, 1], strict=True):
            size = side + 1  # facenet-pytorch measures a box as x2 - x1 + 1
            box = (x1 + r[0] * size, y1 + r[1] * size, x1 + side + r[2] * size, y1 + side + r[3] * size)
            marks = np.stack([size * pts[:5] + x1 - 1, size * pts[5:] + y1 - 1], axis=1)
            det = Detection(tuple(float(v) for v in box), float(p), marks)  # type: ignore[arg-type]
            keep = det.score >= self.config.min_score and det.size >= self.config.min_face_size
            out.append([det] if keep else [])
        return out

    def _smallest_side(self, scale: float) -> int:
        """The shortest image side (after `scale`) that can hold a face MTCNN is asked for; smaller is no face.

        MTCNN's image pyramid starts at 12 / min_face_size; an image whose short side is below the pyramid's first
        level gives it no level at all, and it raises ValueError instead of finding nothing.
        """
        return max(24, self._pyramid_min_face(scale))

    def _pyramid_min_face(self, scale: float) -> int:
        return max(20, int(self.config.min_face_size * scale))

    def detect_many(self, images: Sequence[np.ndarray], batch: int = 16) -> list[list[Detection]]:
        """detect() for each image; runs of same-size images that need no resizing go through MTCNN together."""
        out: list[list[Detection]] = []
        start = 0
        while start < len(images):
            shape = images[start].shape
            end = start + 1
            while end < len(images) and end - start < batch and images[end].shape == shape:
                end += 1
            if abs(self.detection_scale(shape) - 1.0) > 1e-6 or min(shape[:2]) < self._smallest_side(1.0):
                out.extend(self.detect(image) for image in images[start:end])
            else:
                out.extend(self._run(np.stack(images[start:end]), 1.0))
            start = end
        return out

    def _run(self, batch: np.ndarray, scale: float) -> list[list[Detection]]:
        """MTCNN on one image (H, W, 3) or a stack (N, H, W, 3) already resized by `scale`."""
        with self._lock:
            model = self._model()
            # MTCNN's pyramid starts at the smallest face wanted, in the downscaled image's pixels (20 at least).
            model.min_face_size = self._pyramid_min_face(scale)
            boxes, probs, points = model.detect(batch, landmarks=True)
        if batch.ndim == 3:
            boxes, probs, points = [boxes], [probs], [points]
        return [self._filter(b, p, pts, scale) for b, p, pts in zip(boxes, probs, points, strict=True)]

    def _filter(self, boxes: Any, probs: Any, points: Any, scale: float) -> list[Detection]:
        """MTCNN's arrays for one image (numpy 2 gives object arrays) as full-resolution detections, filtered."""
        if boxes is None:
            return []
        b_all = np.asarray(boxes, dtype=float).reshape(-1, 4) / scale
        p_all = np.asarray(probs, dtype=float).reshape(-1)
        pts_all = np.asarray(points, dtype=float).reshape(-1, 5, 2) / scale
        found = [
            Detection((float(b[0]), float(b[1]), float(b[2]), float(b[3])), float(p), pts)
            for b, p, pts in zip(b_all, p_all, pts_all, strict=True)
        ]
        kept = [d for d in found if d.score >= self.config.min_score and d.size >= self.config.min_face_size]
        return sorted(kept, key=lambda d: d.area, reverse=True)


def _fast_pools(mtcnn: Any) -> None:
    """Give MTCNN's three nets max pools that run on a channels-last copy of their input (the same numbers).

    torch's CPU max pool on a contiguous NCHW batch is slow: on a 640x480 frame with three faces (at the app's 0.5
    scale) R-net's and O-net's pools on their 25-90 candidate crops took about 40 of the pass's 120 ms of CPU, three
    to four times what the same pool takes on channels-last memory (issue 12, docs/benchmarks.md). The max of a
    window does not depend on the memory layout, and the output is given back in the input's layout, so every later
    layer sees what it saw before.
    """
    import torch

    class ChannelsLastMaxPool(torch.nn.MaxPool2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not x.is_contiguous():  # P-net's input is channels-last already, and its next layer expects that
                return super().forward(x)
            return super().forward(x.contiguous(memory_format=torch.channels_last)).contiguous()

    for net in (mtcnn.pnet, mtcnn.rnet, mtcnn.onet):
        for name, module in list(net.named_children()):
            if type(module) is torch.nn.MaxPool2d:
                fast = ChannelsLastMaxPool(
                    module.kernel_size, module.stride, module.padding, module.dilation, ceil_mode=module.ceil_mode
                )
                setattr(net, name, fast)


def _square(box: tuple[float, float, float, float]) -> tuple[float, float, float]:
    """The square (x1, y1, side) around a box's centre with its longer side, as MTCNN squares boxes between stages."""
    side = max(box[2] - box[0], box[3] - box[1], 1.0)
    return (box[0] + box[2] - side) / 2, (box[1] + box[3] - side) / 2, side


def _crop(image: np.ndarray, square: tuple[float, float, float], size: int) -> np.ndarray:
    """The square of `image` (zero outside the image) resized to size x size by area averaging."""
    x1, y1, side = (int(v) for v in square)
    side = max(side, 1)
    h, w = image.shape[:2]
    patch = np.zeros((side, side, 3), np.uint8)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x1 + side, w), min(y1 + side, h)
    if sx2 > sx1 and sy2 > sy1:
        patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)

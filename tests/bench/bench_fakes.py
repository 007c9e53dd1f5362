"""A tiny LFW-like folder for the benchmark tests: a face-like pattern per person, a little noise per image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from faceapp.bench.embed_cache import PerImage
from faceapp.core.types import Detection
from tests.fakes import FakeDetector, detection

# person -> number of images; the pairs below only use people with 2 or more.
PEOPLE = {"Ann_A": 3, "Bob_B": 3, "Cid_C": 2, "Dee_D": 2, "Eve_E": 1, "Fay_F": 1}
PAIRS = """2\t2
Ann_A\t1\t2
Bob_B\t1\t3
Ann_A\t1\tBob_B\t1
Cid_C\t1\tDee_D\t2
Cid_C\t1\t2
Dee_D\t1\t2
Eve_E\t1\tFay_F\t1
Ann_A\t3\tCid_C\t2
"""


def make_lfw(root: Path) -> Path:
    """Write the folder (250x250 JPEGs and pairs.txt) under root/lfw and return root/lfw."""
    lfw = root / "lfw"
    for pid, (name, count) in enumerate(PEOPLE.items()):
        rng = np.random.default_rng(pid)
        pattern = cv2.resize(
            rng.uniform(0, 255, (4, 4)).astype(np.float32), (130, 130), interpolation=cv2.INTER_NEAREST
        )
        (lfw / name).mkdir(parents=True)
        for i in range(1, count + 1):
            image = np.full((250, 250, 3), 128.0, np.float32)
            image[60:190, 60:190] = (pattern + rng.normal(0, 4, pattern.shape))[:, :, None]
            cv2.imwrite(str(lfw / name / f"{name}_{i:04d}.jpg"), np.clip(image, 0, 255).astype(np.uint8))
    (lfw / "pairs.txt").write_text(PAIRS)
    return lfw


def fake_detector() -> PerImage:
    """One centred face per image."""
    return PerImage(FakeDetector([detection(60, 60, 190, 190)]))


class BlindDetector:
    """Finds nothing anywhere: every image goes through the fallback."""

    def detect_many(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """No faces."""
        return [[] for _ in images]

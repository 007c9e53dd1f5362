"""Parity of the torch dlib-resnet port with real dlib, on the golden descriptors in tests/fixtures/dlib_golden.

The chips are rebuilt here from a seed and from LFW files (never stored: the project ships no faces); the same
functions made the golden descriptors under dlib (tests/fixtures/dlib_golden/make_golden.py). No dlib import.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.errors import BadInputError

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "dlib_golden"
CHIP = 150
SEED = 20240611
SEEDED_COUNT = 8
TOLERANCE = 1e-4  # max abs difference allowed between a torch and a dlib descriptor (measured: about 4e-7)
LFW_CROP = (50, 200)  # rows and columns [50:200] of a 250x250 deep-funneled LFW image: the face's centre


@dataclass(frozen=True)
class Golden:
    """dlib's descriptors of the seeded and LFW chips, with what it takes to rebuild those chips."""

    seed: int
    seeded_sha256: str
    seeded: np.ndarray
    lfw_files: list[str]
    lfw_sha256: str
    lfw: np.ndarray
    meta: dict[str, Any]


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize (n, g, g, 3) -> (n, size, size, 3) in float64 numpy: identical bytes on every platform."""
    g = grid.shape[1]
    pos = np.linspace(0.0, g - 1.0, size)
    lo = np.minimum(np.floor(pos).astype(np.int64), g - 2)
    frac = pos - lo
    rows = grid[:, lo] * (1 - frac)[None, :, None, None] + grid[:, lo + 1] * frac[None, :, None, None]
    return rows[:, :, lo] * (1 - frac)[None, None, :, None] + rows[:, :, lo + 1] * frac[None, None, :, None]


def seeded_chips(seed: int = SEED, count: int = SEEDED_COUNT) -> np.ndarray:
    """Smooth random RGB chips (count, 150, 150, 3) uint8: coarse and finer noise grids, upsampled, plus grain."""
    rng = np.random.default_rng(seed)
    coarse = _upsample(rng.uniform(0.0, 255.0, (count, 5, 5, 3)), CHIP)
    fine = _upsample(rng.uniform(-60.0, 60.0, (count, 19, 19, 3)), CHIP)
    grain = rng.normal(0.0, 4.0, (count, CHIP, CHIP, 3))
    return np.clip(np.rint(coarse + fine + grain), 0, 255).astype(np.uint8)


def lfw_chips(lfw_dir: Path, files: list[str]) -> np.ndarray:
    """The centre 150x150 RGB crops of LFW images `files` (paths relative to `lfw_dir`)."""
    import cv2

    chips = []
    a, b = LFW_CROP
    for name in files:
        image = cv2.imread(str(lfw_dir / name), cv2.IMREAD_COLOR)
        if image is None or image.shape[:2] != (250, 250):
            raise BadInputError(f"Cannot read the 250x250 LFW image {lfw_dir / name}.")
        chips.append(np.ascontiguousarray(image[a:b, a:b, ::-1]))
    return np.stack(chips)


def chips_digest(chips: np.ndarray) -> str:
    """SHA-256 of the chips' pixels: tells a different JPEG decoder apart from a wrong port."""
    return hashlib.sha256(np.ascontiguousarray(chips, dtype=np.uint8).tobytes()).hexdigest()


def load_golden(golden_dir: Path = GOLDEN_DIR) -> Golden:
    """The committed golden descriptors; BadInputError when the fixture folder is absent (an installed faceapp)."""
    meta_path = golden_dir / "golden.json"
    if not meta_path.is_file():
        raise BadInputError(f"The dlib golden fixtures are not at {golden_dir} (they live in a source checkout).")
    meta = json.loads(meta_path.read_text())
    return Golden(
        seed=int(meta["seed"]),
        seeded_sha256=str(meta["seeded_chips_sha256"]),
        seeded=np.load(golden_dir / "seeded.npy"),
        lfw_files=list(meta["lfw_files"]),
        lfw_sha256=str(meta["lfw_chips_sha256"]),
        lfw=np.load(golden_dir / "lfw.npy"),
        meta=meta,
    )


def run(data_dir: Path | None, golden_dir: Path = GOLDEN_DIR) -> dict[str, Any]:
    """Recompute the golden descriptors with the torch port; LFW chips too when `data_dir` (shared data) is given."""
    from faceapp.core.embedders.dlib_resnet import DlibResnetEmbedder

    golden = load_golden(golden_dir)
    embedder = DlibResnetEmbedder(mirror=False)
    seeded = seeded_chips(golden.seed, golden.seeded.shape[0])
    if chips_digest(seeded) != golden.seeded_sha256:
        raise BadInputError("numpy's random stream here gives other seeded chips than the one that made the fixture.")
    start = time.process_time()
    seeded_diff = float(np.abs(embedder.descriptors(seeded) - golden.seeded).max())
    cpu_seconds = time.process_time() - start
    result: dict[str, Any] = {
        "chips": seeded.shape[0],
        "seeded_chips": seeded.shape[0],
        "seeded_max_abs_diff": seeded_diff,
        "lfw_chips": 0,
        "lfw_max_abs_diff": None,
        "lfw_note": "no shared data given",
        "max_abs_diff": seeded_diff,
        "dlib_version": golden.meta.get("dlib_version"),
    }
    lfw_dir = None if data_dir is None else Path(data_dir) / "lfw"
    if lfw_dir is not None and lfw_dir.is_dir():
        chips = lfw_chips(lfw_dir, golden.lfw_files)
        if chips_digest(chips) != golden.lfw_sha256:
            result["lfw_note"] = "this JPEG decoder gives other pixels than the one that made the fixture"
        else:
            start = time.process_time()
            lfw_diff = float(np.abs(embedder.descriptors(chips) - golden.lfw).max())
            cpu_seconds += time.process_time() - start
            result.update(lfw_chips=len(chips), lfw_max_abs_diff=lfw_diff, lfw_note="")
            result["chips"] += len(chips)
            result["max_abs_diff"] = max(seeded_diff, lfw_diff)
    result["cpu_ms_per_chip"] = 1000.0 * cpu_seconds / result["chips"]
    result["tolerance"] = TOLERANCE
    result["passed"] = result["max_abs_diff"] < TOLERANCE
    return result


def main(argv: list[str]) -> int:
    """`faceapp bench dlib-parity [--data SHARED_DATA] [--out FILE]`: 0 when within tolerance, 1 otherwise."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="faceapp bench dlib-parity", description=main.__doc__)
    parser.add_argument("--data", type=Path, help="the shared data folder (holding lfw/), for the LFW chips")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args(argv)
    result = run(args.data)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0 if result["passed"] else 1

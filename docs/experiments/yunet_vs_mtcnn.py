"""YuNet against MTCNN (issue 9): misses on LFW, agreement on the shared clips, false positives on face-free frames.

LFW: how many of the 13,233 images get no face at each YuNet score threshold (MTCNN's misses, from the dlib-resnet
bench cache, are printed beside them). Clips: every frame of each shared video through both detectors at full
resolution with the app's defaults (min face 40 px); a YuNet face agrees with an MTCNN face when their boxes overlap
with IoU >= 0.5, and the landmark error is the mean distance between matched points over MTCNN's eye distance.
Face-free frames: the same frames with every face either detector found at any threshold painted over (box grown
to 2x, filled with the frame's median colour); any detection left there is a false positive.

    python docs/experiments/yunet_vs_mtcnn.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from faceapp.bench import identify, lfw
from faceapp.bench.embed_cache import EmbedCache, cache_path, file_key
from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.detect_yunet import YunetDetector
from faceapp.core.image_io import load_image
from faceapp.core.types import Detection

THRESHOLDS = (0.6, 0.7, 0.8, 0.9)


def iou(a: Detection, b: Detection) -> float:
    """Intersection over union of two boxes."""
    x1, y1 = max(a.box[0], b.box[0]), max(a.box[1], b.box[1])
    x2, y2 = min(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (a.area + b.area - inter) if inter > 0 else 0.0


def frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video, RGB."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return out


def mask_faces(frame: np.ndarray, dets: list[Detection]) -> np.ndarray:
    """The frame with each box grown to twice its size filled with the frame's median colour."""
    out = frame.copy()
    fill = np.median(frame.reshape(-1, 3), axis=0).astype(np.uint8)
    for d in dets:
        cx, cy, side = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2, max(d.width, d.height)
        x1, y1 = int(max(cx - side, 0)), int(max(cy - side, 0))
        out[y1 : int(cy + side), x1 : int(cx + side)] = fill
    return out


def main() -> None:
    """Print the three tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    yunet = YunetDetector(DetectorConfig(), min_score=min(THRESHOLDS))
    mtcnn = Detector(DetectorConfig())
    root = lfw.lfw_root(args.data)
    files = [p for images in identify.list_people(root).values() for p in images]
    cache = EmbedCache.open(cache_path("lfw", "dlib-resnet"), "dlib-resnet", 128)
    mtcnn_missed = sum(
        cache.faces[cache.index[file_key(p, root)]] == 0 for p in files if file_key(p, root) in cache.index
    )
    best, start = [], time.perf_counter()
    for p in files:
        found = yunet.detect(load_image(p))
        best.append(max((d.score for d in found), default=0.0))
    took = 1000 * (time.perf_counter() - start) / len(files)
    scores = np.array(best)
    print(
        f"LFW, {len(files)} images (YuNet {took:.1f} ms per image incl. JPEG decode); MTCNN finds no face in "
        f"{mtcnn_missed}"
    )
    for t in THRESHOLDS:
        print(f"  YuNet at {t}: no face in {(scores < t).sum()}")
    clips = sorted((args.data / "video").glob("*.mp4"))
    for clip in clips:
        video = frames(clip)
        m_all, y_all = [], []
        m_time = y_time = 0.0
        for f in video:
            s = time.perf_counter()
            m_all.append(mtcnn.detect(f))
            m_time += time.perf_counter() - s
            s = time.perf_counter()
            y_all.append(yunet.detect(f))
            y_time += time.perf_counter() - s
        n = len(video)
        print(
            f"{clip.name}: {n} frames, {sum(map(len, m_all))} MTCNN faces; ms per frame MTCNN "
            f"{1000 * m_time / n:.0f}, YuNet {1000 * y_time / n:.0f}"
        )
        for t in THRESHOLDS:
            found = missed = extra = 0
            errors = []
            for ms, ys in zip(m_all, y_all, strict=True):
                kept = [y for y in ys if y.score >= t]
                for m in ms:
                    match = max(kept, key=lambda y: iou(m, y), default=None)
                    if match is not None and iou(m, match) >= 0.5:
                        found += 1
                        eye = np.linalg.norm(m.landmarks[1] - m.landmarks[0])
                        errors.append(np.linalg.norm(match.landmarks - m.landmarks, axis=1).mean() / eye)
                    else:
                        missed += 1
                extra += sum(1 for y in kept if all(iou(m, y) < 0.5 for m in ms))
            err = f"{100 * np.mean(errors):.1f}%" if errors else "-"
            print(
                f"  YuNet at {t}: finds {found}, misses {missed} of MTCNN's faces; {extra} faces MTCNN does "
                f"not have; landmark error {err} of the eye distance"
            )
        masked = [mask_faces(f, ms + ys) for f, ms, ys in zip(video, m_all, y_all, strict=True)]
        y_masked = [yunet.detect(f) for f in masked]
        m_masked = sum(len(mtcnn.detect(f)) for f in masked)
        cells = ", ".join(f"{t}: {sum(sum(d.score >= t for d in ys) for ys in y_masked)}" for t in THRESHOLDS)
        print(f"  face-free frames (faces painted over): MTCNN {m_masked} detections; YuNet {cells}")


if __name__ == "__main__":
    main()

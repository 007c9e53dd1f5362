"""What one face costs each offline model, timed interleaved so that a busy machine slows every model alike.

One LFW image and its MTCNN detection; `Embedder.embed(image, [detection])` (alignment + network, as the live view
calls it per face) for dlib-resnet (mirror averaging on, the app's setting), sface and dlib+sface, in rounds that
alternate the models; prints the median and the 10th-90th percentiles per model, with 1 thread each (torch and
OpenCV) unless --threads says otherwise. YuNet's and MTCNN's cost per 640x360 frame are timed the same way.

    python docs/experiments/cost_per_face.py --data ../shared/data [--rounds 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from faceapp.core.detect import DetectorConfig
from faceapp.core.detectors import create_detector
from faceapp.core.embedders.registry import create_embedder
from faceapp.core.image_io import load_image


def main() -> None:
    """Print one line per model and detector."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    image = load_image(args.data / "lfw" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg")
    mtcnn = create_detector("mtcnn")
    detection = mtcnn.detect(image)[0]
    models = {name: create_embedder(name) for name in ("dlib-resnet", "sface", "dlib+sface")}
    cap = cv2.VideoCapture(str(args.data / "video" / "short_hamilton_clip.mp4"))
    ok, frame = cap.read()
    assert ok
    frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    detectors = {name: create_detector(name, DetectorConfig()) for name in ("mtcnn", "yunet")}
    jobs = {f"embed {n}": (lambda e=e: e.embed(image, [detection])) for n, e in models.items()}
    jobs |= {f"detect {n} 640x360": (lambda d=d: d.detect(frame)) for n, d in detectors.items()}
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for job in jobs.values():
        job()  # warm-up
    for _ in range(args.rounds):
        for name, job in jobs.items():
            for _ in range(5):
                start = time.perf_counter()
                job()
                times[name].append(1000 * (time.perf_counter() - start))
    for name, ms in times.items():
        p10, p50, p90 = np.percentile(ms, [10, 50, 90])
        print(
            f"{name:24s} median {p50:6.1f} ms  (p10 {p10:.1f}, p90 {p90:.1f}; {len(ms)} calls, {args.threads} thread)"
        )


if __name__ == "__main__":
    main()

"""dlib's own pipeline on all of LFW, as a reference for `faceapp bench identify` (a dev-only experiment).

Runs what the face_recognition library does, with the same ResNet weights faceapp uses: dlib's HOG detector
(upsampled once), the face nearest the image centre (a centred 110 px box when HOG finds none), dlib's 5-point shape
predictor, and `compute_face_descriptor` (150x150 chip, padding 0.25, one jitter). Writes one raw descriptor per image.

Needs a separate environment with dlib (e.g. `pip install dlib-bin numpy`) and the face_recognition_models package's
.dat files; faceapp itself never imports dlib. About 25 minutes for the 13,233 images on one core.

    python docs/experiments/dlib_reference.py --lfw ../shared/data/lfw --models <face_recognition_models>/models \
        --out dlib_reference.npz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import dlib  # type: ignore[import-not-found]
import numpy as np


def main() -> None:
    """Describe every LFW image with dlib's own pipeline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, required=True, help="the LFW folder (person folders of JPEGs)")
    parser.add_argument("--models", type=Path, required=True, help="face_recognition_models' models folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, help="only the first N images (a quick check)")
    args = parser.parse_args()
    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(str(args.models / "shape_predictor_5_face_landmarks.dat"))
    net = dlib.face_recognition_model_v1(str(args.models / "dlib_face_recognition_resnet_model_v1.dat"))
    keys = sorted(p.relative_to(args.lfw).as_posix() for p in args.lfw.glob("*/*_[0-9][0-9][0-9][0-9].jpg"))
    keys = keys[: args.limit] if args.limit else keys
    out = np.zeros((len(keys), 128), np.float32)
    found = np.zeros(len(keys), np.int16)
    start = time.perf_counter()
    for i, key in enumerate(keys):
        image = dlib.load_rgb_image(str(args.lfw / key))
        h, w = image.shape[:2]
        boxes = detector(image, 1)
        found[i] = len(boxes)
        if boxes:
            box = min(boxes, key=lambda r: (r.center().x - w / 2) ** 2 + (r.center().y - h / 2) ** 2)
        else:
            box = dlib.rectangle(w // 2 - 55, h // 2 - 55, w // 2 + 55, h // 2 + 55)
        out[i] = np.array(net.compute_face_descriptor(image, shapes(image, box), 1))
        if i % 1000 == 0:
            print(f"{i}/{len(keys)} images, {time.perf_counter() - start:.0f} s", flush=True)
    np.savez(args.out, keys=np.array(keys), descriptors=out, faces=found)
    print(f"wrote {args.out}: {len(keys)} images, HOG found no face in {(found == 0).sum()}")


if __name__ == "__main__":
    main()

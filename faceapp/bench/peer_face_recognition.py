"""The peer row of `faceapp bench video --peer-python`: face_recognition's documented webcam loop on a video file.

Run by another interpreter, the one face_recognition is installed in (faceapp never depends on it), so it imports
nothing of faceapp. The clip plays in real time into a one-frame slot, as a webcam delivers frames whether or not
the loop keeps up; the loop is examples/facerec_from_webcam.py ("every": HOG detection and encoding on every frame it
takes) or examples/facerec_from_webcam_faster.py ("faster": a quarter-size frame, every other frame). It prints one
JSON object: capture times, and for each processed frame its index, report time and the names it gave.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

import cv2
import numpy as np


def _player(path: str, slot: dict[str, Any], cond: threading.Condition, out: dict[str, Any]) -> None:
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out["fps"] = fps
    index, due, last = 0, time.monotonic(), None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        small = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (32, 24), interpolation=cv2.INTER_AREA)
        small = small.astype(np.float32)
        if last is None or float(np.abs(small - last).mean()) > 20.0:  # faceapp's SCENE_CUT
            out["shots"].append(index)
        last = small
        with cond:
            out["captured"][index] = time.monotonic()
            slot["frame"] = (index, frame)
            cond.notify()
        index += 1
        due += 1.0 / fps
        time.sleep(max(0.0, due - time.monotonic()))
    with cond:
        slot["done"] = True
        cond.notify()


def main() -> None:
    """The loop; JSON on stdout."""
    import face_recognition

    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--enroll", action="append", default=[])
    parser.add_argument("--variant", choices=("every", "faster"), default="every")
    args = parser.parse_args()
    names, known = [], []
    for item in args.enroll:
        name, _, path = item.partition("=")
        encodings = face_recognition.face_encodings(face_recognition.load_image_file(path))
        if encodings:
            names.append(name)
            known.append(encodings[0])
    out: dict[str, Any] = {"captured": {}, "shots": [], "results": [], "faces": [], "process_ms": []}
    slot: dict[str, Any] = {}
    cond = threading.Condition()
    player = threading.Thread(target=_player, args=(args.source, slot, cond, out), daemon=True)
    start = time.monotonic()
    player.start()
    process_this_frame = True
    while True:
        with cond:
            while "frame" not in slot and not slot.get("done"):
                cond.wait(1.0)
            if "frame" not in slot:
                break
            index, frame = slot.pop("frame")
        if args.variant == "faster":
            # facerec_from_webcam_faster.py: a quarter of the size, every other frame
            small = cv2.resize(frame, (0, 0), fx=0.25, fy=0.25)
            rgb = np.ascontiguousarray(small[:, :, ::-1])
            run = process_this_frame
            process_this_frame = not process_this_frame
            if not run:
                continue
        else:
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
        t0 = time.perf_counter()
        locations = face_recognition.face_locations(rgb)
        encodings = face_recognition.face_encodings(rgb, locations)
        found = []
        for encoding in encodings:
            if not known:
                continue
            matches = face_recognition.compare_faces(known, encoding)
            best = int(np.argmin(face_recognition.face_distance(known, encoding)))
            if matches[best]:
                found.append(names[best])
        out["process_ms"].append((time.perf_counter() - t0) * 1e3)
        out["results"].append([index, time.monotonic(), found])
        out["faces"].append(len(locations))
    out["elapsed"] = time.monotonic() - start
    print(json.dumps(out))


if __name__ == "__main__":
    main()

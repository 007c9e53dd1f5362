"""The Who is this? panel's screenshot: `python -m faceapp.ui.review_screenshot --out docs/screenshots`.

Faces from face_recognition's MIT-licensed example photos (the shared data) play unknown visitors: each photo is one
track, detected with MTCNN and embedded with dlib-resnet, fed to a ReviewStore and grouped by the app's own code, in a
throwaway gallery. Writes review.png and review_name.png (the Name... question over it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from faceapp.ui.screenshots import SHARED, wait_until

VISITORS = ("obama", "kit_harington", "rose_leslie", "biden", "alex_lacamoire")


def tracks(photos: Path, model: str) -> list[object]:
    """One TrackSummary per example photo with a face, seen over the last hours."""
    from faceapp.core.align import sample_crop
    from faceapp.core.detect import Detector, DetectorConfig
    from faceapp.core.embedders.registry import create_embedder
    from faceapp.core.evidence import TrackSummary
    from faceapp.core.image_io import load_image
    from faceapp.core.types import FaceSample

    detector, embedder = Detector(DetectorConfig()), create_embedder(model)
    out: list[object] = []
    now = time.time()
    for folder in VISITORS:
        for path in sorted((photos / folder).iterdir()):
            image = load_image(path)
            found = detector.detect(image)
            if not found:
                continue
            crop, moved = sample_crop(image, found[0])
            vector = embedder.embed_faces([crop], [moved])[0]
            seen = now - 600 * len(out)
            sample = FaceSample(crop, moved, path.name)
            out.append(TrackSummary(len(out) + 1, seen - 4, seen, None, model, vector[None], (sample,), (0.8,)))
    return out


def main(argv: list[str] | None = None) -> int:
    """Write review.png and review_name.png."""
    parser = argparse.ArgumentParser(prog="python -m faceapp.ui.review_screenshot")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--photos", type=Path, default=SHARED / "photos" / "face_recognition_examples")
    args = parser.parse_args(argv)
    out, photos = args.out.resolve(), args.photos.resolve()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="faceapp-review-shot-"))
    os.environ["FACEAPP_DATA_DIR"] = str(home / "data")
    os.environ["FACEAPP_CONFIG_DIR"] = str(home / "config")
    from PySide6.QtWidgets import QApplication

    from faceapp.core.review import Retention, ReviewStore
    from faceapp.engine import Engine
    from faceapp.ui.bridge import GalleryRunner
    from faceapp.ui.review_panel import ReviewPanel, runner_actions

    app = QApplication.instance() or QApplication([])
    engine = Engine.open(home / "gallery.sqlite3", "dlib-resnet")
    store = ReviewStore(Retention("session"))
    for summary in tracks(photos, engine.model):
        store.add_track(summary)  # type: ignore[arg-type]
    runner = GalleryRunner()
    panel = ReviewPanel(
        runner_actions(runner, engine, store), lambda: ["Lin-Manuel Miranda"], store.retention, "dlib-resnet"
    )
    panel.resize(640, 560)
    panel.show()
    wait_until(app, lambda: panel.list.count() > 0, 10)
    wait_until(app, lambda: False, 0.5)
    out.mkdir(parents=True, exist_ok=True)
    panel.grab().save(str(out / "review.png"))
    panel.ask_name()
    assert panel.dialog is not None
    panel.dialog.combo.setEditText("Barack Obama")
    wait_until(app, lambda: False, 0.5)
    panel.dialog.grab().save(str(out / "review_name.png"))
    seen = [g.times_seen for g in panel.groups]
    print(f"{panel.list.count()} groups from {sum(seen)} tracks ({len(store)} candidates): {seen}")
    panel.dialog.reject()
    panel.close()
    runner.stop()
    runner.join(5)
    engine.close()
    print(f"screenshots written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

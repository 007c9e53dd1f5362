"""Screenshots of the real window for the docs: `python -m faceapp.ui.screenshots --out docs/screenshots`.

Runs offscreen on the Hamilton clip with Lin-Manuel Miranda and Alex Lacamoire enrolled from photos, in a throwaway
gallery and settings folder that is also the working directory, so every path the window shows is a neutral relative
one ("hamilton.mp4"), never the path of the machine the screenshots were made on.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PEOPLE = {"Lin-Manuel Miranda": "lin_manuel_miranda", "Alex Lacamoire": "alex_lacamoire"}


def wait_until(app: object, condition: Callable[[], bool], timeout: float) -> bool:
    """Process events until `condition` holds or `timeout` seconds pass."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def main(argv: list[str] | None = None) -> int:
    """Write main.png, verify.png, enroll.png, gallery.png, settings.png and no_source.png to --out."""
    parser = argparse.ArgumentParser(prog="python -m faceapp.ui.screenshots")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--source", type=Path, default=SHARED / "video" / "short_hamilton_clip.mp4")
    parser.add_argument("--photos", type=Path, default=SHARED / "photos" / "face_recognition_examples")
    args = parser.parse_args(argv)
    out, source, photos = args.out.resolve(), args.source.resolve(), args.photos.resolve()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="faceapp-shots-"))
    (home / "hamilton.mp4").symlink_to(source)
    os.chdir(home)
    os.environ["FACEAPP_DATA_DIR"] = str(home / "data")
    os.environ["FACEAPP_CONFIG_DIR"] = str(home / "config")
    from PySide6.QtWidgets import QApplication

    from faceapp.engine import Engine
    from faceapp.settings import Settings
    from faceapp.ui import flows
    from faceapp.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    out.mkdir(parents=True, exist_ok=True)
    engine = Engine.open(home / "gallery.sqlite3", "dlib-resnet")
    for name, folder in PEOPLE.items():
        engine.enroll(name, sorted((photos / folder).iterdir()))
    window = MainWindow(engine, Settings(source="hamilton.mp4", mirror_view=False), persist_settings=False)
    window.resize(1000, 660)
    window.show()
    window.start()

    def lin_in_view() -> bool:
        result = window.view.result
        tau = window.rule()
        return result is not None and result.frame_index % 275 >= 120 and any(f.accepted(tau) for f in result.faces)

    if not wait_until(app, lin_in_view, 40):
        print("recognition never labelled a face", file=sys.stderr)
    window.grab().save(str(out / "main.png"))
    result = window.view.result
    assert result is not None
    assert result.faces
    face = max(result.faces, key=lambda f: f.detection.area)
    enroll = flows.enroll_dialog(window, window.image_for(result.frame_index), face)  # type: ignore[arg-type]
    enroll.show()
    wait_until(app, lambda: False, 0.3)
    enroll.grab().save(str(out / "enroll.png"))
    enroll.reject()
    window.verify.switch.setChecked(True)
    window.verify.people.setCurrentIndex(window.verify.people.findText("Lin-Manuel Miranda"))
    wait_until(app, lambda: "ACCEPT" in window.verify.verdict.text(), 5)
    window.grab().save(str(out / "verify.png"))
    window.verify.switch.setChecked(False)
    for make, name in ((flows.gallery_dialog, "gallery.png"), (flows.settings_dialog, "settings.png")):
        dialog = make(window)
        dialog.show()
        wait_until(app, lambda: False, 0.8)
        dialog.grab().save(str(out / name))
        dialog.reject()
    window.open_source("missing.mp4")
    wait_until(app, lambda: False, 0.3)
    window.grab().save(str(out / "no_source.png"))
    window.close()
    engine.close()
    print(f"screenshots written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

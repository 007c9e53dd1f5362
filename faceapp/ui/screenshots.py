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
    """Write main.png, menu.png, verify.png, enroll.png, photos.png, face_menu.png, gallery.png, settings.png and
    no_source.png."""
    parser = argparse.ArgumentParser(prog="python -m faceapp.ui.screenshots")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--source", type=Path, default=SHARED / "video" / "short_hamilton_clip.mp4")
    parser.add_argument("--photos", type=Path, default=SHARED / "photos" / "face_recognition_examples")
    parser.add_argument("--guided-only", action="store_true", help="only guided.png (a one-person clip as --source)")
    args = parser.parse_args(argv)
    out, source, photos = args.out.resolve(), args.source.resolve(), args.photos.resolve()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="faceapp-shots-"))
    (home / "hamilton.mp4").symlink_to(source)
    os.chdir(home)
    os.environ["FACEAPP_DATA_DIR"] = str(home / "data")
    os.environ["FACEAPP_CONFIG_DIR"] = str(home / "config")
    from PySide6.QtWidgets import QApplication, QMenu

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
    if args.guided_only:
        wait_until(app, lambda: window.view.result is not None, 120)
        guided_shot(app, window, out)
        window.close()
        engine.close()
        return 0

    def named_face_drawn() -> bool:
        # What the user sees: a labelled box drawn on the frame shown (the view drops boxes that no longer fit).
        result, (index, drawn) = window.view.result, window.view.drawn
        tau = window.rule()
        return result is not None and index >= 0 and any(f.accepted(tau) for f in drawn)

    if not wait_until(app, named_face_drawn, 120):
        print("no labelled face was drawn within 120 s (a slow machine?)", file=sys.stderr)
    window.grab().save(str(out / "main.png"))
    result = window.view.result
    assert result is not None
    assert result.faces
    menu = window.menuBar().actions()[1].menu()  # Gallery, with its shortcuts
    assert isinstance(menu, QMenu)
    menu.popup(window.mapToGlobal(window.menuBar().actionGeometry(window.menuBar().actions()[1]).bottomLeft()))
    wait_until(app, lambda: False, 0.3)
    menu.grab().save(str(out / "menu.png"))
    menu.hide()
    face = max(result.faces, key=lambda f: f.detection.area)
    image = result.image if result.image is not None else window.image_for(result.frame_index)
    enroll = flows.enroll_dialog(window, image, face)  # type: ignore[arg-type]
    enroll.show()
    wait_until(app, lambda: False, 0.3)
    enroll.grab().save(str(out / "enroll.png"))
    enroll.reject()
    guided_shot(app, window, out)
    window.verify.switch.setChecked(True)
    window.verify.people.setCurrentIndex(window.verify.people.findText("Lin-Manuel Miranda"))
    wait_until(app, lambda: "ACCEPT" in window.verify.verdict.text(), 5)
    window.grab().save(str(out / "verify.png"))
    window.verify.switch.setChecked(False)
    group = photos / "_multi_face" / "kit_with_rose.jpg"
    (home / "kit_with_rose.jpg").symlink_to(group)  # a neutral relative path in the dialog
    photo_dialog = flows.photos_dialog(window, ["kit_with_rose.jpg", "missing.jpg"])
    photo_dialog.show()
    wait_until(app, lambda: bool(photo_dialog.found), 30)
    photo_dialog.name.setEditText("Kit Harington")
    wait_until(app, lambda: False, 0.3)
    photo_dialog.grab().save(str(out / "photos.png"))
    photo_dialog.reject()
    named = next((f for f in result.faces if f.accepted(window.rule())), face)
    face_menu = window.view.face_menu(named)  # the live face's menu: "Not <name>" (issue 13)
    face_menu.popup(window.view.mapToGlobal(window.view.box_rect(named).center().toPoint()))
    wait_until(app, lambda: False, 0.3)
    face_menu.grab().save(str(out / "face_menu.png"))
    face_menu.hide()
    record_correction(engine, image, named)
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
    from faceapp.ui.session import finish_threads

    finish_threads()  # exiting under a busy recognition thread aborts the process ("terminate called ...")
    print(f"screenshots written to {out}")
    return 0


def record_correction(engine: object, image: object, face: object) -> None:
    """For the gallery shot: the live face recorded as not the other enrolled person (a correction to list)."""
    from faceapp.core.align import sample_crop
    from faceapp.core.types import FaceSample
    from faceapp.engine import Engine

    assert isinstance(engine, Engine)
    other = next(p for p in engine.people() if p.id != getattr(face, "person_id", None))
    crop, moved = sample_crop(image, face.detection)  # type: ignore[arg-type, attr-defined]
    engine.add_negative(other.id, FaceSample(crop, moved, "live view"))


def guided_shot(app: object, window: object, out: Path) -> None:
    """guided.png: Enroll person's guided capture, once it has a few samples (or has ended)."""
    from faceapp.ui import flows

    dialog = flows.guided_dialog(window, None, None)  # type: ignore[arg-type]
    assert dialog is not None
    dialog.show()
    wait_until(app, lambda: len(dialog.samples) >= 3 or not dialog.capturing, 90)
    wait_until(app, lambda: "Not taken" in dialog.reason.text(), 5)
    dialog.name.setCurrentText("New Person")
    dialog.grab().save(str(out / "guided.png"))
    dialog.reject()


if __name__ == "__main__":
    sys.exit(main())

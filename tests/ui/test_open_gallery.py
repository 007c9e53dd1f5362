"""Issue 16: Gallery > Open gallery while a gallery is open, from the menu or its shortcut, the file dialog stubbed: the
window switches to the chosen gallery (recognition names its people), and a bad file (not a database, another
program's database, a newer faceapp's gallery, a file gone, an unreadable one) says why in one line and keeps the open
gallery and recognition as they were."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QMenu
from pytestqt.qtbot import QtBot

from faceapp.core import align
from faceapp.core.types import Detection, FaceSample
from faceapp.engine import Engine
from faceapp.storage.repository import GalleryRepository
from faceapp.ui import flows
from faceapp.ui.main_window import MainWindow
from tests.core.test_guided import landmarks
from tests.fakes import SYNTHETIC_FACE, dlib_like, synthetic_video
from tests.ui.helpers import WindowFactory, synthetic_detector, wait_for_faces


def face_sample(video: Path) -> FaceSample:
    """The synthetic clip's face, cropped as an enrollment stores it."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    crop, moved = align.sample_crop(image, Detection(SYNTHETIC_FACE, 0.99, landmarks(SYNTHETIC_FACE)))
    return FaceSample(crop, moved, "test")


def gallery_with(path: Path, name: str, sample: FaceSample) -> Path:
    engine = Engine(GalleryRepository(path), "dlib-resnet", embedder_factory=lambda model: dlib_like())
    engine.enroll_samples(name, [sample])
    engine.close()
    return path


@pytest.fixture
def window(qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    """A window on a gallery holding Ann, recognising her in the synthetic clip; galleries it opens use the fake."""
    real_open = Engine.open

    def open_with_fake(path: Path, model: str | None = None, **kw: object) -> Engine:
        return real_open(path, model, embedder_factory=lambda name: dlib_like(), **kw)

    monkeypatch.setattr(Engine, "open", open_with_fake)
    window = make_window(synthetic, dlib_like(), live=synthetic_detector())
    assert window.engine is not None
    window.engine.enroll_samples("Ann", [face_sample(synthetic)])
    named(qtbot, window, "Ann")
    return window


def named(qtbot: QtBot, window: MainWindow, name: str) -> None:
    """Until the live view names the synthetic face `name`."""

    def shown() -> bool:
        result = window.view.result
        return result is not None and any(f.name == name for f in result.faces)

    qtbot.waitUntil(shown, timeout=15000)


def choose_file(monkeypatch: pytest.MonkeyPatch, path: Path, asked: list[str] | None = None) -> None:
    def stub(parent: object, title: str, *args: object, **kwargs: object) -> tuple[str, str]:
        if asked is not None:
            asked.append(title)
        return str(path), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", stub)


def gallery_menu(window: MainWindow) -> QMenu:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Gallery")
    assert isinstance(menu, QMenu)
    return menu


def test_gallery_open_from_the_menu_switches_to_the_chosen_gallery(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = gallery_with(tmp_path / "other.sqlite3", "Bob", face_sample(synthetic))
    first = window.engine
    asked: list[str] = []
    choose_file(monkeypatch, other, asked)
    menu = gallery_menu(window)
    entry = next(a for a in menu.actions() if a.text() == "&Open gallery...")
    assert entry.shortcut().toString() == "Ctrl+Shift+G"
    menu.popup(window.mapToGlobal(QPoint(20, 20)))
    qtbot.waitUntil(menu.isVisible, timeout=3000)
    qtbot.keyClick(menu, Qt.Key.Key_O)  # the item's mnemonic, as a user picks it from the open menu
    assert asked == ["Open a gallery"]
    qtbot.waitUntil(lambda: window.engine is not first and window.people_names() == ["Bob"], timeout=15000)
    named(qtbot, window, "Bob")  # recognition runs on the new gallery
    assert window.settings.db_path == str(other.resolve())  # the start-up gallery from now on
    assert window.engine is not None
    assert window.engine.gallery_path == other.resolve()
    assert not window.banner.isVisible()


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Bad gallery files and a word their message must hold."""
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 50)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    newer = tmp_path / "newer.sqlite3"
    GalleryRepository(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    return {
        "garbage": (garbage, "not a faceapp gallery"),
        "foreign": (foreign, "not a faceapp gallery"),
        "newer": (newer, "newer faceapp"),
        "gone": (tmp_path / "gone.sqlite3", "does not exist"),
    }


@pytest.mark.parametrize("kind", ["garbage", "foreign", "newer", "gone"])
def test_a_bad_gallery_file_says_why_in_one_line_and_keeps_the_open_gallery(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path, why = bad_files(tmp_path)[kind]
    first, db_path = window.engine, window.settings.db_path
    assert first is not None
    choose_file(monkeypatch, path)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(window.banner.isVisible, timeout=10000)
    text = window.banner.label.text()
    assert f"The gallery {path.resolve()} cannot be opened" in text
    assert why in text
    assert f"The gallery {first.gallery_path} stays open." in text
    assert "\n" not in text
    assert "Traceback" not in text
    assert window.engine is first
    assert window.settings.db_path == db_path
    assert window.people_names() == ["Ann"]
    before = window.session.recognized
    qtbot.waitUntil(lambda: window.session.recognized >= before + 3, timeout=5000)  # recognition goes on
    named(qtbot, window, "Ann")
    assert not path.exists() or kind != "gone"  # Open never creates a gallery where the file went


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_gallery_file_keeps_the_open_gallery(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = gallery_with(tmp_path / "locked.sqlite3", "Bob", face_sample(synthetic))
    locked.chmod(0)
    first = window.engine
    choose_file(monkeypatch, locked)
    window.actions_by_name["open_gallery"].trigger()
    qtbot.waitUntil(window.banner.isVisible, timeout=10000)
    assert "cannot be opened" in window.banner.label.text()
    assert window.engine is first
    assert window.people_names() == ["Ann"]


def test_open_gallery_on_the_gallery_already_open_changes_nothing(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = window.engine
    assert first is not None
    assert first.gallery_path is not None
    choose_file(monkeypatch, first.gallery_path)
    window.actions_by_name["open_gallery"].trigger()
    assert "already open" in window.status.currentMessage()
    assert window.engine is first


def test_open_gallery_with_no_gallery_open_starts_recognition_on_it(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faceapp.settings import Settings

    video = synthetic_video(tmp_path / "clip.avi")
    other = gallery_with(tmp_path / "other.sqlite3", "Bob", face_sample(video))
    real_open = Engine.open
    monkeypatch.setattr(
        Engine,
        "open",
        lambda path, model=None, **kw: real_open(path, model, embedder_factory=lambda n: dlib_like(), **kw),
    )
    window = MainWindow(
        None, Settings(source=str(video), mirror_view=False), live_detector=synthetic_detector(),  # type: ignore[arg-type]
        persist_settings=False,
    )  # fmt: skip
    qtbot.addWidget(window)
    window.show()
    window.start()
    try:
        choose_file(monkeypatch, other)
        window.actions_by_name["open_gallery"].trigger()
        qtbot.waitUntil(lambda: window.people_names() == ["Bob"], timeout=15000)
        wait_for_faces(qtbot, window)
        named(qtbot, window, "Bob")
    finally:
        window.close()


# -- what stays bound to the gallery open before a switch (review of the switch) ------------------------------------


def test_a_dialog_opened_on_the_old_gallery_saves_nothing_after_a_switch(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, synthetic: Path
) -> None:
    old = window.engine
    assert old is not None
    before = [p.name for p in old.people()]
    dialog = flows.guided_dialog(window, None, None)  # Enroll person: the dialog is open...
    assert dialog is not None
    other = gallery_with(tmp_path / "other.sqlite3", "Bob", face_sample(synthetic))
    new = Engine.open(other, None)
    window.switch_gallery(new, other)  # ... when an Open gallery started before it finishes
    qtbot.waitUntil(lambda: window.people_names() == ["Bob"], timeout=15000)
    saved: list[object] = []
    errors: list[str] = []
    dialog._save("Zed", [face_sample(synthetic)], saved.append, errors.append)
    assert saved == []
    assert errors == [flows.GALLERY_CHANGED]
    assert [p.name for p in old.people()] == before
    assert [p.name for p in new.people()] == ["Bob"]
    dialog.close()


def test_a_load_of_the_old_gallery_finishing_after_a_switch_is_dropped(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, synthetic: Path
) -> None:
    gate = threading.Event()
    window.runner.submit("busy", lambda t: gate.wait(10), lambda _: None, lambda m: None)  # the runner is busy
    window.refresh_gallery()  # the old gallery's reload, queued behind it
    other = gallery_with(tmp_path / "other.sqlite3", "Bob", face_sample(synthetic))
    window.switch_gallery(Engine.open(other, None), other)
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=15000)
    gate.set()
    done = threading.Event()
    window.runner.submit("after", lambda t: None, lambda _: done.set(), lambda m: None)
    qtbot.waitUntil(done.is_set, timeout=10000)
    qtbot.wait(100)
    assert window.people_names() == ["Bob"]


def test_a_switch_closes_the_old_gallerys_review_panel_and_watches_the_new_one(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, synthetic: Path
) -> None:
    window._on_open_review()
    assert window.review_panel is not None
    other = gallery_with(tmp_path / "other.sqlite3", "Bob", face_sample(synthetic))
    new = Engine.open(other, None)
    window.switch_gallery(new, other)
    assert window.review_panel is None  # its actions named faces into the old gallery
    assert new._watcher is not None  # other stations' changes to the new gallery reach the view

"""The gallery dialog (rename, delete a sample, delete a person, with confirmation) and photos dropped on the window."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from faceapp.engine import Engine
from faceapp.ui import flows
from faceapp.ui.gallery_dialog import GalleryDialog
from tests.fakes import dlib_like
from tests.ui.helpers import WindowFactory, answer_photo_dialog, answer_wrong_sample


def answer(monkeypatch: pytest.MonkeyPatch, yes: bool) -> None:
    """Make every confirmation question return Yes or No."""
    button = QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: button)


def obama_and_biden(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path
) -> tuple[Any, Engine, GalleryDialog]:
    """A window with Obama (two photos) and Biden (one) enrolled, its models loaded, and its gallery dialog open."""
    window = make_window(hamilton, dlib_like())
    engine = window.engine
    assert engine is not None
    engine.enroll("Obama", [examples / "obama/obama.jpg", examples / "obama/obama1.jpg"])
    engine.enroll("Biden", [examples / "biden/biden.jpg"])
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=15000)
    dialog = flows.gallery_dialog(window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.people.count() == 2, timeout=5000)  # loaded on the gallery runner
    return window, engine, dialog


def test_gallery_rename_and_deletions_ask_first_and_reach_the_live_view(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, engine, dialog = obama_and_biden(qtbot, make_window, hamilton, examples)
    assert dialog.people.item(1).text().startswith("Obama\n2 sample(s), spread d ")

    dialog.people.setCurrentRow(1)
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("Barack O'Bama", True))
    loads = dialog.loads
    dialog.buttons["rename"].click()
    qtbot.waitUntil(lambda: dialog.loads > loads, timeout=5000)
    person = engine.person("Barack O'Bama")

    dialog.people.setCurrentRow([dialog.people.item(i).text().split("\n")[0] for i in range(2)].index("Barack O'Bama"))
    qtbot.waitUntil(lambda: dialog.samples.count() == 2, timeout=5000)
    dialog.samples.setCurrentRow(0)
    asked: list[tuple[str, list[str], str]] = []
    answer_wrong_sample(monkeypatch, "Cancel", asked)
    dialog.buttons["delete_sample"].click()
    qtbot.wait(200)
    assert len(engine.samples_of(person.id)) == 2  # declined: nothing deleted
    answer_wrong_sample(monkeypatch, "Only remove", asked)
    dialog.buttons["delete_sample"].click()
    qtbot.waitUntil(lambda: len(engine.samples_of(person.id)) == 1, timeout=5000)
    assert engine.negatives_of(person.id) == []  # only removed
    answer(monkeypatch, yes=True)
    qtbot.waitUntil(lambda: dialog.person_id() == person.id and dialog.samples.count() == 1, timeout=5000)

    dialog.buttons["delete_person"].click()
    qtbot.waitUntil(lambda: [p.name for p in engine.people()] == ["Biden"], timeout=5000)
    qtbot.waitUntil(lambda: dialog.people.count() == 1, timeout=5000)
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.people_count == 1, timeout=5000)


def test_photos_dropped_on_the_window_enroll_a_person(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window(hamilton, dlib_like())
    engine = window.engine
    assert engine is not None
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=15000)
    answer_photo_dialog("Rose Leslie")
    data = QMimeData()
    data.setUrls(
        [
            QUrl.fromLocalFile(str(examples / "rose_leslie/img1.jpg")),
            QUrl.fromLocalFile(str(examples / "rose_leslie/img2.jpg")),
        ]
    )
    drop = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: [p.sample_count for p in engine.people()] == [2], timeout=20000)
    assert engine.people()[0].name == "Rose Leslie"
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.sample_count == 2, timeout=5000)


def test_photo_enrollment_skips_a_bad_photo_and_enrolls_the_rest(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path, tmp_path: Path
) -> None:
    from PIL import Image

    window = make_window(hamilton, dlib_like())
    engine = window.engine
    assert engine is not None
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=15000)
    thumb = tmp_path / "thumb.jpg"
    Image.open(examples / "rose_leslie/img2.jpg").resize((30, 30)).save(thumb)  # MTCNN raised ValueError here
    postscript = tmp_path / "photo.jpg"
    postscript.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\n")
    files = [str(thumb), str(postscript), str(examples / "rose_leslie/img1.jpg")]
    answer_photo_dialog(None)
    flows.enroll_photos(window, files, "Rose Leslie")
    qtbot.waitUntil(lambda: [p.sample_count for p in engine.people()] == [1], timeout=20000)
    qtbot.waitUntil(lambda: "2 skipped" in window.status.currentMessage(), timeout=5000)


def test_switching_model_reembeds_the_gallery_in_the_background(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path
) -> None:
    from faceapp import paths
    from faceapp.core import weights

    window = make_window(hamilton, dlib_like())
    engine = window.engine
    assert engine is not None
    engine.enroll("Obama", [examples / "obama/obama.jpg", examples / "obama/obama1.jpg"])
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=15000)
    # Only the file's presence matters here: the test's embedder factory never reads it.
    paths.models_dir().mkdir(parents=True, exist_ok=True)
    (paths.models_dir() / weights.spec("facenet-casia").filename).write_bytes(b"stand-in")
    flows.switch_model(window, "facenet-casia")
    qtbot.waitUntil(lambda: engine.stored_model == "facenet-casia", timeout=15000)
    assert engine.model == "facenet-casia"
    assert engine.embedding_models()["facenet-casia"] == 2
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.model == "facenet-casia", timeout=15000)


def test_the_gallery_dialog_exports_and_imports_an_archive(
    qtbot: QtBot,
    make_window: WindowFactory,
    hamilton: Path,
    examples: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from PySide6.QtWidgets import QFileDialog

    window, engine, dialog = obama_and_biden(qtbot, make_window, hamilton, examples)
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text: said.append(text))
    target = tmp_path / "backup.zip"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    dialog.buttons["export"].click()
    qtbot.waitUntil(lambda: bool(said), timeout=10000)
    assert said[-1] == "Exported to backup.zip: 2 people, 3 samples, 0 corrections."
    assert target.stat().st_size > 0

    engine.remove_person("Obama")
    qtbot.waitUntil(lambda: [p.name for p in window.people] == ["Biden"], timeout=5000)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(target), ""))
    dialog.buttons["import"].click()
    qtbot.waitUntil(lambda: len(said) == 2, timeout=10000)
    assert said[-1] == "Imported backup.zip: 1 person, 2 samples, 0 corrections."  # Biden is there already
    assert sorted((p.name, p.sample_count) for p in engine.people()) == [("Biden", 1), ("Obama", 2)]
    qtbot.waitUntil(lambda: "Obama" in {p.name for p in window.people}, timeout=5000)  # the live view has him

    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(broken), ""))
    dialog.buttons["import"].click()
    qtbot.waitUntil(lambda: "broken.zip" in dialog.error_label.text(), timeout=5000)
    assert not dialog.error_label.isHidden()
    assert "\n" not in dialog.error_label.text()  # one line
    assert len(said) == 2


def test_a_burst_of_gallery_changes_loads_the_gallery_once_not_once_per_change(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, engine, _ = obama_and_biden(qtbot, make_window, hamilton, examples)
    loads: list[str] = []
    real = window.runner.submit

    def counting(name: str, *args: object, **kwargs: object) -> object:
        if name == "load-gallery":
            loads.append(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(window.runner, "submit", counting)
    gate = threading.Event()
    window.runner.submit("hold", lambda task: gate.wait(10), lambda _: None, lambda _: None)  # the runner is busy
    for _ in range(20):  # what an import of 20 people announces
        engine.invalidate()
    qtbot.waitUntil(lambda: len(loads) >= 1, timeout=5000)
    qtbot.wait(300)  # every announcement has reached the window
    assert len(loads) == 1  # one queued load answers them all
    engine.rename("Biden", "Joe Biden")
    gate.set()
    qtbot.waitUntil(lambda: "Joe Biden" in {p.name for p in window.people}, timeout=5000)  # and nothing is missed

"""Issue 16 items 6-8: dialogs show their own errors; enroll from photos previews the face and pre-fills no one."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QLabel
from pytestqt.qtbot import QtBot

from faceapp.ui import flows
from faceapp.ui.photos_dialog import PhotoEnrollDialog
from tests.fakes import dlib_like
from tests.ui.helpers import WindowFactory, answer_photo_dialog


def test_enroll_from_photos_names_no_one_and_previews_the_face_with_a_note_that_stays(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path
) -> None:
    window = make_window(hamilton, dlib_like())
    engine = window.engine
    assert engine is not None
    engine.enroll("Barack Obama", [examples / "obama/obama.jpg"])
    qtbot.waitUntil(lambda: window.analyzer is not None and window.people_names() == ["Barack Obama"], timeout=20000)
    group = str(examples / "_multi_face/kit_with_rose.jpg")
    seen: list[PhotoEnrollDialog] = []
    state: dict[str, object] = {}

    answer_photo_dialog("Kit Harington", seen)  # types the name and presses Enter once the faces are found
    original = PhotoEnrollDialog._on_found

    def spy(self: PhotoEnrollDialog, found: list[object]) -> None:
        state["name_before"] = self.name.currentText()
        state["save_enabled_before"] = self.buttons.buttons()[0].isEnabled()
        original(self, found)  # type: ignore[arg-type]
        state["pixmaps"] = [
            label for label in self.findChildren(QLabel) if label.pixmap() and not label.pixmap().isNull()
        ]
        state["texts"] = [label.text() for label in self.findChildren(QLabel)]

    PhotoEnrollDialog._on_found = spy  # type: ignore[method-assign]
    try:
        flows.enroll_photos(window, [group, str(examples / "kit_harington/john1.jpeg")])
    finally:
        PhotoEnrollDialog._on_found = original  # type: ignore[method-assign]
    assert state["name_before"] == ""  # no existing person's name: Enter alone saves nothing
    assert state["save_enabled_before"] is False
    assert len(state["pixmaps"]) == 2  # type: ignore[arg-type]  # the face found in each photo
    assert any("2 faces found; used the largest" in t for t in state["texts"])  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "Kit Harington" in [p.name for p in engine.people()], timeout=20000)
    assert [p.sample_count for p in engine.people() if p.name == "Kit Harington"] == [2]
    assert "Enrolled Kit Harington: 2 photo(s) added" in window.status.currentMessage()


def test_gallery_dialog_errors_show_in_the_gallery_dialog(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path
) -> None:
    window = make_window(hamilton, dlib_like(), start=False)  # the models are not loaded
    engine = window.engine
    assert engine is not None
    engine.enroll("Barack Obama", [examples / "obama/obama.jpg"])
    dialog = flows.gallery_dialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.people.count() == 1, timeout=10000)
    dialog.buttons["add_photos"].click()
    assert "not loaded yet" in dialog.error_label.text()
    assert dialog.error_label.isVisible()
    assert not window.banner.isVisible()  # not behind the dialog


def test_an_empty_gallery_says_how_to_enroll_and_offers_add_photos(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path, examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window(hamilton, dlib_like())
    engine = window.engine
    assert engine is not None
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=20000)
    dialog = flows.gallery_dialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.loads >= 1, timeout=10000)
    assert dialog.hint.isVisible()
    assert "No one is enrolled yet" in dialog.hint.text()
    add = dialog.buttons["add_photos"]
    assert add.isEnabled()
    photo = str(examples / "biden/biden.jpg")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *args, **kwargs: ([photo], ""))
    answer_photo_dialog("Joe Biden")
    add.click()
    qtbot.waitUntil(lambda: dialog.people.count() == 1, timeout=20000)
    assert not dialog.hint.isVisible()

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


def test_a_corrupt_gallery_offers_another_file_and_recognition_starts_on_it(
    qtbot: QtBot, tmp_path: Path, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 item 8: the banner said "choose another file" with no way to; the model read "loading..." forever."""
    from faceapp.engine import Engine
    from faceapp.errors import FaceAppError
    from faceapp.settings import Settings
    from faceapp.ui.main_window import MainWindow
    from tests.ui.helpers import synthetic_detector

    bad = tmp_path / "broken.sqlite3"
    bad.write_bytes(b"this is not a database" * 50)
    with pytest.raises(FaceAppError) as raised:
        Engine.open(bad)
    window = MainWindow(
        None,
        Settings(source=str(synthetic)),
        live_detector=synthetic_detector(),  # type: ignore[arg-type]
        engine_error=f"The gallery {bad} cannot be opened: {raised.value}",
        persist_settings=False,
    )
    qtbot.addWidget(window)
    window.show()
    window.start()
    assert "loading" not in window.status.model_label.text()
    buttons = {b.text(): b for b in window.banner._buttons}
    assert {"Open another gallery...", "New gallery..."} <= set(buttons)
    real_open = Engine.open

    def open_with_fake(path: Path, model: str | None = None, **kw: object) -> Engine:
        return real_open(path, "dlib-resnet", embedder_factory=lambda name: dlib_like(), **kw)

    monkeypatch.setattr(Engine, "open", open_with_fake)
    fresh = tmp_path / "fresh.sqlite3"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(fresh), ""))
    buttons["New gallery..."].click()
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=20000)
    assert window.engine is not None
    assert window.settings.db_path == str(fresh.resolve())  # the start-up gallery from now on
    assert "dlib-resnet" in window.status.model_label.text()
    assert not window.banner.isVisible()
    window.close()


def test_a_file_opened_once_does_not_become_the_start_up_source(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 item 8: the next start opened the file (by a relative path) instead of the camera."""
    from faceapp.ui.settings_dialog import start_source

    window = make_window("0", dlib_like(), start=False)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(synthetic), ""))
    flows.choose_video_file(window)
    qtbot.waitUntil(lambda: window.view.painted >= 2, timeout=5000)
    assert window.settings.source == "0"
    monkeypatch.chdir(tmp_path)
    assert start_source("clip.mp4") == str(tmp_path / "clip.mp4")  # typed in Settings: saved absolute
    assert start_source(" 1 ") == "1"


def test_choosing_another_model_in_settings_shows_its_tau_says_what_to_do_and_download_errors_in_words(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 item 9: tau stayed at the old model's value; command lines in the GUI; a raw <urlopen error>."""
    from faceapp.core import weights
    from faceapp.core.catalog import spec as model_info
    from faceapp.errors import ModelError

    if weights.is_available("facenet-vggface2"):
        pytest.skip("facenet-vggface2 weights are on this machine")

    def offline(model: str, check: object, progress: object = None) -> Path:
        raise ModelError(f"Downloading {model} failed: <urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(weights, "download", offline)
    window = make_window(synthetic, dlib_like(), start=False)
    dialog = flows.settings_dialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.tau.value() == pytest.approx(model_info("dlib-resnet").default_threshold)
    dialog.model_box.setCurrentIndex(dialog.model_box.findData("facenet-vggface2"))
    assert dialog.tau.value() == pytest.approx(model_info("facenet-vggface2").default_threshold)
    assert dialog.reset.text() == f"Reset ({model_info('facenet-vggface2').default_threshold:.3f})"
    note = dialog.model_state.text()
    assert "Download weights" in note
    assert "`" not in note
    assert "faceapp models" not in note
    label = dialog.model_state
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=2000)  # not cut off
    dialog.tau.setValue(0.9)
    assert dialog.result_settings().thresholds == {"facenet-vggface2": 0.9}  # saved for the model it belongs to
    dialog.get_weights.click()
    qtbot.waitUntil(lambda: bool(dialog.error_label.text()), timeout=5000)
    assert "could not be reached (Temporary failure in name resolution)" in dialog.error_label.text()
    assert "<urlopen" not in dialog.error_label.text()
    assert not window.banner.isVisible()  # the error is in the dialog, not behind it
    dialog.reject()


def test_settings_keep_each_models_unsaved_tau_and_margin_across_model_switches(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    """Review of issue 16: switching the model box and back lost the tau just typed for the first model."""
    window = make_window(synthetic, dlib_like(), start=False)
    dialog = flows.settings_dialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tau.setValue(0.123)
    dialog.margin.setValue(7)
    dialog.model_box.setCurrentIndex(dialog.model_box.findData("sface"))
    assert dialog.tau.value() != pytest.approx(0.123)  # sface's own tau is shown
    dialog.tau.setValue(0.456)
    dialog.model_box.setCurrentIndex(dialog.model_box.findData("dlib-resnet"))
    assert dialog.tau.value() == pytest.approx(0.123)
    assert dialog.margin.value() == 7
    settings = dialog.result_settings()
    assert settings.thresholds == {"dlib-resnet": 0.123, "sface": 0.456}
    assert settings.margin_for("dlib-resnet", 0.0) == pytest.approx(0.07)
    dialog.reject()

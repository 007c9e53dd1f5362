"""Corrections driven as a user would: "Not <name>" from a live face's menu (right click, and the menu key), and
"Wrong sample" / "Remove correction" in the gallery dialog, with the samples' count, spread and one-sample hint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from faceapp.core.align import sample_crop
from faceapp.core.live import FrameResult
from faceapp.core.types import FaceSample
from faceapp.ui import flows
from faceapp.ui.main_window import MainWindow
from tests.fakes import dlib_like
from tests.ui.helpers import WindowFactory, answer_wrong_sample, synthetic_detector, wait_for_faces


def look_alike(window: MainWindow) -> FaceSample:
    """The synthetic face, slightly changed: near enough to be named, yet not the face itself."""
    result = window.view.result
    assert result is not None
    assert result.image is not None
    image = result.image.astype(np.float32)
    image[:, : image.shape[1] // 2] = image[:, : image.shape[1] // 2] * 0.9 + 12
    crop, moved = sample_crop(image.round().astype(np.uint8), result.faces[0].detection)
    return FaceSample(crop, moved, "look-alike")


def named_window(qtbot: QtBot, make_window: WindowFactory, synthetic: Path) -> tuple[MainWindow, int]:
    """A window whose live face is named "Ada" (enrolled from a look-alike of it)."""
    window = make_window(synthetic, dlib_like(), live=synthetic_detector())
    wait_for_faces(qtbot, window)
    engine = window.engine
    assert engine is not None
    ada = engine.enroll_samples("Ada", [look_alike(window)]).person
    # named in the latest result, and on the screen (a click acts on the boxes painted last)
    qtbot.waitUntil(lambda: labels(window) == ["Ada"] == drawn_labels(window), timeout=10000)
    return window, ada.id


def drawn_labels(window: MainWindow) -> list[str]:
    return [f.label(window.rule()) for f in window.view.drawn[1]]


def labels(window: MainWindow) -> list[str]:
    result = window.view.result
    return [] if result is None else [f.label(window.rule()) for f in result.faces]


def pick(action_text: str, chosen: list[str], tries: int = 200) -> None:
    """When the face menu is up: note its actions, then choose `action_text` with the keyboard (Down..., Return)."""

    def answer() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            if tries > 0:
                pick(action_text, chosen, tries - 1)
            return
        texts = [a.text() for a in menu.actions()]
        chosen.extend(texts)
        for _ in range(texts.index(action_text) + 1):
            QtBot.keyClick(menu, Qt.Key.Key_Down)
        QtBot.keyClick(menu, Qt.Key.Key_Return)

    QTimer.singleShot(20, answer)


def raw_results(window: MainWindow) -> list[FrameResult]:
    """The worker's own results from now on (before the view's override)."""
    seen: list[FrameResult] = []
    window.bridge.result_ready.connect(seen.append)
    return seen


def test_not_name_from_a_right_click_turns_the_label_unknown_at_once_and_is_remembered(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    window, ada = named_window(qtbot, make_window, synthetic)
    engine = window.engine
    assert engine is not None
    face = window.view.drawn[1][0]  # the box on the screen
    centre = window.view.box_rect(face).center().toPoint()
    chosen: list[str] = []
    pick("Not Ada", chosen)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, centre, window.view.mapToGlobal(centre))
    QApplication.sendEvent(window.view, event)  # a right click on the box

    assert chosen == ["Not Ada", "Enroll this face..."]
    assert labels(window) == ["Unknown"]  # at once, before the correction is even stored
    qtbot.waitUntil(lambda: len(engine.negatives_of(ada)) == 1, timeout=5000)
    [negative] = engine.negatives_of(ada)
    assert negative.sample.image.shape[:2] == (120, 160)  # the crop from the frame the box came from (clipped)
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.negative_count == 1, timeout=5000)
    seen = raw_results(window)
    # The worker itself refuses Ada now (its results, not only the view's override).
    qtbot.waitUntil(lambda: bool(seen) and seen[-1].faces and seen[-1].faces[0].name != "Ada", timeout=10000)
    assert labels(window) == ["Unknown"]
    assert "not Ada" in window.status.currentMessage()


def test_the_menu_key_opens_the_selected_faces_menu(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, ada = named_window(qtbot, make_window, synthetic)
    recorded: list[str | None] = []
    real: Callable[..., None] = flows.not_person
    monkeypatch.setattr(flows, "not_person", lambda w, face, *rest: (recorded.append(face.name), real(w, face, *rest)))
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Right)  # pick the face
    chosen: list[str] = []
    pick("Not Ada", chosen)
    qtbot.keyClick(window.view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    assert chosen[0] == "Not Ada"
    assert recorded == ["Ada"]
    assert labels(window) == ["Unknown"]
    engine = window.engine
    assert engine is not None
    qtbot.waitUntil(lambda: len(engine.negatives_of(ada)) == 1, timeout=5000)


def test_wrong_sample_and_remove_correction_in_the_gallery(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, ada = named_window(qtbot, make_window, synthetic)
    engine = window.engine
    assert engine is not None
    result = window.view.result
    assert result is not None
    assert result.image is not None
    crop, moved = sample_crop(result.image, result.faces[0].detection)
    engine.enroll_samples("Ada", [FaceSample(np.ascontiguousarray(crop[:, ::-1]), moved, "mirrored")])
    engine.add_negative(ada, FaceSample(crop, moved, "not her"))
    dialog = flows.gallery_dialog(window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.people.count() == 1 and dialog.negatives.count() == 1, timeout=5000)
    assert dialog.people.item(0).text().startswith("Ada\n2 sample(s), spread d ")
    assert not dialog.person_hint.isVisible()
    assert dialog.samples.count() == 2

    asked: list[tuple[str, list[str], str]] = []
    answer_wrong_sample(monkeypatch, "Only remove", asked)
    dialog.samples.setCurrentRow(1)
    assert dialog.buttons["delete_sample"].text() == "Wrong sample..."
    qtbot.mouseClick(dialog.buttons["delete_sample"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(engine.samples_of(ada)) == 1, timeout=5000)
    assert asked[0][0] == "This sample is not Ada?"
    assert [n.sample.source for n in engine.negatives_of(ada)] == ["not her"]  # only removed: nothing remembered
    assert [s.sample.source for s in engine.samples_of(ada)] == ["look-alike"]
    qtbot.waitUntil(lambda: dialog.people.item(0).text() == "Ada\n1 sample: add a few more", timeout=5000)
    dialog.show()
    qtbot.waitUntil(dialog.person_hint.isVisible, timeout=5000)
    assert "one sample recognizes less reliably" in dialog.person_hint.text()

    qtbot.waitUntil(lambda: dialog.negatives.count() == 1, timeout=5000)  # refilled after the write
    dialog.negatives.setCurrentRow(0)
    assert dialog.buttons["remove_negative"].isEnabled()
    qtbot.mouseClick(dialog.buttons["remove_negative"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.negatives_of(ada) == [], timeout=5000)
    qtbot.waitUntil(lambda: dialog.negatives.count() == 0, timeout=5000)
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.negative_count == 0, timeout=5000)


def test_wrong_sample_remembers_the_face_as_not_her_by_default(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, ada = named_window(qtbot, make_window, synthetic)
    engine = window.engine
    assert engine is not None
    result = window.view.result
    assert result is not None
    assert result.image is not None
    crop, moved = sample_crop(result.image, result.faces[0].detection)
    engine.enroll_samples("Ada", [FaceSample(np.ascontiguousarray(crop[:, ::-1]), moved, "mirrored")])
    [wrong, _] = engine.samples_of(ada)
    vector = engine.sample_embeddings(ada)[wrong.id]
    dialog = flows.gallery_dialog(window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.samples.count() == 2, timeout=5000)
    assert dialog.negatives.count() == 0

    asked: list[tuple[str, list[str], str]] = []
    answer_wrong_sample(monkeypatch, None, asked)
    no = QMessageBox.StandardButton.No  # a plain yes / no question would be the old one: declined, and noted
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: (asked.append(("question", [], "")), no)[1])
    dialog.samples.setCurrentRow(0)  # the look-alike: "not Ada" after all
    dialog.buttons["delete_sample"].setFocus()
    qtbot.keyClick(dialog.buttons["delete_sample"], Qt.Key.Key_Space)
    assert asked == [
        (
            "This sample is not Ada?",
            ["Cancel", "Only remove", "Remove and remember as not Ada"],
            "Remove and remember as not Ada",
        )
    ]
    qtbot.waitUntil(lambda: len(engine.negatives_of(ada)) == 1, timeout=5000)
    assert [s.sample.source for s in engine.samples_of(ada)] == ["mirrored"]
    assert [n.sample.source for n in engine.negatives_of(ada)] == ["look-alike"]
    qtbot.waitUntil(lambda: dialog.negatives.count() == 1 and dialog.samples.count() == 1, timeout=5000)
    assert dialog.negatives_title.text() == "Faces recorded as not Ada (corrections): 1"
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.negative_count == 1, timeout=5000)
    [match] = window.snapshot.identify(vector[None, :], window.rule())  # type: ignore[union-attr]
    assert match.refused  # that face is not named Ada again

    answer_wrong_sample(monkeypatch, "Cancel", asked)
    dialog.samples.setCurrentRow(0)
    qtbot.mouseClick(dialog.buttons["delete_sample"], Qt.MouseButton.LeftButton)
    assert len(asked) == 2
    assert [s.sample.source for s in engine.samples_of(ada)] == ["mirrored"]


def _live_result(claimed: int | None) -> FrameResult:
    from faceapp.core.live import FrameResult, LiveFace
    from tests.fakes import detection

    face = LiveFace(7, detection(10, 10, 60, 60), 1, "Ada", 0.05, 0.9, claimed_distance=0.05)
    return FrameResult(3, 0.0, (face,), {}, "dlib-resnet", claimed_id=claimed)


def test_a_not_x_override_only_bridges_the_wait_and_a_new_source_forgets_it(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of the corrections merge: the override outlived the correction and hit reused track numbers."""
    from faceapp.ui import video_view
    from faceapp.ui.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.show_result(_live_result(None))
    view.refuse(view.result.faces[0])  # type: ignore[union-attr]
    view.show_result(_live_result(None))
    assert view.result is not None
    assert view.result.faces[0].name is None
    later = video_view.time.monotonic() + video_view.REFUSAL_HOLD_S + 1
    monkeypatch.setattr(video_view.time, "monotonic", lambda: later)
    view.show_result(_live_result(None))  # the worker's own gallery decides again (a removed correction: named)
    assert view.result is not None
    assert view.result.faces[0].name == "Ada"
    monkeypatch.undo()
    view.refuse(view.result.faces[0])
    view.clear()
    view.show_result(_live_result(None))
    assert view.result is not None
    assert view.result.faces[0].name == "Ada"


def test_not_x_in_verify_mode_rejects_only_a_claim_of_x(qtbot: QtBot) -> None:
    from faceapp.ui.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.show_result(_live_result(claimed=2))  # verify mode claims someone else (person 2)
    view.refuse(view.result.faces[0])  # type: ignore[union-attr]
    assert view.result is not None
    assert view.result.faces[0].claimed_distance == pytest.approx(0.05)
    view.show_result(_live_result(claimed=1))  # a claim of Ada herself is refused
    assert view.result is not None
    assert view.result.faces[0].claimed_distance == float("inf")

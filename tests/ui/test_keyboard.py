"""Issue 16 item 5: a menu bar with standard shortcuts, Alt+letter, a tab order with a focus ring, faces by keyboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMenu, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from faceapp.ui import flows, menus
from faceapp.ui.main_window import MainWindow
from tests.fakes import dlib_like
from tests.ui.helpers import WindowFactory, synthetic_detector, wait_for_faces

CTRL = Qt.KeyboardModifier.ControlModifier


def active(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)


def test_menu_bar_lists_every_action_with_its_shortcut(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    window = make_window(synthetic, dlib_like(), start=False)
    menus_shown = [a.menu() for a in window.menuBar().actions()]
    assert [m.title() for m in menus_shown if isinstance(m, QMenu)] == ["&File", "&Gallery", "&View", "&Help"]
    shortcuts = {name: a.shortcut().toString() for name, a in window.actions_by_name.items()}
    assert shortcuts["source"] == "Ctrl+O"
    assert shortcuts["quit"] == "Ctrl+Q"
    assert shortcuts["settings"] == "Ctrl+,"
    assert shortcuts["help"] == "F1"
    assert shortcuts["fullscreen"] == "F11"
    without = [n for n, keys in shortcuts.items() if not keys and n not in ("data", "about")]
    assert without == []
    for menu in menus_shown:
        assert isinstance(menu, QMenu)
        for action in menu.actions():
            assert action.isSeparator() or "&" in action.text(), action.text()  # Alt+letter reaches each
    toolbar = [a for a in window.actions_by_name.values() if a.toolTip().endswith(")")]
    assert len(toolbar) >= 11  # the tooltips say the shortcut too


@pytest.mark.parametrize(
    ("key", "modifier", "target"),
    [
        (Qt.Key.Key_O, CTRL, "choose_video_file"),
        (Qt.Key.Key_Comma, CTRL, "open_settings"),
        (Qt.Key.Key_G, CTRL, "open_gallery"),
        (Qt.Key.Key_E, CTRL, "enroll_photos"),
    ],
)
def test_standard_shortcuts_open_their_dialogs(
    qtbot: QtBot,
    make_window: WindowFactory,
    synthetic: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: Qt.Key,
    modifier: Qt.KeyboardModifier,
    target: str,
) -> None:
    called: list[object] = []
    monkeypatch.setattr(flows, target, lambda *args: called.append(args))
    window = make_window(synthetic, dlib_like(), start=False)
    active(qtbot, window)
    qtbot.keyClick(window, key, modifier)
    assert len(called) == 1


def test_f1_help_f11_full_screen_and_ctrl_q_quits(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helped: list[QWidget] = []
    monkeypatch.setattr(menus, "show_help", helped.append)
    window = make_window(synthetic, dlib_like(), start=False)
    active(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert helped == [window]
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen, timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_Q, CTRL)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)


def test_alt_letter_opens_a_menu(qtbot: QtBot, make_window: WindowFactory, synthetic: Path) -> None:
    window = make_window(synthetic, dlib_like(), start=False)
    active(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=3000)
    popup = QApplication.activePopupWidget()
    assert isinstance(popup, QMenu)
    assert popup.title() == "&Help"
    popup.close()


def test_tab_reaches_every_toolbar_action_the_verify_switch_and_the_video(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    window = make_window(synthetic, dlib_like(), start=False)
    active(qtbot, window)
    window.view.setFocus()
    reached: list[QWidget | None] = []
    for _ in range(10):
        qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    actions = {w.defaultAction() for w in reached if isinstance(w, QToolButton)}
    names = ("enroll_photos", "gallery", "settings", "source")
    assert {window.actions_by_name[n] for n in names} <= actions
    assert window.verify.switch in reached
    assert window.view in reached
    window.verify.switch.setFocus()
    shot = window.verify.grab().toImage()  # the focus ring is drawn: a blue-ish border pixel
    blues = [
        shot.pixelColor(x, y)
        for x in range(shot.width())
        for y in range(shot.height())
        if shot.pixelColor(x, y).blue() > 180 and shot.pixelColor(x, y).red() < 90
    ]
    assert blues


def test_arrow_keys_pick_a_face_and_enter_enrolls_it(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []
    monkeypatch.setattr(flows, "enroll_face", lambda window, image, face: opened.append(face))
    window = make_window(synthetic, dlib_like(), live=synthetic_detector())
    wait_for_faces(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.view.drawn[1]), timeout=5000)
    active(qtbot, window)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Right)
    assert window.view.selected_track == window.view.drawn[1][0].track_id
    qtbot.keyClick(window.view, Qt.Key.Key_Return)
    assert len(opened) == 1
    qtbot.keyClick(window, Qt.Key.Key_Return, CTRL)  # Gallery > Enroll the selected face, from anywhere
    assert len(opened) == 2

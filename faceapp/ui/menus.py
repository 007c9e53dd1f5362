"""The main window's menu bar: File, Gallery, View and Help, with the platform's standard shortcuts, and Help's texts.

The window hands in its slots; this module only builds actions (shared with the toolbar) and shows the Help boxes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from faceapp import paths

StandardKey = QKeySequence.StandardKey


@dataclass(frozen=True)
class Entry:
    """One menu action: its name (the window's key for it), title with an &mnemonic, shortcut and slot."""

    name: str
    title: str
    slot: Callable[..., object]  # called with `checked` when it takes it
    standard: StandardKey | None = None
    fallback: str = ""  # used where the platform binds nothing to `standard` (Quit and Preferences on many)
    checkable: bool = False


def shortcuts(standard: StandardKey | None, fallback: str) -> list[QKeySequence]:
    """The platform's keys for `standard`, or `fallback` where it has none."""
    keys = QKeySequence.keyBindings(standard) if standard is not None else []
    return keys or ([QKeySequence(fallback)] if fallback else [])


def build_menus(window: QMainWindow, menus: list[tuple[str, list[Entry | None]]]) -> dict[str, QAction]:
    """Fill the window's menu bar (None in a menu: a separator); the actions by name, for the toolbar and tests."""
    actions: dict[str, QAction] = {}
    bar = window.menuBar()
    for title, entries in menus:
        menu = bar.addMenu(title)
        for entry in entries:
            if entry is None:
                menu.addSeparator()
                continue
            action = QAction(entry.title, window)
            action.setShortcuts(shortcuts(entry.standard, entry.fallback))
            action.setCheckable(entry.checkable)
            action.triggered.connect(entry.slot)
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            plain = entry.title.replace("&", "").rstrip(".")
            action.setToolTip(f"{plain} ({keys})" if keys else plain)
            menu.addAction(action)
            window.addAction(action)  # the shortcut works with the menu bar hidden (full screen) too
            actions[entry.name] = action
    return actions


HELP_TEXT = """<h3>Using faceapp</h3>
<p><b>Enroll</b> a person by clicking their face in the video (or select it with the arrow keys in the video and
press Enter), or from photos (Gallery &gt; Enroll from photos, or drop photos on the window). Several photos of
a person, from different angles and light, recognise them better than one.</p>
<p><b>Recognition</b> names a face when its distance d to someone enrolled is at most tau and the next person is
clearly farther (Settings shows the live distance). <b>Verify</b> (1:1) checks the faces in view against one
chosen person.</p>
<p><b>Limits</b>: recognition is a guess with error rates, not proof of identity. Twins, lookalikes, profile views,
poor light and faces under about 40 pixels are often wrong or Unknown. In a large gallery some strangers come
close to someone; the ambiguity margin leaves such faces Unknown. Boxes are drawn only while the video still shows
what recognition saw; with a slow computer they come and go.</p>
<p>Everything stays on this computer: photos, face samples and embeddings are stored only in the gallery file
(Help &gt; Where the data lives). Deleting a person deletes their samples and embeddings.</p>"""


def show_help(parent: QWidget) -> None:
    """Help > Help: how to use the app and what it cannot do."""
    box = QMessageBox(QMessageBox.Icon.Information, "faceapp help", HELP_TEXT, QMessageBox.StandardButton.Ok, parent)
    box.exec()


def data_locations(gallery: Path | None, settings: Path, log: Path) -> str:
    """Where faceapp keeps the user's files, as the Help box shows it."""
    return "\n".join(
        [
            f"Gallery (people, face samples, embeddings): {gallery if gallery is not None else 'not open'}",
            f"Settings: {settings}",
            f"Imported model weights: {paths.models_dir()}",
            f"Log: {log}",
            "",
            "Nothing leaves this computer. Back the gallery up by copying its file while faceapp is closed.",
        ]
    )


def show_data_locations(parent: QWidget, gallery: Path | None) -> None:
    """Help > Where the data lives."""
    from faceapp import settings as settings_io

    text = data_locations(gallery, settings_io.settings_path(), paths.log_path())
    box = QMessageBox(QMessageBox.Icon.Information, "Where the data lives", text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("data-locations")
    box.exec()


def show_about(parent: QWidget) -> None:
    """Help > About faceapp."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("faceapp")
    except PackageNotFoundError:
        release = "development copy"
    QMessageBox.about(
        parent,
        "About faceapp",
        f"faceapp {release}\n\nEnrolls people and recognises them live from a camera or a video file, "
        "entirely on this computer (MTCNN or YuNet detection; dlib ResNet, SFace or FaceNet embeddings).",
    )

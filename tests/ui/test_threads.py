"""Who runs what: no inference and no gallery write on the GUI thread, and the engine as the only writer.

The fakes record their thread (napari's habit): the embedder every embed_chips call, the repository every write with
the module that called it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from faceapp import paths
from faceapp.core import weights
from faceapp.ui import flows
from faceapp.ui.guided_dialog import GuidedDialog
from faceapp.ui.main_window import MainWindow
from tests.fakes import dlib_like
from tests.spies import SpyRepository
from tests.ui.helpers import WindowFactory, answer_wrong_sample, synthetic_detector, wait_for_faces


def spy_of(window: MainWindow) -> SpyRepository:
    return window.repo_spy  # type: ignore[attr-defined,no-any-return]


def click_to_enroll(qtbot: QtBot, window: MainWindow, name: str) -> None:
    wait_for_faces(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.view.drawn[1]), timeout=5000)  # a box on the screen, to click
    face = window.view.drawn[1][0]

    def fill_in(tries: int = 200) -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, GuidedDialog) or not dialog.samples:  # the guided capture takes its first sample
            if tries > 0:
                QTimer.singleShot(25, lambda: fill_in(tries - 1))
            return
        dialog.name.setCurrentText(name)
        dialog.buttons.accepted.emit()  # saving stops the capture: one sample (the synthetic face never moves)

    QTimer.singleShot(50, fill_in)
    centre = window.view.box_rect(face).center()
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=QPoint(int(centre.x()), int(centre.y())))


def test_enrollment_and_model_switch_run_no_inference_and_no_write_on_the_gui_thread(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    fake = dlib_like()
    window = make_window(synthetic, fake, live=synthetic_detector())
    assert window.engine is not None
    spy, gui = spy_of(window), threading.current_thread()
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=10000)
    calls, writes = len(fake.threads), len(spy.writes)

    click_to_enroll(qtbot, window, "Someone")
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.sample_count == 1, timeout=5000)
    assert [p.name for p in window.people] == ["Someone"]
    paths.models_dir().mkdir(parents=True, exist_ok=True)  # only the file's presence matters to the fake factory
    (paths.models_dir() / weights.spec("facenet-casia").filename).write_bytes(b"stand-in")
    flows.switch_model(window, "facenet-casia")
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.model == "facenet-casia", timeout=10000)

    runner = window.runner.worker_thread
    mine = spy.writes[writes:]
    assert [name for name, _, _ in mine] == ["enroll", "store_embeddings", "set_model"]
    assert all(thread is runner for _, _, thread in mine)  # not the GUI thread: the gallery runner
    assert {caller for _, caller, _ in mine} == {"faceapp.engine"}
    embedded = fake.threads[calls:]
    assert runner in embedded  # the enrollment's and the switch's chips
    assert gui not in embedded  # live recognition runs on the worker, the rest on the runner
    live = {"faceapp-recognition", "faceapp-embed"}  # the live pipeline's tracking thread and embedding stage
    # ... and guided enrollment's capture on its own thread
    assert {t.name for t in embedded} <= {"faceapp-gallery", "faceapp-load-models", "faceapp-guided", *live}


def test_the_gallery_dialog_and_the_live_view_write_only_through_the_engine(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window(synthetic, dlib_like(), live=synthetic_detector())
    spy, gui = spy_of(window), threading.current_thread()
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=10000)
    writes = len(spy.writes)
    click_to_enroll(qtbot, window, "Someone")
    qtbot.waitUntil(lambda: len(window.people) == 1, timeout=5000)
    dialog = flows.gallery_dialog(window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.samples.count() == 1, timeout=5000)
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("Someone Else", True))
    loads = dialog.loads
    dialog.buttons["rename"].click()
    qtbot.waitUntil(lambda: [p.name for p in window.people] == ["Someone Else"], timeout=5000)
    qtbot.waitUntil(lambda: dialog.loads > loads and dialog.samples.count() == 1, timeout=5000)  # reloaded
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    answer_wrong_sample(monkeypatch, None, [])  # the default: remembered as not them
    dialog.samples.setCurrentRow(0)
    dialog.buttons["delete_sample"].click()
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.sample_count == 0, timeout=5000)
    assert window.snapshot.negative_count == 1
    dialog.buttons["delete_person"].click()
    qtbot.waitUntil(lambda: window.people == [], timeout=5000)  # each change reached the live view by itself
    qtbot.waitUntil(lambda: window.snapshot is not None and window.snapshot.negative_count == 0, timeout=5000)
    mine = spy.writes[writes:]
    assert [name for name, _, _ in mine] == ["enroll", "rename_person", "sample_to_negative", "remove_person"]
    assert {caller for _, caller, _ in mine} == {"faceapp.engine"}
    assert all(thread is not gui for _, _, thread in mine)


def test_the_app_waits_for_a_recognition_thread_still_busy_after_close() -> None:
    """Issue 8's 30-minute soak aborted at close: the interpreter exited under a worker still inside a frame."""
    import threading
    import time

    from faceapp.ui.session import finish_threads

    busy = threading.Thread(target=time.sleep, args=(0.5,), name="faceapp-recognition", daemon=True)
    other = threading.Thread(target=time.sleep, args=(5.0,), name="faceapp-gallery", daemon=True)
    busy.start()
    other.start()
    start = time.monotonic()
    assert finish_threads(timeout=3.0) == []
    assert not busy.is_alive()  # joined, not abandoned
    assert time.monotonic() - start < 2.0  # the gallery runner is not waited for: it ends with the engine

"""Enroll from photos: one odd photo is noted and skipped, the search reports progress and Cancel stops it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from faceapp.core.types import Detection
from faceapp.errors import ModelError, NoFaceError
from faceapp.ui import flows
from faceapp.ui.photos_dialog import PhotoEnrollDialog

FACE = Detection((20.0, 20.0, 80.0, 80.0), 0.99, np.array([[35, 40], [65, 40], [50, 55], [38, 68], [62, 68]], float))


class _Engine:
    """one_detection as the engine's: a face in 'good*', no face in 'none*', a decoder bug in 'odd*'."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.seen: list[str] = []
        self.fail_with = fail_with

    def one_detection(self, path: str, what: str) -> tuple[np.ndarray, Detection, str | None]:
        self.seen.append(path)
        if self.fail_with is not None:
            raise self.fail_with
        if path.startswith("none"):
            raise NoFaceError(f"{path}: no face found to {what}.")
        if path.startswith("odd"):
            raise ZeroDivisionError("a decoder bug")
        return np.zeros((100, 100, 3), np.uint8), FACE, None


class _Task:
    def __init__(self, cancel_after: int | None = None) -> None:
        self.reports: list[tuple[int, int]] = []
        self.cancel_after = cancel_after

    @property
    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.reports) >= self.cancel_after

    def report(self, done: int, total: int) -> None:
        self.reports.append((done, total))


def test_one_photo_failing_in_an_unforeseen_way_is_noted_and_the_others_are_found() -> None:
    engine = _Engine()
    task = _Task()
    found = flows.photo_faces(engine, ["good1.jpg", "odd.jpg", "none.jpg", "good2.jpg"], task)  # type: ignore[arg-type]
    assert [f.path for f in found] == ["good1.jpg", "odd.jpg", "none.jpg", "good2.jpg"]
    assert [f.sample is not None for f in found] == [True, False, False, True]
    assert "could not be processed (ZeroDivisionError: a decoder bug)" in found[1].note
    assert found[2].note == "no face found to enroll."
    assert task.reports == [(0, 4), (1, 4), (2, 4), (3, 4)]


def test_missing_weights_stop_the_search_instead_of_being_blamed_on_each_photo() -> None:
    engine = _Engine(fail_with=ModelError("the dlib-resnet weights are not installed"))
    with pytest.raises(ModelError):
        flows.photo_faces(engine, ["good1.jpg", "good2.jpg"])  # type: ignore[arg-type]
    assert engine.seen == ["good1.jpg"]


def test_a_cancelled_search_stops_before_the_next_photo() -> None:
    engine = _Engine()
    found = flows.photo_faces(engine, [f"good{i}.jpg" for i in range(10)], _Task(cancel_after=3))  # type: ignore[arg-type]
    assert engine.seen == ["good0.jpg", "good1.jpg", "good2.jpg"]
    assert len(found) == 3


def test_cancel_in_the_dialog_cancels_a_search_still_running_and_progress_is_shown(qtbot: QtBot) -> None:
    calls: dict[str, Any] = {"cancelled": 0}

    def find(done: Any, failed: Any, progress: Any) -> Any:
        calls["progress"] = progress

        def cancel() -> None:
            calls["cancelled"] += 1

        return cancel

    dialog = PhotoEnrollDialog(40, [], find, lambda *a: None)
    qtbot.addWidget(dialog)
    calls["progress"](6, 40)
    assert "photo 7 of 40" in dialog.status.text()
    dialog.reject()
    assert calls["cancelled"] == 1
    assert dialog.result() == PhotoEnrollDialog.DialogCode.Rejected


def test_cancel_after_the_search_has_finished_cancels_nothing(qtbot: QtBot) -> None:
    calls: dict[str, Any] = {"cancelled": 0}

    def find(done: Any, failed: Any, progress: Any) -> Any:
        calls["done"] = done
        return lambda: calls.__setitem__("cancelled", calls["cancelled"] + 1)

    dialog = PhotoEnrollDialog(1, [], find, lambda *a: None)
    qtbot.addWidget(dialog)
    calls["done"]([])
    dialog.reject()
    assert calls["cancelled"] == 0

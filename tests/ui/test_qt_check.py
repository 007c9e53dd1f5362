"""The start-up check of PySide6's painting: silent on a good install, a clear warning when references leak."""

from __future__ import annotations

import ctypes
import sys

import pytest
from pytestqt.qtbot import QtBot

from faceapp.ui.qt_check import CALLS, FIX, none_drift, painting_problem


def test_the_installed_pyside6_passes_the_check(qtbot: QtBot) -> None:
    assert painting_problem() is None


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal on Python 3.12+: nothing can leak")
def test_a_painter_that_drops_references_to_none_is_reported() -> None:
    dropped = 0

    def leaking_paint() -> None:  # what PySide6 6.12.0's drawImage(QRectF, ...) does to None, once per call
        nonlocal dropped
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(None))
        dropped += 1

    try:
        assert none_drift(leaking_paint) == -CALLS
        dropped_before = dropped
        message = painting_problem(leaking_paint)
    finally:
        for _ in range(dropped):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))  # give back what the fake took
    assert dropped == dropped_before + 2 * (CALLS + 1)  # two rounds, each with its first call
    assert message is not None
    assert FIX in message
    assert "\n" not in message


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal on Python 3.12+: nothing can leak")
def test_a_one_off_release_of_references_is_not_taken_for_a_leak() -> None:
    calls = 0
    hoard = [None] * 5000

    def paint_once() -> None:  # frees 5,000 references to None once, in the middle of the first round
        nonlocal calls
        calls += 1
        if calls == 30:
            hoard.clear()

    assert painting_problem(paint_once) is None

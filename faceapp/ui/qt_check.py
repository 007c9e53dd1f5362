"""A start-up check of the installed PySide6: painting must not drop references to None (issue 8).

PySide6 6.12.0 drops one reference to None on each QPainter call taking a QRectF or QPen; on Python 3.11, where None
is not immortal, the process aborts ("none_dealloc") after a few minutes of live video. pyproject.toml pins a good
range; this check catches an environment that installed around the pin, before the user loses a session to it.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

import PySide6

CALLS = 64
FIX = 'pip install "PySide6-Essentials>=6.9,<6.12"'


def none_drift(paint_once: Callable[[], None], calls: int = CALLS) -> int:
    """How far None's reference count moved over `calls` calls of `paint_once` (0 when it is immortal)."""
    paint_once()  # first calls may fill caches
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(calls):
        paint_once()
    gc.collect()
    return sys.getrefcount(None) - before


def _paint_calls() -> Callable[[], None]:
    """One round of the QPainter calls the live view makes, on an offscreen image. GUI thread, QApplication alive."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter, QPen

    target = QImage(64, 48, QImage.Format.Format_RGB888)
    frame = QImage(32, 24, QImage.Format.Format_RGB888)
    rect, colour, pen = QRectF(0, 0, 32, 24), QColor(40, 200, 90), QPen(QColor(40, 200, 90), 2.5)

    def paint_once() -> None:
        painter = QPainter(target)
        painter.drawImage(rect, frame)
        painter.fillRect(rect, colour)
        painter.setPen(pen)
        painter.drawRect(rect)
        painter.end()

    return paint_once


def painting_problem(paint_once: Callable[[], None] | None = None) -> str | None:
    """A one-line warning when painting drops references to None here, else None (also on Python 3.12+).

    A leak drops references on every round, so both of two rounds must lose at least one per frame: a one-off
    release of references (a cache or garbage freed meanwhile; seen in a long test session) is not a leak.
    """
    paint = paint_once or _paint_calls()
    drifts = [none_drift(paint) for _ in range(2)]
    if max(drifts) > -CALLS:
        return None
    drift = max(drifts)
    return (
        f"PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} drops references while painting "
        f"({-drift} over {CALLS} frames): faceapp would crash after a few minutes of video. Install a working "
        f"release: {FIX}"
    )

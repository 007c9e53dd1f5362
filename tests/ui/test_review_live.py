"""Issue 13: the live view's Unknown tracks reach the "Who is this?" store when they end (the sink is wired)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from tests.fakes import dlib_like
from tests.ui.helpers import WindowFactory


def test_unknown_faces_seen_live_are_grouped_for_review(
    qtbot: QtBot, make_window: WindowFactory, hamilton: Path
) -> None:
    window = make_window(hamilton, dlib_like())  # nobody enrolled: every face stays Unknown
    qtbot.waitUntil(lambda: window.analyzer is not None, timeout=30000)
    qtbot.waitUntil(lambda: bool(window.review.groups()), timeout=90000)  # tracks end at the clip's cuts
    group = window.review.groups()[0]
    assert group.times_seen >= 1
    assert group.samples  # crops the user can name the group with
    assert all(s.image.ndim == 3 for s in group.samples)

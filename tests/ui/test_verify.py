"""Verify mode shows the worker's verdict: no matching in paint, no guard comparing embedding widths."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.types import Person
from faceapp.ui.verify_panel import VerifyPanel
from tests.fakes import detection


def result(model: str, claimed_id: int | None, claimed_distance: float) -> FrameResult:
    face = LiveFace(1, detection(0, 0, 50, 50), 7, "Ada", 0.1, 0.9, claimed_distance)
    return FrameResult(3, 0.1, (face,), {}, model, claimed_id)


def test_the_verdict_is_the_results_own_for_the_current_claim(qtbot: QtBot) -> None:
    panel = VerifyPanel()
    qtbot.addWidget(panel)
    panel.set_people([Person(7, "Ada", 1), Person(8, "Bob", 1)])
    panel.switch.setChecked(True)
    panel.threshold = 0.5
    # A 512-d FaceNet (CASIA) frame while the gallery is FaceNet (VGGFace2): the old guard compared widths, found
    # them equal and matched one model's embedding against the other's gallery in paintEvent.
    accepted = result("facenet-casia", 7, 0.2)
    panel.update_verdict(accepted)
    assert panel.label(accepted.faces[0])[0] == "ACCEPT  0.20"
    assert panel.verdict.text().startswith("ACCEPT  d = 0.200")
    panel.people.setCurrentIndex(1)  # now claiming Bob: the latest result measured Ada
    assert panel.label(accepted.faces[0])[0] == "REJECT  --"  # no verdict until a result for Bob comes
    bob = result("facenet-casia", 8, 0.7)
    panel.update_verdict(bob)
    assert panel.label(bob.faces[0])[0] == "REJECT  0.70"


def test_deleting_the_claimed_person_tells_the_window_to_claim_the_one_shown_now(qtbot: QtBot) -> None:
    panel = VerifyPanel()
    qtbot.addWidget(panel)
    panel.set_people([Person(1, "Alice"), Person(2, "Bob")])
    panel.switch.setChecked(True)
    panel.people.setCurrentIndex(1)
    assert panel.claimed_id() == 2
    with qtbot.waitSignal(panel.mode_changed, timeout=1000):  # else the worker keeps measuring Bob, who is gone
        panel.set_people([Person(1, "Alice")])
    assert panel.claimed_id() == 1

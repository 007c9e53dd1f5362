"""Who is this? The panel driven as a user would: name a group, merge two, forget one, by mouse and by keyboard."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from faceapp.core import review
from faceapp.core.evidence import TrackSummary
from faceapp.core.review import Retention, ReviewStore
from faceapp.engine import Engine
from faceapp.storage import GalleryRepository
from faceapp.ui import gallery_files
from faceapp.ui.bridge import GalleryRunner
from faceapp.ui.review_panel import CONSENT, ReviewPanel, runner_actions
from tests.fakes import FakeDetector, dlib_like
from tests.storage.storage_fakes import count_rows, make_sample
from tests.ui.helpers import WindowFactory, synthetic_detector

NOW = time.time() - 3600


def direction(who: int) -> np.ndarray:
    v = np.random.default_rng(who).normal(size=128)
    return v / np.linalg.norm(v)


def track(track_id: int, who: int, seen: float = 0.0) -> TrackSummary:
    """An Unknown track of person `who`: two frames near their direction, two crops."""
    rng = np.random.default_rng(track_id)
    frames = [direction(who) + rng.normal(scale=0.01, size=128) for _ in range(2)]
    vectors = np.stack([f / np.linalg.norm(f) for f in frames]).astype(np.float32)
    samples = (make_sample(10 * track_id, 120, 100), make_sample(10 * track_id + 1, 120, 100))
    return TrackSummary(track_id, NOW + seen, NOW + seen + 2, None, "dlib-resnet", vectors, samples, (0.9, 0.5))


@pytest.fixture
def setup(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ReviewPanel, ReviewStore, Engine, Path, GalleryRunner]]:
    monkeypatch.setattr(review, "FOLD_FACTOR", 0.0, raising=False)  # each track its own candidate, as listed below
    db = tmp_path / "gallery.sqlite3"
    engine = Engine(
        GalleryRepository(db), "dlib-resnet", detector=FakeDetector([]), embedder_factory=lambda n: dlib_like()
    )
    engine.enroll_samples("Bob", [make_sample(999, 120, 100)])
    store = ReviewStore(Retention("days", 30), engine.review_backend())
    for track_id, (who, seen) in enumerate([(1, 10.0), (1, 20.0), (2, 30.0), (3, 40.0), (4, 50.0)], start=1):
        store.add_track(track(track_id, who, seen))
    store.flush()  # as the window's upkeep does: stored for N days
    runner = GalleryRunner()
    panel = ReviewPanel(runner_actions(runner, engine, store), lambda: ["Bob"], store.retention, engine.model)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.list.count() == 4, timeout=5000)
    yield panel, store, engine, db, runner
    runner.stop()
    runner.join(5)
    engine.close()


def row_of(panel: ReviewPanel, times: str) -> int:
    texts = [panel.list.item(i).text() for i in range(panel.list.count())]
    return next(i for i, t in enumerate(texts) if t.startswith(times))


def answer(qtbot: QtBot, panel: ReviewPanel, text: str | None = None, pick: int | None = None) -> None:
    """Type into (or pick from) the open Name/Merge question and press Enter, as a user would."""
    qtbot.waitUntil(lambda: panel.dialog is not None and panel.dialog.isVisible(), timeout=3000)
    dialog = panel.dialog
    assert dialog is not None
    if text is not None:
        qtbot.keyClicks(dialog.combo.lineEdit(), text)
    if pick is not None:
        dialog.combo.setFocus()
        for _ in range(pick):
            qtbot.keyClick(dialog.combo, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.combo, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=3000)


def test_the_panel_says_what_these_faces_are_and_shows_the_groups(setup: tuple) -> None:
    panel, _store, *_ = setup
    assert "not agreed to be enrolled" in CONSENT
    assert "nothing leaves it" in CONSENT
    assert panel.findChild(type(panel.retention), "consent").text() == CONSENT
    assert "30 days in the gallery file" in panel.retention.text()
    texts = sorted(panel.list.item(i).text().split(",")[0] for i in range(4))
    assert texts == ["Seen 2 times", "Seen once", "Seen once", "Seen once"]
    assert not panel.list.item(0).icon().isNull()  # the thumbnails strip


def test_name_a_group_by_keyboard_and_it_is_enrolled_with_its_crops(qtbot: QtBot, setup: tuple) -> None:
    panel, _store, engine, db, _ = setup
    panel.list.setFocus()
    panel.list.setCurrentRow(0)
    for _ in range(row_of(panel, "Seen 2 times")):
        qtbot.keyClick(panel.list, Qt.Key.Key_Down)
    qtbot.keyClick(panel.list, Qt.Key.Key_Return)  # Enter names the group under the cursor
    answer(qtbot, panel, text="Ada Lovelace")
    qtbot.waitUntil(lambda: any(p.name == "Ada Lovelace" for p in engine.people()), timeout=5000)
    ada = engine.person("Ada Lovelace")
    assert ada.sample_count == 4  # the two tracks' two best crops each
    qtbot.waitUntil(lambda: panel.list.count() == 3, timeout=5000)
    assert "Ada Lovelace: 4 sample(s) added" in panel.status.text()
    assert count_rows(db, "review_candidates") == 3  # the named tracks left the review


def test_name_into_an_existing_person_merge_and_forget_by_mouse(qtbot: QtBot, setup: tuple) -> None:
    panel, store, engine, db, _ = setup
    panel.list.setCurrentRow(row_of(panel, "Seen once"))
    qtbot.mouseClick(panel.name_button, Qt.MouseButton.LeftButton)
    answer(qtbot, panel, text="bob")  # an existing person, regardless of case
    qtbot.waitUntil(lambda: engine.person("Bob").sample_count == 3, timeout=5000)
    qtbot.waitUntil(lambda: panel.list.count() == 3, timeout=5000)

    panel.list.setCurrentRow(row_of(panel, "Seen once"))
    qtbot.mouseClick(panel.merge_button, Qt.MouseButton.LeftButton)
    answer(qtbot, panel, pick=0)
    qtbot.waitUntil(lambda: panel.list.count() == 2, timeout=5000)
    assert "Merged: one group seen 2 times" in panel.status.text()
    assert len(store.groups()) == 2

    assert count_rows(db, "review_candidates") == 4
    panel.list.setCurrentRow(1)
    panel.list.setFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)  # Forget, by keyboard: a group of two tracks
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=5000)
    assert count_rows(db, "review_candidates") == 2
    assert count_rows(db, "review_crops") == 4
    assert len(store) == 2
    qtbot.mouseClick(panel.forget_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.list.count() == 0, timeout=5000)
    assert count_rows(db, "review_candidates") == count_rows(db, "review_crops") == 0
    assert panel.empty.isVisible()
    assert not panel.forget_button.isEnabled()


def test_forget_takes_only_the_faces_shown_even_if_the_group_grew_meanwhile(qtbot: QtBot, setup: tuple) -> None:
    """Groups are computed again as tracks come: the button acts on the faces the user saw, not on the group id."""
    panel, store, _engine, db, _ = setup
    panel.list.setCurrentRow(row_of(panel, "Seen 2 times"))
    shown = panel.selected()
    assert shown is not None
    assert shown.times_seen == 2
    store.add_track(track(50, who=1, seen=55.0))  # the same person again, before the panel polls: group grows to 3
    assert any(g.id == shown.id and g.times_seen == 3 for g in store.groups())
    qtbot.mouseClick(panel.forget_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Forgotten: 2 appearance(s)" in panel.status.text(), timeout=5000)
    assert [g.times_seen for g in store.groups() if g.last_seen == NOW + 57.0] == [1]  # the new track stays
    assert count_rows(db, "review_candidates") == 3


def test_naming_faces_that_went_meanwhile_is_refused_in_one_line(qtbot: QtBot, setup: tuple) -> None:
    panel, store, engine, *_ = setup
    panel.list.setCurrentRow(row_of(panel, "Seen 2 times"))
    shown = panel.selected()
    assert shown is not None
    store.forget(shown.ids[:1])  # e.g. forgotten from the CLI, or expired, while the panel showed it
    qtbot.keyClick(panel.list, Qt.Key.Key_Return)
    answer(qtbot, panel, text="Grace Hopper")
    qtbot.waitUntil(lambda: "no longer kept" in panel.status.text(), timeout=5000)
    assert "\n" not in panel.status.text()
    assert all(p.name != "Grace Hopper" for p in engine.people())


def test_faces_seen_before_a_gallery_was_open_move_into_it(
    qtbot: QtBot, tmp_path: Path, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a gallery (none was open) used to drop the unknown faces kept so far; now they are written there."""
    from faceapp.settings import Settings
    from faceapp.ui.main_window import MainWindow
    from tests.ui.helpers import synthetic_detector

    window = MainWindow(
        None,
        Settings(source=str(synthetic), review_retention="days", review_days=7),
        live_detector=synthetic_detector(),  # type: ignore[arg-type]
        persist_settings=False,
    )
    qtbot.addWidget(window)
    try:
        window.review.add_track(track(1, who=1))
        real_open = Engine.open

        def open_with_fake(path: Path, model: str | None = None, **kw: object) -> Engine:
            return real_open(path, "dlib-resnet", embedder_factory=lambda name: dlib_like(), **kw)

        monkeypatch.setattr(Engine, "open", open_with_fake)
        fresh = tmp_path / "fresh.sqlite3"
        gallery_files.open_gallery_file(window, fresh)
        qtbot.waitUntil(lambda: window.engine is not None, timeout=20000)
        assert len(window.review) == 1
        window.review.add_track(track(2, who=2))
        window._review_upkeep()
        qtbot.waitUntil(lambda: count_rows(fresh, "review_candidates") == 2, timeout=10000)
    finally:
        window.close()


def test_new_tracks_appear_while_the_panel_is_open(qtbot: QtBot, setup: tuple) -> None:
    panel, store, *_ = setup
    feeder = threading.Thread(target=store.add_track, args=(track(99, who=7, seen=60.0),))  # a worker thread
    feeder.start()
    feeder.join()
    qtbot.waitUntil(lambda: panel.list.count() == 5, timeout=5000)


def test_the_window_has_the_menu_item_and_hands_the_workers_the_sink(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    window = make_window(synthetic, dlib_like(), live=synthetic_detector())
    action = window.actions_by_name["review"]
    assert action.text() == "Who &is this?..."
    assert action.shortcut().toString() == "Ctrl+U"
    assert window.session.track_sink == window.review.add_track
    window.activateWindow()
    action.trigger()
    panel = window.review_panel
    assert panel is not None
    qtbot.waitUntil(panel.isVisible, timeout=3000)
    window.review.add_track(track(1, who=1))
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=5000)


def test_retention_is_chosen_in_settings_and_off_forgets_at_once(
    qtbot: QtBot, make_window: WindowFactory, synthetic: Path
) -> None:
    from faceapp.ui import flows

    window = make_window(synthetic, dlib_like(), live=synthetic_detector())
    assert window.review.retention == Retention("session")  # the default
    window.review.add_track(track(1, who=1))
    dialog = flows.settings_dialog(window)
    qtbot.addWidget(dialog)
    assert dialog.review_keep.currentData() == "session"
    assert not dialog.review_days.isEnabled()
    dialog.review_keep.setCurrentIndex(dialog.review_keep.findData("days"))
    assert dialog.review_days.isEnabled()
    dialog.review_days.setValue(14)
    chosen = dialog.result_settings()
    assert (chosen.review_retention, chosen.review_days) == ("days", 14)
    window.apply_settings(chosen)
    assert window.review.retention == Retention("days", 14)
    assert len(window.review) == 1
    dialog.review_keep.setCurrentIndex(dialog.review_keep.findData("off"))
    window.apply_settings(dialog.result_settings())
    assert len(window.review) == 0

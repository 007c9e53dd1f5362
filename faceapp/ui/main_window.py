"""The main window: live view, status bar, banner, verification panel, and the menus that open the dialogs."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar, QVBoxLayout, QWidget

from faceapp import settings as settings_io
from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.detectors import create_detector
from faceapp.core.live import FrameResult, LiveFace
from faceapp.core.matching import GallerySnapshot
from faceapp.core.memory import page_out_gpu_libraries
from faceapp.core.review import Retention, ReviewStore
from faceapp.core.types import MatchRule, Person
from faceapp.core.video import Frame, SourceEvent, SourceStatus
from faceapp.engine import Engine, GalleryChange
from faceapp.errors import CameraError, FaceAppError
from faceapp.settings import Settings
from faceapp.ui import flows, gallery_files, menus
from faceapp.ui.bridge import BackgroundTask, GalleryRunner, PipelineBridge, user_message
from faceapp.ui.menus import Entry, build_menus
from faceapp.ui.review_panel import ReviewPanel, runner_actions
from faceapp.ui.session import LiveSession
from faceapp.ui.verify_panel import VerifyPanel
from faceapp.ui.video_view import VideoView
from faceapp.ui.widgets import LiveStatusBar, MessageBanner

# Gallery writes that closing the window lets finish (a model switch is cancelled at its next chunk instead), and how
# long closing waits for the gallery runner to commit them.
# Gallery writes that closing the window lets finish (a model switch is cancelled: it stops between chunks).
# Gallery writes that closing waits for (the user was told they happen): enrollments, edits, and the review's own
# (a Forget the user asked for must reach the database; the upkeep stores the last candidates under "N days").
ENROLLMENTS = (
    "enroll-photos",
    "enroll-samples",
    "rename",
    "delete-person",
    "delete-sample",
    "review-name",
    "review-merge",
    "review-forget",
    "review-upkeep",
)
REVIEW_UPKEEP_MS = 60_000
WRITE_TASK_GRACE = 10.0
log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
FOCUS_RING = "QToolButton:focus, QCheckBox:focus { border: 2px solid #2f7de1; border-radius: 3px; }"
RECENT_RESULTS = 8  # results kept with their frames, so a late click or "Capture more" still finds its frame


class MainWindow(QMainWindow):
    """The app's window. Thread affinity: GUI thread; other threads reach it only through the bridge's signals.

    It owns what the GUI shows: the latest gallery snapshot and people (loaded on the gallery runner after each
    change the engine announces), the settings, and the recent frames that results point at.
    """

    def __init__(
        self,
        engine: Engine | None,
        settings: Settings,
        *,
        live_detector: Detector | None = None,
        engine_error: str | None = None,
        persist_settings: bool = True,
    ) -> None:
        super().__init__()
        self.setWindowTitle("faceapp")
        self.resize(960, 640)
        self.setAcceptDrops(True)
        self.engine = engine
        self.settings = settings
        self.persist_settings = persist_settings
        self.live_detector = live_detector or self._live_detector(settings)
        self.snapshot: GallerySnapshot | None = None
        self.people: list[Person] = []
        self.analyzer: FaceAnalyzer | None = None
        self.tasks: list[BackgroundTask] = []
        self._closing = False
        self._gallery_load_queued: Engine | None = None  # the gallery whose load is queued and not started yet
        self.bridge = PipelineBridge(self)
        self.runner = GalleryRunner(self)
        self.session = LiveSession(self.bridge)
        self.review = ReviewStore(Retention.of(settings.review_retention, settings.review_days))
        self.review_panel: ReviewPanel | None = None
        self._review_panel_key: tuple[object, ...] = ()
        self._build()
        self.recent_results: deque[FrameResult] = deque(maxlen=RECENT_RESULTS)
        self.bridge.frame_ready.connect(self._on_frame_ready)
        self.bridge.result_ready.connect(self._on_result_ready)
        self.bridge.status_changed.connect(self._on_status_changed)
        self.bridge.error.connect(self._on_worker_error)
        self.bridge.gallery_changed.connect(self._on_gallery_changed)
        self._unsubscribe = engine.subscribe(self.bridge.post_gallery_changed) if engine is not None else None
        self.view.face_clicked.connect(self._on_face_clicked)
        self.view.not_person.connect(lambda face, result: flows.not_person(self, face, result, self.view.unrefuse))
        self.verify.mode_changed.connect(self._on_mode_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()
        self._review_timer = QTimer(self)  # stored candidates are written, and expired ones deleted, each minute
        self._review_timer.setInterval(REVIEW_UPKEEP_MS)
        self._review_timer.timeout.connect(self._review_upkeep)
        self._review_timer.start()
        self._open_review(engine)
        self.apply_settings(settings, restart_source=False)
        self._owns_engine = False  # an engine this window opened (Open another gallery) is closed with it
        if engine is None:
            self.status.set_model("none (no gallery open)")
        if engine_error:
            self.banner.show_message(
                engine_error + " Recognition is off; the video still plays.",
                "error",
                self._gallery_actions(),
                "gallery",
            )

    def _build(self) -> None:
        self.view = VideoView()
        self.session.display = self.view.prep  # the capture thread readies each frame for the view
        self.banner = MessageBanner()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.status = LiveStatusBar()
        self.setStatusBar(self.status)
        self.actions_by_name = build_menus(self, self._menus())
        toolbar = QToolBar("Main")
        toolbar.setMovable(False)
        toolbar.setStyleSheet(FOCUS_RING)
        self.addToolBar(toolbar)
        for name in ("enroll_photos", "gallery", "settings", "source"):
            toolbar.addAction(self.actions_by_name[name])
            toolbar.widgetForAction(self.actions_by_name[name]).setFocusPolicy(Qt.FocusPolicy.TabFocus)
        toolbar.addSeparator()
        self.verify = VerifyPanel()
        self.verify.setStyleSheet(FOCUS_RING)
        toolbar.addWidget(self.verify)
        chain = [toolbar.widgetForAction(self.actions_by_name[n]) for n in ("enroll_photos", "gallery", "settings")]
        chain += [toolbar.widgetForAction(self.actions_by_name["source"]), self.verify.switch, self.verify.people]
        for first, second in zip([*chain, self.view], [*chain[1:], self.view], strict=False):
            QWidget.setTabOrder(first, second)

    def _menus(self) -> list[tuple[str, list[Entry | None]]]:
        keys = QKeySequence.StandardKey
        enroll_face = Entry("enroll_face", "Enroll &selected face...", self._on_enroll_selected, None, "Ctrl+Return")
        enroll_person = Entry("enroll_person", "Enroll &person...", self._on_enroll_person, fallback="Ctrl+Shift+E")
        add_samples = Entry("add_samples", "&Add samples to a person...", self._on_add_samples, None, "Ctrl+Shift+A")
        verify = Entry("verify", "&Verify (1:1) mode", self._on_verify_toggled, None, "Ctrl+Shift+V", checkable=True)
        return [
            (
                "&File",
                [
                    Entry("source", "&Open video file...", self._on_open_file, keys.Open),
                    Entry("camera", "Use a &camera...", self._on_pick_camera, fallback="Ctrl+Shift+O"),
                    None,
                    Entry("settings", "&Settings...", self._on_open_settings, keys.Preferences, "Ctrl+,"),
                    None,
                    Entry("quit", "&Quit", self.close, keys.Quit, "Ctrl+Q"),
                ],
            ),
            (
                "&Gallery",
                [
                    Entry("enroll_photos", "&Enroll from photos...", self._on_enroll_photos, fallback="Ctrl+E"),
                    enroll_face,
                    enroll_person,
                    add_samples,
                    Entry("gallery", "&Gallery...", self._on_open_gallery, fallback="Ctrl+G"),
                    Entry(
                        "open_gallery",
                        "&Open gallery...",
                        lambda: gallery_files.choose_gallery(self),
                        None,
                        "Ctrl+Shift+G",
                    ),
                    Entry("review", "Who &is this?...", self._on_open_review, fallback="Ctrl+U"),
                    None,
                    verify,
                ],
            ),
            (
                "&View",
                [
                    Entry("mirror", "&Mirror the camera", self._on_mirror_toggled, fallback="Ctrl+M", checkable=True),
                    Entry("fullscreen", "&Full screen", self._on_full_screen, keys.FullScreen, "F11", checkable=True),
                ],
            ),
            (
                "&Help",
                [
                    Entry("help", "faceapp &Help and limits", lambda: menus.show_help(self), keys.HelpContents, "F1"),
                    Entry("data", "&Where the data lives", self._on_data_locations),
                    Entry("about", "&About faceapp", lambda: menus.show_about(self)),
                ],
            ),
        ]

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the source and load the models in the background; the window stays usable meanwhile."""
        self.open_source(self.settings.source)
        if self.engine is not None:
            self.load_models()

    def open_source(self, spec: str) -> bool:
        """(Re)start capture on `spec`; on failure the banner offers another camera index or a file."""
        self.session.stop()
        self.view.clear()
        self.recent_results.clear()  # another source's frame numbers start again
        try:
            self.session.open(spec, self.settings.resolution)
        except CameraError as exc:
            log.warning("cannot open source %s: %s", spec, exc)
            self.status.source_fps = 0.0
            self.view.set_placeholder("No video.")
            self.banner.show_message(
                str(exc),
                "error",
                [("Try camera index...", self._on_pick_camera), ("Open video file...", self._on_open_file)],
                "source",
            )
            return False
        self.banner.clear("source")
        self.status.source_fps = self.session.source_fps
        self._show_settings(self.settings)  # a camera is mirrored (when set), a file never
        if self.analyzer is not None and self.snapshot is not None:
            self.session.start_recognition(self.analyzer, self.snapshot)
        return True

    def load_models(self) -> None:
        """Load the embedder and warm the detectors on a background thread, then start recognition."""
        engine = self.engine
        assert engine is not None
        self.status.set_model(f"{engine.model} (loading...)")
        self.status.show_progress("Loading models...", 0, 0)
        detector = self.live_detector

        def work(task: BackgroundTask) -> tuple[FaceAnalyzer, GallerySnapshot, list[Person]]:
            embedder = engine.embedder
            detector.detect(np.zeros((240, 320, 3), np.uint8))
            try:
                page_out_gpu_libraries()  # CPU inference only: a CUDA torch's GPU libraries leave the resident set
            except Exception:  # a saving, never a reason for the models not to load
                log.debug("paging out the GPU libraries failed", exc_info=True)
            return FaceAnalyzer(detector, embedder), engine.snapshot(), engine.people()

        def current(slot: Callable[[Any], None]) -> Callable[[Any], None]:
            return lambda value: slot(value) if engine is self.engine else None  # not after a gallery switch

        self.run_task("load-models", work, current(self._on_models_loaded), current(self._on_models_failed))

    def run_task(self, name: str, work: flows.Work, on_done: flows.Slot, on_failed: flows.FailSlot) -> BackgroundTask:
        """Run `work` on a background thread with results delivered to GUI-thread slots."""
        task = BackgroundTask(name, work, self)
        task.succeeded.connect(on_done)
        task.failed.connect(on_failed)
        self.tasks = [t for t in self.tasks if t.is_running()] + [task]
        return task.start()

    def as_widget(self) -> QWidget:
        """The window as the parent of the flows' dialogs."""
        return self

    def _on_models_loaded(self, loaded: tuple[FaceAnalyzer, GallerySnapshot, list[Person]]) -> None:
        if self._closing:  # loading finished after the window closed: start nothing
            return
        analyzer, snapshot, people = loaded
        assert self.engine is not None
        if analyzer.embedder.name != self.engine.model or snapshot.model != self.engine.model:
            self.load_models()  # a model switch finished while loading: never mix one model's embedder and gallery
            return
        self.status.hide_progress()
        self.analyzer = analyzer
        self.apply_settings(self.settings, restart_source=False)  # tau is per model: the model may have changed
        self._show_gallery((snapshot, people))
        if self.session.running:
            self.session.start_recognition(analyzer, snapshot)
        assert self.engine is not None
        self.status.set_model(self.engine.model)
        self.banner.clear("models")

    def _on_models_failed(self, message: str) -> None:
        self.status.hide_progress()
        assert self.engine is not None
        self.status.set_model(f"{self.engine.model} (not loaded)")
        self.banner.show_message(
            message + " The video plays without recognition.",
            "error",
            flows.weights_actions(self, self.engine.model),
            "models",
        )

    def _gallery_actions(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("Open another gallery...", lambda: gallery_files.choose_gallery(self)),
            ("New gallery...", lambda: gallery_files.new_gallery(self)),
        ]

    def switch_gallery(self, engine: Engine, path: Path) -> None:
        """A gallery opened (gallery_files): drop the old one's names from the view, flush its review and close it
        (on the runner, after its queued work), then start recognition on `engine`; `path` is the start-up gallery."""
        if self._closing:
            engine.close()
            return
        old, owned = self.engine, self._owns_engine
        if old is not None:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self.session.stop_recognition()  # no frame is named from the old gallery (its last tracks go to its review)
            self._review_upkeep()  # ... whose unknown faces are stored (N days) before it closes
            self.verify.switch.setChecked(False)  # its claimed person's id means nobody (or someone else) here
            self.analyzer, self.snapshot, self.people = None, None, []
            self.view.show_result(None)
            self.recent_results.clear()
            if owned:
                self.runner.submit("close-gallery", lambda task: old.close(), lambda _: None, log.warning)
            else:  # the start-up gallery (app.run closes it at exit): it stops polling for other stations now
                self.runner.submit("unwatch-gallery", lambda task: old.stop_watching(), lambda _: None, log.warning)
            if self.review_panel is not None:  # its actions are bound to the old gallery and its review
                self.review_panel.close()
                self.review_panel.deleteLater()
                self.review_panel = None
        self.engine, self._owns_engine = engine, True
        self._unsubscribe = engine.subscribe(self.bridge.post_gallery_changed)
        engine.watch()  # other stations' changes to the new gallery reach the live view, as at start
        self.banner.clear("gallery")
        self._open_review(engine)
        self.settings = replace(self.settings, db_path=str(path))
        self.save_settings()
        self.status.showMessage(f"Opened the gallery {path}.", 6000)
        self.load_models()

    def gallery_failed(self, message: str) -> None:
        """A gallery could not be opened (gallery_files): one line in the banner, which offers another file."""
        self.banner.show_message(message, "error", self._gallery_actions(), "gallery")

    def refresh_gallery(self) -> None:
        """Load a fresh snapshot and the people on the gallery runner; the worker gets it on its next frame."""
        engine = self.engine
        if engine is None:
            return

        if self._gallery_load_queued is engine:  # a load of this gallery not started yet reads this change too:
            return  # one load for a burst of writes (an import announces each person), not one per write
        self._gallery_load_queued = engine

        def load(task: BackgroundTask) -> tuple[GallerySnapshot, list[Person]]:
            if self._gallery_load_queued is engine:
                self._gallery_load_queued = None  # from here on a new change needs a load of its own
            return engine.snapshot(), engine.people()

        def show(loaded: tuple[GallerySnapshot, list[Person]]) -> None:
            if engine is self.engine:  # not a load of the gallery open before a switch (it finished behind it)
                self._show_gallery(loaded)

        def failed(message: str) -> None:
            if self._gallery_load_queued is engine:
                self._gallery_load_queued = None
            self.show_error(message)

        self.runner.submit("load-gallery", load, show, failed)

    def _show_gallery(self, loaded: tuple[GallerySnapshot, list[Person]]) -> None:
        snapshot, people = loaded
        if self._closing or self.engine is None or snapshot.model != self.engine.model:
            return  # loaded before a model switch finished: the switch brings its own
        self.snapshot, self.people = snapshot, people
        self.session.set_gallery(snapshot)
        self.verify.set_people(people)
        self.status.set_gallery(len(people), snapshot.sample_count)

    def apply_settings(self, new: Settings, restart_source: bool = True) -> None:
        """Make `new` current: tau, mirror and minimum face size at once; the source restarts when it changed."""
        old, self.settings = self.settings, new
        self._show_settings(new)
        if (old.review_retention, old.review_days) != (new.review_retention, new.review_days):
            self.review.set_retention(Retention.of(new.review_retention, new.review_days))
            self._review_upkeep()  # leaving "N days" deletes the stored ones now
        if old.detector != new.detector:
            self._switch_detector(new)
        if restart_source and (old.source != new.source or old.resolution != new.resolution):
            self.open_source(new.source)

    def preview_settings(self, preview: Settings | None) -> None:
        """Show tau, margin, mirror and face size of `preview` without making them current (None: the current)."""
        self._show_settings(preview or self.settings)

    def _show_settings(self, shown: Settings) -> None:
        rule = self.rule(shown)
        self.view.rule = rule
        self.session.set_rule(rule)  # tracks are named under it in the worker (core.track_evidence)
        self.verify.threshold = rule.threshold
        self.view.mirror = shown.mirror_view and self.session.is_camera  # text in a video file never reads backwards
        mirror = self.actions_by_name["mirror"]
        mirror.blockSignals(True)
        mirror.setChecked(shown.mirror_view)
        mirror.blockSignals(False)
        mirror.setEnabled(self.session.is_camera)
        mirror.setStatusTip("" if self.session.is_camera else "Video files are never mirrored.")
        self.live_detector.config = replace(self.live_detector.config, min_face_size=shown.min_face_size)
        self.view.update()

    @staticmethod
    def _live_detector(settings: Settings) -> Detector:
        """The live view's detector: the chosen one, at half resolution."""
        return create_detector(settings.detector, DetectorConfig(min_face_size=settings.min_face_size, scale=0.5))

    def _switch_detector(self, new: Settings) -> None:
        """Use the newly chosen detector for photos and, once it is loaded, for live video."""
        self.live_detector = self._live_detector(new)
        if self.engine is not None:
            self.engine.detector = create_detector(new.detector, self.engine.detector.config)
            if self.analyzer is not None:
                self.load_models()

    def save_settings(self) -> None:
        """Write the settings file (errors go to the banner)."""
        if not self.persist_settings:
            return
        try:
            settings_io.save(self.settings)
        except (OSError, FaceAppError) as exc:
            self.banner.show_message(f"Settings not saved: {exc}", "warning")

    def people_names(self) -> list[str]:
        """Enrolled names for the name pickers, as of the latest gallery load (no database read here)."""
        return [p.name for p in self.people]

    def threshold(self, settings: Settings | None = None) -> float:
        """tau for the gallery's model under the current (or the given) settings."""
        if self.engine is None:
            return 0.5
        return (settings or self.settings).threshold_for(self.engine.model, self.engine.default_threshold)

    def rule(self, settings: Settings | None = None) -> MatchRule:
        """tau and the ambiguity margin for the gallery's model under the current (or the given) settings."""
        if self.engine is None:
            return MatchRule(self.threshold(settings))
        margin = (settings or self.settings).margin_for(self.engine.model, self.engine.default_margin)
        return MatchRule(self.threshold(settings), margin)

    def image_for(self, result_index: int) -> np.ndarray | None:
        """The captured frame a result was computed on while it is kept; None once it is gone (boxes would not fit)."""
        for result in self.recent_results:
            if result.frame_index == result_index and result.image is not None:
                return result.image
        return None

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop every thread (events + joins with timeouts) before the window goes.

        A gallery write in flight (an enrollment, or a model switch, which stops at its next chunk once cancelled)
        is waited for, so closing never loses what the user was told is being saved.
        """
        self._closing = True
        self._timer.stop()
        self._review_timer.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in self.tasks + self.runner.tasks:
            if task.name not in ENROLLMENTS:
                task.cancel()
        self.session.stop(timeout=0.9)  # the worker hands its last tracks to the review as it stops...
        self._review_upkeep()  # ...and they are stored (N days) before the runner stops
        self.runner.stop()
        for task in self.tasks:
            task.join(0.05)
        if not self.runner.join(WRITE_TASK_GRACE):  # the queued writes commit; the rest were cancelled
            log.warning("the gallery runner is still busy after %.0f s", WRITE_TASK_GRACE)
        elif self._owns_engine and self.engine is not None:
            self.engine.close()
        super().closeEvent(event)

    # -- pipeline slots -----------------------------------------------------------------------------------------
    def _on_frame_ready(self, frame: Frame) -> None:
        painted = self.view.painted
        self.view.show_frame(frame)
        if self.view.painted != painted:  # the display rate counts frames shown, not frames received
            self.status.display.tick()

    def _on_result_ready(self, result: FrameResult) -> None:
        if not result.again:  # the rate counts frames recognized
            self.status.recognition.tick()
        self.recent_results.append(result)
        self.view.show_result(result)
        self.verify.update_verdict(result)

    def _on_status_changed(self, status: SourceStatus) -> None:
        if status.event in (SourceEvent.DAMAGED, SourceEvent.FAILED):
            kind = "warning" if status.event is SourceEvent.DAMAGED else "error"
            self.banner.show_message(status.message, kind, [("Open video file...", self._on_open_file)], "source")
        elif status.event is SourceEvent.LOST:
            self.banner.show_message(status.message, "warning", [("Open video file...", self._on_open_file)], "source")
        elif status.event is SourceEvent.BACK:
            self.banner.clear("source")
            self.status.showMessage(status.message, 4000)
        else:
            self.status.showMessage(status.message, 6000)

    def _on_worker_error(self, message: str) -> None:
        self.banner.show_message(message, "warning")

    def _on_tick(self) -> None:
        self.status.refresh()

    def _on_mode_changed(self, active: bool) -> None:
        self.actions_by_name["verify"].setChecked(self.verify.switch.isChecked())
        self.session.set_claim(self.verify.claimed_id() if active else None)
        self.view.labeler = self.verify.label if active else self.view.default_label
        self.view.update()

    def _on_gallery_changed(self, change: GalleryChange) -> None:
        if change is GalleryChange.MODEL_ELSEWHERE and self.engine is not None:
            self.load_models()  # another station switched the model: its embedder and gallery come together
        else:
            self.refresh_gallery()

    # -- user actions -------------------------------------------------------------------------------------------
    def _on_face_clicked(self, face: LiveFace, result: FrameResult) -> None:
        if self.engine is None or self.analyzer is None:
            self.status.showMessage("Recognition is not running yet; enroll once the models are loaded.", 5000)
            return
        image = result.image if result.image is not None else self.image_for(result.frame_index)
        if image is None:
            self.status.showMessage("That frame has already gone by; click the face again.", 5000)
            return
        flows.enroll_face(self, image, face)

    def _on_enroll_selected(self) -> None:
        self.view.setFocus()
        if not self.view.enroll_selected():
            self.status.showMessage("No face in view to enroll.", 4000)

    def _on_enroll_person(self) -> None:
        faces, result = self.view.on_screen()
        image = (
            None if result is None else result.image if result.image is not None else self.image_for(result.frame_index)
        )
        flows.enroll_person(self, faces, image)

    def _on_add_samples(self) -> None:
        flows.add_samples(self)

    def _on_verify_toggled(self, checked: bool) -> None:
        if not self.verify.switch.isEnabled():
            self.actions_by_name["verify"].setChecked(False)
            self.status.showMessage("Enroll someone first: verify mode checks faces against one enrolled person.", 5000)
            return
        self.verify.switch.setChecked(checked)

    def _on_mirror_toggled(self, checked: bool) -> None:
        self.apply_settings(replace(self.settings, mirror_view=checked), restart_source=False)
        self.save_settings()

    def _on_full_screen(self, checked: bool) -> None:
        if checked:
            self.showFullScreen()
        else:
            self.showNormal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Esc leaves full screen."""
        if event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.actions_by_name["fullscreen"].setChecked(False)
            self.showNormal()
            return
        super().keyPressEvent(event)

    def _on_data_locations(self) -> None:
        menus.show_data_locations(self, self.engine.gallery_path if self.engine is not None else None)

    def _on_enroll_photos(self) -> None:
        flows.enroll_photos(self, None)

    def _on_open_gallery(self) -> None:
        flows.open_gallery(self)

    def _open_review(self, engine: Engine | None) -> None:
        """Give the review the gallery's database, and load (and expire) its stored candidates on the runner.

        The faces kept before (with no gallery open) move to the new gallery's review rather than being dropped; a
        review that can write its own (a database, N days) writes them there first. Later tracks follow the sink.
        """
        self.session.set_track_sink(self.review.add_track)
        if engine is None:
            return
        old = self.review
        self.review = ReviewStore(old.retention, engine.review_backend())
        self.session.set_track_sink(self.review.add_track)
        old.hand_over(self.review)  # a track the worker hands the old store from now on goes on to the new one
        review = self.review
        if old.has_backend:
            self.runner.submit("review-upkeep", lambda task: old.flush(), lambda _: None, log.warning)
        self.runner.submit("review-open", lambda task: review.open(), lambda _: None, self.show_error)
        if self.review_panel is not None and self.review_panel.isVisible():
            self._on_open_review()  # the panel shown follows the new gallery's review

    def _review_upkeep(self) -> None:
        """On the runner: store new candidates (retention N days) and delete expired ones."""
        if self.engine is None:
            return
        review = self.review
        self.runner.submit("review-upkeep", lambda task: (review.flush(), review.expire()), lambda _: None, log.warning)

    def _on_open_review(self) -> None:
        """Gallery > Who is this?: the panel of unknown faces (one, kept open beside the video)."""
        if self.engine is None:
            self.show_error("Open a gallery first: unknown faces are named into a gallery.")
            return
        key = (id(self.review), self.review.retention, self.engine.model)
        if self.review_panel is None or self._review_panel_key != key:  # a new gallery or retention: a new panel
            if self.review_panel is not None:
                self.review_panel.deleteLater()
            actions = runner_actions(self.runner, self.engine, self.review)
            self.review_panel = ReviewPanel(actions, self.people_names, self.review.retention, self.engine.model, self)
            self._review_panel_key = key
        self.review_panel.show()
        self.review_panel.raise_()
        self.review_panel.activateWindow()

    def _on_open_settings(self) -> None:
        flows.open_settings(self)

    def _on_open_file(self) -> None:
        flows.choose_video_file(self)

    def _on_pick_camera(self) -> None:
        flows.choose_camera(self)

    def show_error(self, message: str) -> None:
        """A failure of a user action, shown in the banner."""
        self.banner.show_message(message, "error")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept image files dragged onto the window."""
        urls = event.mimeData().urls()
        if urls and all(u.toLocalFile().lower().endswith(IMAGE_SUFFIXES) for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Dropped photos open the enroll-from-photos flow."""
        files = [u.toLocalFile() for u in event.mimeData().urls()]
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: flows.enroll_photos(self, files))


__all__ = ["MainWindow", "user_message"]

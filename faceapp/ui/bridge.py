"""Signals that carry work from Python threads to the GUI thread, background tasks, and the gallery's runner."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from faceapp.errors import FaceAppError

log = logging.getLogger(__name__)


class PipelineBridge(QObject):
    """Lives on the GUI thread; other threads call its emitters, and slots of GUI-thread objects run on the GUI thread.

    Connect bound methods of QObjects (queued across threads), not lambdas, which would run on the emitting thread.
    """

    frame_ready = Signal(object)  # core.video.Frame, from the capture thread
    result_ready = Signal(object)  # core.live.FrameResult, from the recognition worker
    status_changed = Signal(object)  # core.video.SourceStatus, from the capture thread
    error = Signal(str)  # a recognition failure, from the recognition worker
    gallery_changed = Signal(object)  # engine.GalleryChange, from the thread that wrote the gallery

    def post_frame(self, frame: object) -> None:
        """Called on the capture thread: hand a Frame to the GUI (queued connection)."""
        self.frame_ready.emit(frame)

    def post_result(self, result: object) -> None:
        """Called on the recognition worker: hand a FrameResult to the GUI."""
        self.result_ready.emit(result)

    def post_status(self, status: object) -> None:
        """Called on the capture thread: a SourceStatus."""
        self.status_changed.emit(status)

    def post_error(self, message: str) -> None:
        """Called on the recognition worker: a failure to show."""
        self.error.emit(message)

    def post_gallery_changed(self, change: object) -> None:
        """Called on the writing thread (the gallery runner): the engine's GalleryChange."""
        self.gallery_changed.emit(change)


def user_message(exc: BaseException) -> str:
    """What to show for an exception: a FaceAppError's own message, else a short note pointing at the log."""
    if isinstance(exc, FaceAppError):
        return str(exc)
    return f"Unexpected error: {type(exc).__name__}: {exc} (details are in the log file)."


def _spent(task: BackgroundTask) -> object:
    raise RuntimeError(f"task {task.name} has already run")


class BackgroundTask(QObject):
    """Runs `work(task)` on its own Python thread (start) or on a GalleryRunner's; progress, result and error arrive
    as GUI-thread signals.

    `work` may call `task.report(done, total)` and should poll `task.cancelled` between steps; a task cancelled
    before its work began does not run it.
    """

    progress_changed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    # Emitted on the task's thread; relayed by bound slots (queued to the GUI thread) to the public signals above,
    # so plain Python callables connected to the public ones always run on the GUI thread.
    _raw_progress = Signal(int, int)
    _raw_succeeded = Signal(object)
    _raw_failed = Signal(str)

    def __init__(self, name: str, work: Callable[[BackgroundTask], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._work = work
        self._cancel = threading.Event()
        self._queued = False
        self._finished = threading.Event()
        self._raw_progress.connect(self._on_raw_progress)
        self._raw_succeeded.connect(self._on_raw_succeeded)
        self._raw_failed.connect(self._on_raw_failed)

    @property
    def cancelled(self) -> bool:
        """True once cancel() was called."""
        return self._cancel.is_set()

    def start(self) -> BackgroundTask:
        """Start the work on a thread of its own; returns self."""
        self._queued = True
        threading.Thread(target=self._run, name=f"faceapp-{self.name}", daemon=True).start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._cancel.set()

    def report(self, done: int, total: int) -> None:
        """Called from the work: progress for the GUI."""
        self._raw_progress.emit(done, total)

    def is_running(self) -> bool:
        """Whether the task is queued or running."""
        return self._queued and not self._finished.is_set()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True when the work has ended (or never started)."""
        return not self._queued or self._finished.wait(timeout)

    def _run(self) -> None:
        try:
            if not self.cancelled:
                self._finish()
        finally:
            self._work = _spent  # let the inputs go (an enrollment's crops): the task object may live on a while
            self._finished.set()

    def _finish(self) -> None:
        try:
            result = self._work(self)
        except Exception as exc:  # the GUI shows the message; the details go to the log
            if isinstance(exc, FaceAppError):
                log.warning("%s: %s", self.name, exc)
            else:
                log.exception("%s failed", self.name)
            self._raw_failed.emit(user_message(exc))
            return
        self._raw_succeeded.emit(result)

    @Slot(int, int)
    def _on_raw_progress(self, done: int, total: int) -> None:
        self.progress_changed.emit(done, total)

    @Slot(object)
    def _on_raw_succeeded(self, result: object) -> None:
        self.succeeded.emit(result)

    @Slot(str)
    def _on_raw_failed(self, message: str) -> None:
        self.failed.emit(message)


class GalleryRunner(QObject):
    """The one background thread that reads and writes the gallery for the GUI (Anki's taskman).

    Thread affinity: submit() on the GUI thread; the work runs on the runner's thread, one task at a time in
    submission order (so writes never interleave and a read sees every earlier write); slots run on the GUI thread.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.SimpleQueue[BackgroundTask | None] = queue.SimpleQueue()
        self.tasks: list[BackgroundTask] = []
        self.worker_thread = threading.Thread(target=self._loop, name="faceapp-gallery", daemon=True)
        self.worker_thread.start()

    def submit(
        self,
        name: str,
        work: Callable[[BackgroundTask], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
    ) -> BackgroundTask:
        """Queue `work(task)`; `on_done(result)` or `on_failed(message)` runs on the GUI thread afterwards."""
        task = BackgroundTask(name, work, self)
        task.succeeded.connect(on_done)
        task.failed.connect(on_failed)
        task._queued = True
        self.tasks = [t for t in self.tasks if t.is_running()] + [task]
        self._queue.put(task)
        return task

    def stop(self) -> None:
        """End the thread after the tasks already queued (cancel those that should not run first); join() after."""
        self._queue.put(None)

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the thread to end; True when it has."""
        self.worker_thread.join(timeout)
        return not self.worker_thread.is_alive()

    def _loop(self) -> None:
        while (task := self._queue.get()) is not None:
            try:
                task._run()
            except BaseException:  # e.g. emitting on a task whose window is gone: the next tasks must still run
                log.exception("gallery task %s broke the runner's loop; going on", task.name)

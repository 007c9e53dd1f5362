"""Signals that carry work from Python threads to the GUI thread, and a small background-task runner."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from faceapp.errors import FaceAppError

log = logging.getLogger(__name__)


class PipelineBridge(QObject):
    """Lives on the GUI thread; the capture thread and the worker call its emitters, slots run on the GUI thread."""

    frame_ready = Signal(object)
    result_ready = Signal(object)
    status_changed = Signal(str)

    def post_frame(self, frame: object) -> None:
        """Called on the capture thread: hand a Frame to the GUI (queued connection)."""
        self.frame_ready.emit(frame)

    def post_result(self, result: object) -> None:
        """Called on the recognition worker: hand a FrameResult to the GUI."""
        self.result_ready.emit(result)

    def post_status(self, message: str) -> None:
        """Called on any thread: a status message for the user."""
        self.status_changed.emit(message)


def user_message(exc: BaseException) -> str:
    """What to show for an exception: a FaceAppError's own message, else a short note pointing at the log."""
    if isinstance(exc, FaceAppError):
        return str(exc)
    return f"Unexpected error: {type(exc).__name__}: {exc} (details are in the log file)."


class BackgroundTask(QObject):
    """Runs `work(task)` on a Python thread; progress, result and error arrive as GUI-thread signals.

    `work` may call `task.report(done, total)` and should poll `task.cancelled` between steps.
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
        self._thread = threading.Thread(target=self._run, name=f"faceapp-{name}", daemon=True)
        self._raw_progress.connect(self._on_raw_progress)
        self._raw_succeeded.connect(self._on_raw_succeeded)
        self._raw_failed.connect(self._on_raw_failed)

    @property
    def cancelled(self) -> bool:
        """True once cancel() was called."""
        return self._cancel.is_set()

    def start(self) -> BackgroundTask:
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._cancel.set()

    def report(self, done: int, total: int) -> None:
        """Called from the work: progress for the GUI."""
        self._raw_progress.emit(done, total)

    def is_running(self) -> bool:
        """Whether the thread is still alive."""
        return self._thread.is_alive()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True when the thread has ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
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

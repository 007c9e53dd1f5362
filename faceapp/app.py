"""The desktop app's entry point: logging, the Qt application, a friendly exception hook, and the main window."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from faceapp import paths
from faceapp.errors import FaceAppError

log = logging.getLogger("faceapp")


def log_file() -> Path:
    """Where the app writes its log (rotated)."""
    return paths.log_path()


def setup_logging() -> Path:
    """Send faceapp's log, with details and tracebacks, to a rotating file in the data directory."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def install_exception_hook() -> None:
    """Uncaught exceptions (GUI thread or others) are logged and shown in a message box, never as a traceback."""

    def show(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log.error("uncaught exception:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        from PySide6.QtCore import QThread
        from PySide6.QtWidgets import QApplication, QMessageBox

        app = QApplication.instance()
        if app is None or QThread.currentThread() is not app.thread():
            return  # only the GUI thread may show a box; the log has it
        from faceapp.ui.bridge import user_message

        QMessageBox.critical(None, "faceapp", f"{user_message(value)}\n\nDetails: {log_file()}")

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        log.error(
            "uncaught exception in thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        )

    sys.excepthook = show
    threading.excepthook = thread_hook


def run(db: Path | str | None = None, source: str | None = None, model: str | None = None) -> int:
    """Open the main window on the gallery `db`, video `source` and `model`; returns the exit code."""
    from faceapp.core.memory import configure_allocator

    configure_allocator()  # before models load and threads start: large freed buffers go back to the OS (issue 8)
    logfile = setup_logging()
    install_exception_hook()
    from dataclasses import replace

    from PySide6.QtWidgets import QApplication, QMessageBox

    from faceapp import settings as settings_io
    from faceapp.engine import Engine
    from faceapp.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("faceapp")
    from faceapp.ui.qt_check import painting_problem

    problem = painting_problem()
    if problem is not None:
        log.error("%s", problem)
        QMessageBox.warning(None, "faceapp", problem)
    log.info(
        "starting faceapp (db=%s, source=%s, model=%s); log at %s",
        None if db is None else paths.db_label(db),
        source,
        model,
        logfile,
    )
    persist = True
    try:
        settings = settings_io.load()
    except FaceAppError as exc:
        QMessageBox.warning(None, "faceapp settings", f"{exc}\n\nDefaults are used for this run and not saved.")
        settings, persist = settings_io.Settings(), False
    if source is not None:
        settings = replace(settings, source=str(source))
    db_path = db or (paths.db_target(settings.db_path) if settings.db_path else paths.default_db_path())
    engine, error = None, None
    try:
        from faceapp.core.detectors import create_detector

        engine = Engine.open(db_path, model, detector=create_detector(settings.detector))
        engine.watch()  # other stations' enrollments, renames, removals and model switches reach the live view
    except FaceAppError as exc:
        log.warning("cannot open the gallery %s: %s", paths.db_label(db_path), exc)
        error = f"The gallery {paths.db_label(db_path)} cannot be opened: {exc}"
    window = MainWindow(engine, settings, engine_error=error, persist_settings=persist)
    for note in engine.notes if engine is not None else []:
        window.status.showMessage(note, 8000)
    window.show()
    window.start()
    code = app.exec()
    from faceapp.ui.session import finish_threads

    finish_threads()  # never exit under a recognition thread still inside torch (issue 8: an abort at close)
    if engine is not None:
        engine.close()
    return int(code)

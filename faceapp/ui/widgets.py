"""Small widgets of the main window: the live status bar and the message banner."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QStatusBar, QWidget


class RateMeter:
    """Events per second: over the last `window` seconds, or over the last `min_events` events when they are rarer
    (a recognizer at 0.4 fps reads 0.4, not 0), looking back at most `horizon` seconds.

    The rate is (events - 1) / (time from the first to the last of them), exact for a steady rate; when the next
    event is overdue, the time since the last one counts too, so a stalled stream reads lower and lower, then 0.
    """

    def __init__(self, window: float = 3.0, min_events: int = 4, horizon: float = 20.0) -> None:
        self.window, self.min_events, self.horizon = window, min_events, horizon
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        """Count one event."""
        self._times.append(time.monotonic() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        """Events per second as of `now`."""
        now = time.monotonic() if now is None else now
        while self._times and now - self._times[0] > self.horizon:
            self._times.popleft()
        times = list(self._times)
        recent = [t for t in times if now - t <= self.window]
        if len(recent) < self.min_events:
            recent = times[-self.min_events :]
        if len(recent) < 2:
            return 0.0
        intervals = len(recent) - 1
        span = recent[-1] - recent[0]
        overdue = max(0.0, (now - recent[-1]) - span / intervals)
        return intervals / max(span + overdue, 1e-6)


class LiveStatusBar(QStatusBar):
    """Display fps, recognition fps, model and gallery size, plus a progress bar for background work."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.display = RateMeter()
        self.recognition = RateMeter()
        self.source_fps = 0.0
        self.display_label = QLabel("display -- fps")
        self.recognition_label = QLabel("recognition -- fps")
        self.model_label = QLabel("model: loading...")
        self.gallery_label = QLabel("gallery: --")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        self.progress.hide()
        # Permanent, left of the figures: a normal widget would be drawn over the status message.
        self.addPermanentWidget(self.progress)
        for label in (self.display_label, self.recognition_label, self.model_label, self.gallery_label):
            label.setFrameShape(QFrame.Shape.NoFrame)
            self.addPermanentWidget(label)

    def refresh(self) -> None:
        """Recompute the rates shown (called by a timer)."""
        src = f" / {self.source_fps:.1f}" if self.source_fps else ""
        self.display_label.setText(f"display {self.display.rate():.1f}{src} fps")
        self.recognition_label.setText(f"recognition {self.recognition.rate():.1f} fps")

    def set_model(self, text: str) -> None:
        """The model shown."""
        self.model_label.setText(f"model: {text}")

    def set_gallery(self, people: int, samples: int) -> None:
        """The gallery size shown."""
        self.gallery_label.setText(f"gallery: {people} people, {samples} samples")

    def show_progress(self, text: str, done: int, total: int) -> None:
        """A busy (total 0) or determinate progress bar with `text`."""
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(min(done, total) if total else 0)
        self.progress.setFormat(f"{text} %p%" if total else text)
        self.progress.show()

    def hide_progress(self) -> None:
        """Hide the progress bar."""
        self.progress.hide()


class MessageBanner(QFrame):
    """A coloured strip above the video that says what went wrong and offers what to do about it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 10, 6)
        self._layout.addWidget(self.label, 1)
        self._buttons: list[QPushButton] = []
        self.kind = ""
        self.topic = ""
        self.hide()

    def clear(self, topic: str) -> None:
        """Hide the banner when it is about `topic` (the problem went away)."""
        if self.isVisible() and self.topic == topic:
            self.hide()

    def show_message(
        self,
        text: str,
        kind: str = "error",
        actions: list[tuple[str, Callable[[], None]]] | None = None,
        topic: str = "",
    ) -> None:
        """Show `text` with buttons for `actions` (label, callback); `kind` is error, warning or info.

        The same message again (a worker failing on every frame) leaves the banner as it is: no restyle, and the
        buttons under the pointer stay."""
        if self.isVisible() and (text, kind, topic) == (self.label.text(), self.kind, self.topic) and not actions:
            return
        self.topic = topic
        colours = {"error": "#7a2020", "warning": "#7a5a10", "info": "#20507a"}
        self.kind = kind
        self.setStyleSheet(f"#banner {{ background: {colours.get(kind, '#444')}; }} QLabel {{ color: white; }}")
        self.label.setText(text)
        for button in self._buttons:
            button.deleteLater()
        self._buttons = []
        for title, callback in [*(actions or []), ("Dismiss", self.hide)]:
            button = QPushButton(title)
            button.clicked.connect(callback)
            self._layout.addWidget(button)
            self._buttons.append(button)
        self.show()

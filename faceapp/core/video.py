"""The live frame pipeline, free of Qt: a frame source, a latest-frame mailbox, and the recognition worker.

Threads: the capture thread reads frames at the source's pace and hands each one to the display callback and to the
mailbox; the recognition worker always takes the newest frame, so it never works on stale video and the display never
waits for it. Results go out through a callback; the GUI wraps it in a signal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

import cv2
import numpy as np

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Frame:
    """One captured frame: its number, capture time (monotonic seconds), RGB pixels and scene number.

    The capture thread counts scenes on consecutive frames (`SceneCounter`): a cut (a file looping back to a start
    that differs from its end is one) or a camera reconnecting starts a new one. Frames far apart in time compare
    by their scene numbers, never by their pixels (motion over a recognition delay is not a cut).
    """

    index: int
    timestamp: float
    image: np.ndarray = field(repr=False)
    scene: int = 0


class LatestFrameMailbox(Generic[T]):
    """A single-slot mailbox: a new item replaces an unread one (counted as dropped); get waits with a timeout."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._cond = threading.Condition()
        self.dropped = 0
        self._closed = False

    def put(self, item: T) -> None:
        """Leave `item` for the reader, replacing any unread item. Never blocks."""
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify()

    def get(self, timeout: float) -> T | None:
        """The newest unread item, waiting up to `timeout` seconds; None on timeout or when closed."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def nudge(self) -> None:
        """Wake a waiting reader without an item (its get returns None at once)."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Wake any waiting reader for shutdown."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class PauseGate:
    """Lends what a worker thread uses (the shared analyzer, which serves one thread at a time) to another thread, with
    acknowledgement. Thread affinity: `hold` on the worker's thread, between two frames; the rest from any thread.

    `pause` asks the worker to stop at its next `hold`; `wait_paused` returns True once it is held there (its frame in
    hand finished, the analyzer left) or is no longer running; `resume` lets it go on. Pauses nest: the worker goes
    on once each pause is resumed.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pauses = 0
        self._held = False

    @property
    def requested(self) -> bool:
        """Whether a pause is asked for (the worker then takes no new frame)."""
        return self._pauses > 0

    def pause(self) -> None:
        """Ask the worker to stop between frames (wait_paused says when it has)."""
        with self._cond:
            self._pauses += 1

    def resume(self) -> None:
        """Undo one pause; the worker goes on when none is left."""
        with self._cond:
            self._pauses = max(0, self._pauses - 1)
            self._cond.notify_all()

    def wait_paused(self, timeout: float, alive: Callable[[], bool]) -> bool:
        """Until the worker is held (True), is not `alive` (True: it holds nothing), or `timeout` seconds (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._held and alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))  # also polls `alive`: a worker that ends does not notify
            return True

    def hold(self, stop: threading.Event) -> bool:
        """The worker's thread, between frames: while a pause is asked for, acknowledge it and wait (or until stop).
        True when it held (the world may have moved on meanwhile)."""
        with self._cond:
            if not self._pauses:
                return False
            self._held = True
            self._cond.notify_all()
            while self._pauses and not stop.is_set():
                self._cond.wait(0.1)
            self._held = False
            return True


def parse_source(spec: str | int) -> str | int:
    """A camera index for "0", "1", ...; a file path otherwise."""
    if isinstance(spec, int):
        return spec
    text = str(spec).strip()
    return int(text) if text.isdigit() else text


class FrameSource:
    """A camera (by index) or a video file, read through cv2.VideoCapture. Thread affinity: the capture thread."""

    def __init__(self, spec: str | int, resolution: tuple[int, int] | None = None) -> None:
        self.spec = parse_source(spec)
        self.resolution = resolution
        self._cap: Any = None

    @property
    def is_file(self) -> bool:
        """True for a video file, False for a camera."""
        return isinstance(self.spec, str)

    def open(self) -> None:
        """Open the source; CameraError with a clear message when it cannot be opened."""
        from faceapp.errors import CameraError

        if self.is_file:
            from pathlib import Path

            if not Path(str(self.spec)).is_file():
                raise CameraError(f"Video file {self.spec} does not exist.")
        cap = cv2.VideoCapture(self.spec)
        if not cap.isOpened():
            cap.release()
            if self.is_file:
                raise CameraError(
                    f"Cannot open video file {self.spec}: it is damaged or in a format that cannot be decoded here."
                    " Choose another file."
                )
            raise CameraError(
                f"Cannot open camera {self.spec}. Check that it is connected and not used by another program."
            )
        if not self.is_file and self.resolution:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.resolution[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.resolution[1])
        self._cap = cap

    @property
    def fps(self) -> float:
        """Frames per second the source reports (30 when it reports nothing usable)."""
        value = float(self._cap.get(cv2.CAP_PROP_FPS)) if self._cap is not None else 0.0
        return value if 1.0 <= value <= 240.0 else 30.0

    @property
    def frame_count(self) -> int:
        """Frames in a video file (0 for a camera)."""
        return int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self._cap is not None and self.is_file else 0

    def read(self) -> np.ndarray | None:
        """The next frame as RGB, or None at the end of a file or when the camera fails."""
        if self._cap is None:
            return None
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def rewind(self) -> bool:
        """Back to the first frame of a file (to loop it)."""
        return bool(self._cap is not None and self.is_file and self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def close(self) -> None:
        """Release the device or file."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class SourceEvent(Enum):
    """What happened to the video source."""

    LOST = "lost"  # a camera stopped delivering; it is reopened every second
    BACK = "back"  # ... and delivers again
    ENDED = "ended"  # a file played to its end (without looping)
    FAILED = "failed"  # the capture thread died (the log has why), or a file has no frame that can be read
    DAMAGED = "damaged"  # a file stops before its end (it loops over the part that can be read)


@dataclass(frozen=True)
class SourceStatus:
    """A typed status of the source, with the message for the user."""

    event: SourceEvent
    message: str


class CaptureThread(threading.Thread):
    """Reads frames at the source's own rate and hands each one to `on_frame`; files play in real time.

    A camera that stops delivering is reported through `on_status` and reopened every second until stop().
    """

    def __init__(
        self,
        source: FrameSource,
        on_frame: Callable[[Frame], None],
        on_status: Callable[[SourceStatus], None] | None = None,
        loop: bool = True,
        realtime: bool = True,
    ) -> None:
        super().__init__(name="faceapp-capture", daemon=True)
        self.source = source
        self.on_frame = on_frame
        self.on_status = on_status or (lambda status: None)
        self.loop = loop
        self.realtime = realtime
        self.finished = threading.Event()
        self._stop_event = threading.Event()

    def stop(self) -> None:
        """Ask the loop to end; join() afterwards."""
        self._stop_event.set()

    def run(self) -> None:
        """The capture loop."""
        try:
            self._run()
        except Exception:  # a worker must never die silently
            log.exception("capture thread failed")
            self.on_status(SourceStatus(SourceEvent.FAILED, "The video source failed; see the log for details."))
        finally:
            self.source.close()
            self.finished.set()

    def _run(self) -> None:
        period = 1.0 / self.source.fps
        index = 0
        position = 0  # frames read since the file's start (or last rewind)
        warned = False
        scenes = SceneCounter()
        next_due = time.monotonic()
        while not self._stop_event.is_set():
            image = self.source.read()
            if image is None:
                if self.source.is_file:
                    if position == 0:  # nothing readable: rewinding would spin forever
                        self.on_status(SourceStatus(SourceEvent.FAILED, f"No frame of {self.source.spec} can be read."))
                        return
                    total = self.source.frame_count
                    if not warned and total and position < total - 2:
                        warned = True
                        self.on_status(
                            SourceStatus(SourceEvent.DAMAGED, damaged_message(self.source.spec, position, total))
                        )
                    position = 0  # (a loop is a cut only if its first frame differs from its last, as it looks)
                    if self.loop and self.source.rewind():
                        continue
                    self.on_status(SourceStatus(SourceEvent.ENDED, "End of video."))
                    return
                self._reconnect()
                scenes.new_scene()
                continue
            self.on_frame(Frame(index, time.monotonic(), image, scenes.next(image)))
            index += 1
            position += 1
            if self.realtime and self.source.is_file:
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    self._stop_event.wait(delay)
                else:
                    next_due = time.monotonic()

    def _reconnect(self) -> None:
        from faceapp.errors import CameraError

        self.on_status(SourceStatus(SourceEvent.LOST, f"Camera {self.source.spec} was lost; retrying..."))
        self.source.close()
        while not self._stop_event.wait(1.0):
            try:
                self.source.open()
            except CameraError:
                continue
            self.on_status(SourceStatus(SourceEvent.BACK, f"Camera {self.source.spec} is back."))
            return


def damaged_message(spec: object, readable: int, total: int) -> str:
    """What the user is told about a file that cannot be read to its end."""
    return (
        f"The video {spec} cannot be read past frame {readable} of {total} (the file is damaged); "
        f"only its first {readable} frames play, in a loop."
    )


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# Mean absolute difference (0-255 grey levels) of two frames' 32x24 thumbnails above which the scene changed: the
# Hamilton clip's three cuts measure 26-30, its other consecutive frames at most 13 (median 2.5).
SCENE_CUT = 20.0
# ... and of a face box's 16x16 patch, above which the face has left that box (a stale box would be drawn there).
PATCH_CHANGED = 28.0


def signature(image: np.ndarray, size: tuple[int, int] = (32, 24)) -> np.ndarray:
    """A small grey thumbnail of an RGB frame, to compare scenes cheaply (microseconds)."""
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def scene_changed(a: np.ndarray, b: np.ndarray, threshold: float = SCENE_CUT) -> bool:
    """Whether two consecutive frames' signatures (`signature`) show different scenes. Each is centred on its mean
    first, so a camera's exposure change is not a cut (the Hamilton clip's cuts measure 25.6-32.6 centred, its other
    consecutive frames at most 12.8). Only for consecutive frames: motion adds up over time."""
    if a.shape != b.shape:
        return True
    return float(np.abs((a - a.mean()) - (b - b.mean())).mean()) > threshold


class SceneCounter:
    """Numbers the scenes of a stream of consecutive frames (the capture thread's; microseconds a frame)."""

    def __init__(self) -> None:
        self.scene = 0
        self._last: np.ndarray | None = None

    def next(self, image: np.ndarray) -> int:
        """The scene number of the frame after the previous one."""
        seen = signature(image)
        if self._last is not None and scene_changed(self._last, seen):
            self.scene += 1
        self._last = seen
        return self.scene

    def new_scene(self) -> None:
        """The next frame starts a new scene whatever it shows (a rewind, a reconnect)."""
        if self._last is not None:
            self.scene += 1
        self._last = None


def patch_changed(
    a: np.ndarray,
    b: np.ndarray,
    box: tuple[float, float, float, float],
    threshold: float = PATCH_CHANGED,
    reach: float = 0.25,
) -> bool:
    """Whether the face frame `a` shows inside `box` has left that place in frame `b`: no window of `b` within
    `reach` box sizes of the box (a face moves during a recognition delay) shows what `a` shows there."""
    if a is b:
        return False  # the very frame the box was found in
    if a.shape != b.shape:
        return True
    h, w = a.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, round(box[2])), min(h, round(box[3]))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return True
    pa = signature(a[y1:y2, x1:x2], (16, 16))
    pa -= pa.mean()
    step_x, step_y = (x2 - x1) * reach / 2, (y2 - y1) * reach / 2
    for dx, dy in _NEAREST_FIRST:  # the face has usually not moved: the first window answers (painted every frame)
        ox, oy = round(dx * step_x), round(dy * step_y)
        if x1 + ox < 0 or y1 + oy < 0 or x2 + ox > w or y2 + oy > h:
            continue
        pb = signature(b[y1 + oy : y2 + oy, x1 + ox : x2 + ox], (16, 16))
        if float(np.abs(pa - (pb - pb.mean())).mean()) <= threshold:
            return False
    return True


# The 5 x 5 windows patch_changed looks at, nearest the box first (the answer does not depend on the order).
_NEAREST_FIRST = sorted(((dx, dy) for dy in range(-2, 3) for dx in range(-2, 3)), key=lambda d: d[0] ** 2 + d[1] ** 2)

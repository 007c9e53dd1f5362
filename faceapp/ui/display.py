"""The live view's per-frame work, done on the capture thread so that the GUI thread only copies pixels.

For each captured frame, before it is posted to the GUI: the frame scaled (and mirrored) to the size the view shows
it at, as a ready RGB32 QImage, and which boxes of the newest recognition result have left that frame (the stale-box
check of `core.video.patch_changed`). A paint uses both only when they are for the frame it shows, at the view's
present size and mirroring, against the very result it draws; otherwise it does the work itself, as before.
Measured (docs/benchmarks.md, "The paint off the GUI thread"): scaling and the box check were most of a paint.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtGui import QImage

from faceapp.core.live import FrameResult
from faceapp.core.video import Frame, patch_changed

MAX_AGE = 6.0  # seconds between a result's frame and the shown one past which its boxes are not drawn at all
KEEP = 8  # prepared frames held for the GUI (it takes each within a frame or two; older ones are dropped)


@dataclass(frozen=True)
class Target:
    """Where the view draws frames: its size in pixels, and whether it mirrors them."""

    width: int
    height: int
    mirror: bool


def placement(frame_w: int, frame_h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, w, h): a frame_w x frame_h frame fitted into width x height, aspect kept, centred, whole pixels."""
    scale = min(width / frame_w, height / frame_h)
    w, h = max(1, round(frame_w * scale)), max(1, round(frame_h * scale))
    return (width - w) // 2, (height - h) // 2, w, h


def stale_boxes(result: FrameResult, frame: Frame) -> tuple[bool, ...] | None:
    """For each face of `result`, whether its box has left `frame` (patch_changed); None where the view decides
    without looking at pixels (no image kept, the result's own frame, another scene, too old)."""
    if result.image is None or frame.index == result.frame_index:
        return None
    if abs(frame.timestamp - result.timestamp) > MAX_AGE or frame.scene != result.scene:
        return None
    return tuple(patch_changed(result.image, frame.image, f.detection.box) for f in result.faces)


@dataclass(frozen=True)
class Prepared:
    """One frame readied for the view."""

    frame: Frame
    target: Target
    rect: tuple[int, int, int, int]  # (left, top, w, h) in the view, from `placement`
    image: QImage  # w x h, RGB32, mirrored when the target is
    result: FrameResult | None  # the result `stale` was computed against (None: none yet)
    stale: tuple[bool, ...] | None  # stale_boxes(result, frame)


class DisplayPrep:
    """Thread affinity: `set_target` and `take` on the GUI thread, `note_result` on the recognition worker's,
    `prepare` on the capture thread's; every method is safe from any thread."""

    def __init__(self) -> None:
        self.target: Target | None = None  # replaced whole (one reference: no lock needed to read it)
        self._result: FrameResult | None = None
        self._ready: OrderedDict[int, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def set_target(self, width: int, height: int, mirror: bool) -> None:
        """The view's size or mirroring changed: frames prepared from now on are for it."""
        self.target = Target(width, height, mirror) if width >= 2 and height >= 2 else None

    def note_result(self, result: FrameResult | None) -> None:
        """The newest result, as it is posted to the GUI (the next frames' boxes are checked against it)."""
        self._result = result

    def reset(self) -> None:
        """A new source or worker: forget the frames and result held."""
        with self._lock:
            self._result = None
            self._ready.clear()

    def prepare(self, frame: Frame) -> None:
        """Capture thread, before the frame is posted: ready it for the view's present target."""
        target, result = self.target, self._result
        if target is None:
            return
        h, w = frame.image.shape[:2]
        rect = placement(w, h, target.width, target.height)
        pw, ph = rect[2], rect[3]
        # INTER_AREA shrinks without aliasing; INTER_LINEAR is what the paint's smooth scaling did when enlarging.
        interpolation = cv2.INTER_AREA if pw < w else cv2.INTER_LINEAR
        scaled = cv2.resize(frame.image, (pw, ph), interpolation=interpolation) if (pw, ph) != (w, h) else frame.image
        if target.mirror:
            scaled = cv2.flip(scaled, 1)
        # The QImage owns its pixels (one wrapping a numpy buffer reads freed memory after PySide's temporary goes):
        # OpenCV converts straight into them. RGB32 is 0xffRRGGBB, that is B, G, R, A in memory.
        image = QImage(pw, ph, QImage.Format.Format_RGB32)
        pixels = np.frombuffer(image.bits(), np.uint8, ph * image.bytesPerLine()).reshape(ph, image.bytesPerLine())
        into = pixels[:, : 4 * pw].reshape(ph, pw, 4)
        if cv2.cvtColor(scaled, cv2.COLOR_RGB2BGRA, dst=into) is not into:
            raise RuntimeError("OpenCV did not convert into the image's memory")
        stale = stale_boxes(result, frame) if result is not None else None
        prepared = Prepared(frame, target, rect, image, result, stale)
        with self._lock:
            self._ready[frame.index] = prepared
            while len(self._ready) > KEEP:
                self._ready.popitem(last=False)

    def take(self, frame: Frame) -> Prepared | None:
        """GUI thread: what was prepared for this very frame (and drop what is older), or None."""
        with self._lock:
            prepared = self._ready.pop(frame.index, None)
            while self._ready and next(iter(self._ready)) < frame.index:
                self._ready.popitem(last=False)
        return prepared if prepared is not None and prepared.frame is frame else None

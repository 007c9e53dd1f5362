"""The live session: owns the frame source, the capture thread, the mailbox and the recognition worker."""

from __future__ import annotations

import logging
import os
import threading
import time

from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.evidence import TrackSink
from faceapp.core.live import FrameResult, RecognitionWorker
from faceapp.core.matching import GallerySnapshot
from faceapp.core.pipeline import PipelineWorker
from faceapp.core.types import MatchRule
from faceapp.core.video import CaptureThread, Frame, FrameSource, LatestFrameMailbox
from faceapp.ui.bridge import PipelineBridge
from faceapp.ui.display import DisplayPrep

log = logging.getLogger(__name__)


class LiveSession:
    """Capture and recognition threads for one source. Thread affinity: created, started and stopped on the GUI thread.

    The capture thread hands every frame to the bridge (the display) and to the single-slot mailbox; the worker
    takes the newest frame, so the display never waits for recognition.
    """

    def __init__(self, bridge: PipelineBridge, display: DisplayPrep | None = None) -> None:
        self.bridge = bridge
        self.display = display  # readies each frame for the view on the capture thread (ui.display)
        self._display_failed = False
        self.mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
        self.source: FrameSource | None = None
        self.capture: CaptureThread | None = None
        self.worker: RecognitionWorker | PipelineWorker | None = None
        self.claim: int | None = None  # verify mode's claimed person, kept across workers
        self.taps: list[LatestFrameMailbox[Frame]] = []  # more readers of the newest frame (a guided capture)
        self.paused = False  # the recognition worker is held between frames (it idles) while a guided capture runs
        self._tap_lock = threading.Lock()  # untap runs on the guided capture's hand-back thread
        self.rule: MatchRule | None = None  # the rule tracks are named under (None: the model's default), likewise
        self.track_sink: TrackSink | None = None  # who hears of ended tracks (the unknown-faces review), likewise
        self.captured = 0
        self.recognized = 0
        self._stopped = False  # a thread that outlived stop() must not emit into a closing window
        self._generation = 0  # ... nor into the next source's session: callbacks carry the generation they began in

    @property
    def running(self) -> bool:
        """Whether the capture thread is alive."""
        return self.capture is not None and self.capture.is_alive()

    @property
    def is_camera(self) -> bool:
        """Whether the open source is a camera (a file, or none, is not)."""
        return self.source is not None and not self.source.is_file

    @property
    def source_fps(self) -> float:
        """The frame rate the source reports (0 before open)."""
        return self.source.fps if self.source is not None else 0.0

    def open(self, spec: str | int, resolution: tuple[int, int] | None = None) -> None:
        """Open `spec` (camera index or file) and start capturing; CameraError when it cannot be opened."""
        source = FrameSource(spec, resolution)
        source.open()
        if self.display is not None:
            self.display.reset()  # a new source numbers its frames afresh
        self._stopped = False
        self._generation += 1
        generation = self._generation
        self.source = source
        self.capture = CaptureThread(
            source, lambda frame: self._on_frame(frame, generation), self.bridge.post_status, loop=True, realtime=True
        )
        self.capture.start()

    def start_recognition(self, analyzer: FaceAnalyzer, gallery: GallerySnapshot) -> None:
        """Start the worker on `analyzer` and `gallery` (or switch a running worker to them)."""
        if self.worker is not None and self.worker.is_alive():
            self.worker.set_analyzer(analyzer, gallery)
            return
        generation = self._generation
        # Detection, tracking and embedding overlap (issue 12) where the detector can re-locate a tracked face;
        # one that cannot (a stand-in) gets the one-thread worker, which detects in every frame it takes, and so
        # does FACEAPP_LIVE_PIPELINE=single (docs/benchmarks.md, "Live rate").
        staged = os.environ.get("FACEAPP_LIVE_PIPELINE", "staged") != "single"
        kind = PipelineWorker if staged and hasattr(analyzer.detector, "detect_near") else RecognitionWorker
        self.worker = kind(
            self.mailbox,
            analyzer,
            gallery,
            lambda result: self._on_result(result, generation),
            on_error=self.bridge.post_error,
        )
        self.worker.set_claim(self.claim)
        if self.rule is not None:
            self.worker.set_rule(self.rule)
        self.worker.set_track_sink(self.track_sink)
        with self._tap_lock:
            if self.paused:  # a guided capture holds the analyzer: the new worker waits for it too
                self.worker.gate.pause()
        self.worker.start()

    def stop_recognition(self, timeout: float = 0.8) -> bool:
        """Stop the recognition worker only (the capture goes on); start_recognition starts a new one. True when it
        ended within `timeout`."""
        worker, self.worker = self.worker, None
        if worker is None:
            return True
        worker.stop()  # closes its mailbox: the next worker gets a new one
        self.mailbox = LatestFrameMailbox()
        worker.join(timeout)
        if worker.is_alive():
            log.warning("the recognition worker is still running after %.1f s", timeout)
        return not worker.is_alive()

    def set_gallery(self, gallery: GallerySnapshot) -> None:
        """Swap in a new gallery snapshot (after an enrollment or deletion commits)."""
        if self.worker is not None:
            self.worker.set_gallery(gallery)

    def set_claim(self, person_id: int | None) -> None:
        """Verify mode's claimed person (None: off), from the next recognised frame on."""
        self.claim = person_id
        if self.worker is not None:
            self.worker.set_claim(person_id)

    def set_rule(self, rule: MatchRule) -> None:
        """The rule (tau and margin) live tracks are named under, from the next recognised frame on."""
        self.rule = rule
        if self.worker is not None:
            self.worker.set_rule(rule)

    def set_track_sink(self, sink: TrackSink | None) -> None:
        """Who hears of each live track that ends (called on the worker's thread; core.evidence)."""
        self.track_sink = sink
        if self.worker is not None:
            self.worker.set_track_sink(sink)

    def stop(self, timeout: float = 0.8) -> bool:
        """Stop both threads: set their events, wake them, join with a shared timeout. True when both ended."""
        deadline = time.monotonic() + timeout
        self._stopped = True
        threads = [t for t in (self.capture, self.worker) if t is not None]
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            log.warning("threads still running after %.1f s: %s", timeout, ", ".join(alive))
        self.capture = None
        self.worker = None
        self.mailbox = LatestFrameMailbox()
        return not alive

    def _on_frame(self, frame: Frame, generation: int) -> None:
        """Capture thread: the display gets every frame; the worker gets the newest."""
        if self._stopped or generation != self._generation:
            return
        self.captured += 1
        if self.display is not None and not self._display_failed:
            try:
                self.display.prepare(frame)
            except Exception:  # the view converts the frame itself, as without a prep: the capture goes on
                self._display_failed = True
                log.exception("preparing frames for the view failed; the view converts them itself from now on")
        self.bridge.post_frame(frame)  # first: a fast worker's result must not reach the view before its frame
        for tap in list(self.taps):
            tap.put(frame)
        if not self.paused:
            self.mailbox.put(frame)

    def tap(self, pause: bool = True) -> LatestFrameMailbox[Frame]:
        """A mailbox of its own that gets every new frame from now on (guided enrollment's). With `pause` the
        recognition worker is asked to stop between two frames until the last untap: it shares the analyzer with the
        tap's reader, which must `wait_paused` before using it (and on a small machine the capture has the CPU)."""
        mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
        with self._tap_lock:
            self.taps = [*self.taps, mailbox]
            if pause and not self.paused:
                self.paused = True
                if self.worker is not None:
                    self.worker.gate.pause()
        return mailbox

    def wait_paused(self, timeout: float, mailbox: LatestFrameMailbox[Frame] | None = None) -> bool:
        """Any thread: True once the recognition worker has acknowledged the pause (it finished its frame in hand and
        left the analyzer, and takes no frame until untap) or is not running; False after `timeout` seconds.

        With `mailbox` (the caller's tap), also only once every older tap is gone: a guided capture whose dialog
        closed is untapped only after its worker left the analyzer, so the next capture waits for that.
        """
        deadline = time.monotonic() + timeout
        while mailbox is not None:
            with self._tap_lock:
                if not self.taps or self.taps[0] is mailbox:
                    break
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        with self._tap_lock:
            worker, paused = self.worker, self.paused
        if worker is None:
            return paused
        return paused and worker.gate.wait_paused(max(0.0, deadline - time.monotonic()), worker.is_alive)

    def untap(self, mailbox: LatestFrameMailbox[Frame]) -> None:
        """Any thread: stop feeding `mailbox`; once no tap is left the recognition worker goes on. Call it only once
        the tap's reader has left the analyzer."""
        mailbox.close()
        with self._tap_lock:
            self.taps = [t for t in self.taps if t is not mailbox]
            if self.taps or not self.paused:
                return
            self.paused = False
            if self.worker is not None:
                self.worker.gate.resume()

    def _on_result(self, result: FrameResult, generation: int) -> None:
        """Worker thread: pass the result on."""
        if self._stopped or generation != self._generation:
            return
        self.recognized += not result.again  # frames recognized; a frame reported again is no new one
        if self.display is not None:
            self.display.note_result(result)  # the next frames' boxes are checked against it, before they are posted
        self.bridge.post_result(result)


# The threads that run torch or OpenCV (the gallery runner and watcher end with the engine, after these).
INFERENCE_THREADS = frozenset(
    {"faceapp-capture", "faceapp-recognition", "faceapp-detect", "faceapp-embed", "faceapp-guided"}
)


def finish_threads(timeout: float = 10.0) -> list[str]:
    """After the window has closed: wait for faceapp's own threads still busy (a recognition frame slower than the
    close timeout), so the interpreter never exits under a thread running torch or OpenCV, which aborts the process
    ("terminate called without an active exception"). Returns the names still alive after `timeout` (logged)."""
    import threading

    deadline = time.monotonic() + timeout
    current = threading.current_thread()
    busy = [t for t in threading.enumerate() if t is not current and t.name in INFERENCE_THREADS and t.is_alive()]
    for thread in busy:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in busy if t.is_alive()]
    if alive:
        log.warning("threads still running %.0f s after the window closed: %s", timeout, ", ".join(alive))
    return alive

"""`faceapp bench gui`: the live window's frame rates, event-loop latency, start-up and enrollment times, offscreen."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

T0 = time.monotonic()


def _pump(seconds: float, until: Any = None) -> bool:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.002)
    return False


def _slow(embedder: Any, factor: float) -> Any:
    """Wrap `embedder` so each live embedding call costs `factor` times as long (the extra time spent sleeping).

    `embed` is what the live worker calls, for every model (the fusion's does not go through its embed_chips)."""
    original = embedder.embed

    def embed(image: np.ndarray, detections: Any) -> Any:
        start = time.perf_counter()
        out = original(image, detections)
        time.sleep((factor - 1) * (time.perf_counter() - start))
        return out

    embedder.embed = embed
    return embedder


def _letterboxed_copy(source: Path, out: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """`source` re-encoded at `size` (aspect kept, padded), for the 640x480 recognition-rate run."""
    import cv2

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        s = min(size[0] / w, size[1] / h)
        small = cv2.resize(frame, (round(w * s), round(h * s)))
        canvas = np.zeros((size[1], size[0], 3), np.uint8)
        y, x = (size[1] - small.shape[0]) // 2, (size[0] - small.shape[1]) // 2
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        writer.write(canvas)
    cap.release()
    writer.release()
    return out


def _import_seconds() -> float:
    """What a new process spends importing Qt and the app's window before it can start (not counted above)."""
    import subprocess

    code = "import time; t = time.perf_counter(); import faceapp.app, faceapp.ui.main_window; "
    code += "print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def _enroll(db: Path, people: list[tuple[str, str]]) -> None:
    """Enroll NAME=IMAGE pairs into the benchmark's gallery."""
    from faceapp.engine import Engine

    engine = Engine.open(db, None)
    try:
        for name, image in people:
            engine.enroll(name, [image])
    finally:
        engine.close()


def _dump_stale(
    folder: Path, image: np.ndarray, boxes: list[tuple[float, float, float, float]], found: list[Any], tag: str
) -> None:
    """One sampled frame with its unmatched drawn boxes (red) and the reference's boxes (green) as a PNG."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    canvas = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    for colour, group in (((0, 0, 255), boxes), ((0, 200, 0), found)):
        for x1, y1, x2, y2 in group:
            cv2.rectangle(canvas, (int(x1), int(y1)), (int(x2), int(y2)), colour, 2)
    cv2.imwrite(str(folder / f"{tag}-{time.monotonic_ns() % 10**9:09d}.png"), canvas)


class _Reference:
    """What is in a frame, for the checker: the live detector's full pass (a twin, so the window's own model is not
    touched) and, for a drawn box it does not find, two more sensitive passes of different families over the box and
    its size again on each side: MTCNN at full resolution down to 20-pixel faces, and YuNet at its usual score. A
    drawn box none of them overlaps covers no face: it is stale. One the live pass misses but another finds is a face
    the tracker follows (dim, small or in profile) that the live full pass at its scale does not see."""

    def __init__(self, live_detector: Any) -> None:
        self.live = live_detector.twin()
        self._sensitive: list[Any] | None = None

    def sensitive(self) -> list[Any]:
        if self._sensitive is None:
            from faceapp.core.detect import DetectorConfig
            from faceapp.core.detectors import create_detector

            config = DetectorConfig(min_face_size=20, scale=1.0, max_side=4096)
            self._sensitive = [create_detector("mtcnn", config), create_detector("yunet", config)]
        return self._sensitive

    def check(
        self, image: np.ndarray, boxes: list[tuple[float, float, float, float]]
    ) -> tuple[list[tuple[float, float, float, float]], list[tuple[float, float, float, float]], list[Any]]:
        """(boxes the live pass misses, those of them no detector finds, the boxes found) for one frame."""
        from faceapp.core.analyzer import own_threads
        from faceapp.core.video import iou

        own_threads(1)  # with torch's 2 threads on a busy machine a frame took 4 s of wall time, not 0.1 s

        def unmatched(candidates: list[Any], found: list[Any]) -> list[Any]:
            return [b for b in candidates if max((iou(b, f) for f in found), default=0.0) < 0.3]

        found = [d.box for d in self.live.detect(image)]
        missed = unmatched(boxes, found)
        for x1, y1, x2, y2 in missed:  # the sensitive passes look around each box only: a fraction of a full pass
            w, h = x2 - x1, y2 - y1
            left, top = max(0, int(x1 - w)), max(0, int(y1 - h))
            crop = np.ascontiguousarray(image[top : int(y2 + h) + 1, left : int(x2 + w) + 1])
            for detector in self.sensitive():
                found += [
                    (a + left, b + top, c + left, d + top) for a, b, c, d in (f.box for f in detector.detect(crop))
                ]
        return missed, unmatched(missed, found), found


class _Truth:
    """Samples what the window shows while it runs: the boxes drawn on the frame shown (compared afterwards with
    what is in that very frame, see `_Reference`: a drawn box over no face is stale), clicks on drawn boxes (each
    must reach the enroll dialog, never "already gone by"), and the status bar's figures against the rates counted
    here over the same seconds.

    With `store`, the sampled frames go to that folder as they are taken and are checked only when `check` is
    called (the soak checks after its last span, so that no detection runs on the GUI thread while it is measured).
    """

    def __init__(
        self,
        window: Any,
        every_ms: int = 150,
        max_samples: int = 400,
        dump: Path | None = None,
        store: Path | None = None,
    ) -> None:
        from PySide6.QtCore import QTimer

        from faceapp.ui import flows

        self.window = window
        self.dump = dump  # where to write each unmatched box's frame for a look
        self.store = store
        # (shown frame or its file, boxes drawn on it, frames between the result's frame and the shown one)
        self.samples: list[tuple[np.ndarray | Path, list[tuple[float, float, float, float]], int]] = []
        self.max_samples = max_samples  # frames kept for the check (each costs a full detection at the end)
        self.clicks = self.opened = self.gone_by = 0
        self.ticks = 0
        self.counts: list[tuple[float, int, int]] = []  # (time, results recognised, frames painted), counted here
        self.timer = QTimer()
        self.timer.setInterval(every_ms)
        self.timer.timeout.connect(self._sample)
        self._flows, self._enroll_face = flows, flows.enroll_face
        window.status.messageChanged.connect(self._on_message)

    def start(self) -> None:
        """Start sampling; clicks open no dialog (the call is counted instead)."""

        def opened(*args: object) -> None:
            self.opened += 1

        setattr(self._flows, "enroll_face", opened)  # noqa: B010 - count, open nothing
        self.counts.append((time.monotonic(), self.window.session.recognized, self.window.view.painted))
        self.timer.start()

    def _on_message(self, text: str) -> None:
        self.gone_by += "gone by" in text

    def _sample(self) -> None:
        from PySide6.QtCore import QPoint, Qt
        from PySide6.QtTest import QTest

        view = self.window.view
        frame = view.frame
        self.ticks += 1
        self.counts.append((time.monotonic(), self.window.session.recognized, view.painted))
        if frame is None or view.drawn[0] != frame.index:
            return
        faces = list(view.drawn[1])
        if faces and len(self.samples) < self.max_samples:
            drawn_from = view.drawn_result  # the result the painted boxes came from
            lag = frame.index - drawn_from.frame_index if drawn_from is not None else -1
            image: np.ndarray | Path = frame.image
            if self.store is not None:
                self.store.mkdir(parents=True, exist_ok=True)
                image = self.store / f"{id(self):x}-{len(self.samples):04d}.npy"
                np.save(image, frame.image)
            self.samples.append((image, [f.detection.box for f in faces], lag))
        if faces and self.ticks % 4 == 0:  # a click on a drawn box about every 4 samples
            centre = view.box_rect(faces[0]).center()
            self.clicks += 1
            QTest.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(int(centre.x()), int(centre.y())))

    def finish(self, recognized: int, painted: int, elapsed: float) -> dict[str, float]:
        """Stop; the clicks and the status bar's rates now, and without `store` the drawn boxes too (off the
        clock)."""
        self.timer.stop()
        now = time.monotonic()
        self.counts.append((now, self.window.session.recognized, self.window.view.painted))  # the rates up to now
        setattr(self._flows, "enroll_face", self._enroll_face)  # noqa: B010 - undo the stand-in
        self.window.status.messageChanged.disconnect(self._on_message)
        status = self.window.status
        shown_recognition, shown_display = status.recognition.rate(now), status.display.rate(now)
        # The status bar shows a recent rate: compare it with what was counted here over a recent span of the same
        # length (its 3 s window, or the time its last 4 results took when they are rarer).
        span = max(status.recognition.window, status.recognition.min_events / max(recognized / elapsed, 0.05))
        real_recognition = self._recent(now, span, 1)
        real_display = self._recent(now, status.display.window, 2)
        figures = {
            "clicks": float(self.clicks),
            "clicks_opened": float(self.opened),
            "clicks_gone_by": float(self.gone_by),
            "status_recognition_fps": shown_recognition,
            "status_recognition_error": abs(shown_recognition - real_recognition) / max(real_recognition, 1e-9),
            "status_display_fps": shown_display,
            "status_display_error": abs(shown_display - real_display) / max(real_display, 1e-9),
        }
        return figures if self.store is not None else {**figures, **self.check()}

    def check(self, reference: _Reference | None = None) -> dict[str, float]:
        """The drawn boxes of every sample against what is in its frame (`_Reference`); stored frames are deleted."""
        reference = reference or _Reference(self.window.live_detector)
        drawn = stale = missed = 0
        lags: list[int] = []
        sampled = len(self.samples)
        for image, boxes, lag in self.samples:
            frame = np.load(image) if isinstance(image, Path) else image
            if isinstance(image, Path):
                image.unlink(missing_ok=True)
            not_live, over_nothing, found = reference.check(frame, boxes)
            drawn, stale = drawn + len(boxes), stale + len(over_nothing)
            missed += len(not_live) - len(over_nothing)  # on a face, which only the sensitive passes found
            lags += [lag] * len(over_nothing)
            if not_live and self.dump is not None:
                tag = f"{'stale' if over_nothing else 'face'}-lag{lag}"
                _dump_stale(self.dump, frame, over_nothing or not_live, found, tag)
        self.samples = []
        return {
            "sampled_frames": float(sampled),
            "drawn_boxes": float(drawn),
            "stale_boxes": float(stale),
            "live_pass_missed": float(missed),  # drawn on a face the live full pass does not find (not stale)
            "stale_lag_max_frames": float(max(lags, default=0)),
        }

    def _recent(self, now: float, span: float, column: int) -> float:
        """Events per second counted over the last `span` seconds (column 1 results, 2 frames): from the count at
        `now` (finish adds it) back to the count at `now - span`, read between the two samples around it."""
        times = [c[0] for c in self.counts]
        if len(times) < 2 or now - times[0] <= 0:
            return float("nan")
        begin = max(now - span, times[0])
        last = self.counts[-1][column]
        first = float(np.interp(begin, times, [c[column] for c in self.counts]))
        return (last - first) / (now - begin)


class _Run:
    """One window on one source, measured."""

    def __init__(self, db: Path, source: Path, factor: float = 1.0, detector: str = "mtcnn") -> None:
        from faceapp.core.embedders.registry import create_embedder
        from faceapp.engine import Engine
        from faceapp.settings import Settings
        from faceapp.ui.main_window import MainWindow

        def factory(name: str) -> Any:
            embedder = create_embedder(name)
            return _slow(embedder, factor) if factor > 1 else embedder

        self.engine = Engine.open(db, None, embedder_factory=factory)
        settings = Settings(source=str(source), mirror_view=False, detector=detector)
        self.window = MainWindow(self.engine, settings, persist_settings=False)
        self.window.resize(960, 640)
        self.window.show()
        self.window.start()
        self._unchecked: list[tuple[_Truth, dict[str, float]]] = []  # measurements whose boxes close() checks

    def wait_recognizing(self, timeout: float = 60) -> bool:
        """Until the first result arrives."""
        return _pump(timeout, lambda: self.window.session.recognized > 0)

    def measure(self, seconds: float, truth: bool = False) -> dict[str, float]:
        """Display fps, recognition updates per second and event-loop lateness over `seconds`; with `truth`, also
        what the window shows against what is so (see `_Truth`)."""
        from PySide6.QtCore import QTimer

        w = self.window
        # The drawn boxes are checked when the window has closed (close): a check on the GUI thread now would let
        # the capture thread's frames pile up behind it, into the next measurement.
        checker = _Truth(w, store=Path(tempfile.mkdtemp(prefix="faceapp-bench-gui-"))) if truth else None
        lateness: list[float] = []
        last = [time.perf_counter()]
        probe = QTimer()
        probe.setInterval(10)

        shown: list[float] = []  # capture to shown (ms) of each new result the view holds
        seen = [w.view.result]

        def on_probe() -> None:
            now = time.perf_counter()
            lateness.append(max(0.0, (now - last[0]) * 1000 - 10))
            last[0] = now
            result = w.view.result
            if result is not None and result is not seen[0]:
                seen[0] = result
                shown.append((time.monotonic() - result.timestamp) * 1000)

        probe.timeout.connect(on_probe)
        painted, captured, recognized, t = w.view.painted, w.session.captured, w.session.recognized, time.monotonic()
        prepared = w.view.prepared_paints
        probe.start()
        if checker is not None:
            checker.start()
        _pump(seconds)
        probe.stop()
        elapsed = time.monotonic() - t
        # The counts of the measured span, taken now: the window goes on while the checker works off the clock.
        painted = w.view.painted - painted
        prepared = w.view.prepared_paints - prepared
        captured = w.session.captured - captured
        recognized = w.session.recognized - recognized
        checked = checker.finish(recognized, painted, elapsed) if checker else {}
        out = {
            **checked,
            "source_fps": w.session.source_fps,
            "display_fps": painted / elapsed,
            "captured_fps": captured / elapsed,
            "recognition_fps": recognized / elapsed,
            "gui_latency_p95_ms": float(np.percentile(lateness, 95)) if lateness else float("nan"),
            # issue 12: the share of captured frames recognized, and capture-to-shown (probed every 10 ms)
            "fresh_label_share": recognized / max(captured, 1),
            "prepared_paint_share": prepared / max(painted, 1),  # paints that only copied a prepared frame
            "shown_p50_ms": float(np.percentile(shown, 50)) if shown else float("nan"),
            "shown_p95_ms": float(np.percentile(shown, 95)) if shown else float("nan"),
        }
        if checker is not None:
            self._unchecked.append((checker, out))
        return out

    def time_to_recognize_new_person(self, timeout: float = 10) -> tuple[float, str]:
        """Seconds from saving the largest face in view as a new person to the view labelling it so, and why not
        when it could not be measured (nan)."""
        from faceapp.ui.enroll_dialog import EnrollDialog

        w = self.window
        _pump(timeout, lambda: w.view.result is not None and bool(w.view.result.faces))
        result = w.view.result
        if result is None or not result.faces:
            return float("nan"), f" (no face in view within {timeout:g} s)"
        # A face nobody is enrolled as: enrolling someone already known would not change the label shown.
        unknown = [f for f in result.faces if not f.accepted(w.rule())]
        if not unknown:
            return float("nan"), " (every face in view is already enrolled: pass a clip with a stranger)"
        face = max(unknown, key=lambda f: f.detection.area)
        image = result.image if result.image is not None else w.image_for(result.frame_index)
        w.engine.enroll_samples("Bench Person", [EnrollDialog.sample_of(image, face)])  # type: ignore[union-attr]
        saved = time.monotonic()  # the engine announces the change; the window reloads the snapshot on its runner

        def shown() -> bool:
            r = w.view.result
            return r is not None and any(f.label(w.rule()) == "Bench Person" for f in r.faces)

        if _pump(timeout, shown):
            return time.monotonic() - saved, ""
        return float("nan"), f" (not labelled within {timeout:g} s)"

    def close(self) -> float:
        """Close the window; seconds it took."""
        t = time.monotonic()
        self.window.close()
        self.engine.close()
        closed = time.monotonic() - t
        for checker, out in self._unchecked:  # the boxes of each measurement, now that nothing is measured
            assert checker.store is not None
            out.update(checker.check(_Reference(self.window.live_detector)))
            shutil.rmtree(checker.store, ignore_errors=True)
        self._unchecked.clear()
        return closed


def _measure_twice(run: _Run, seconds: float) -> dict[str, float]:
    """`seconds` with nothing but the app on the GUI thread, for its lateness, then `seconds` with the box checker
    (whose samples, a frame saved and a click every 150 ms, run on the GUI thread too) for everything else."""
    quiet = run.measure(seconds)
    out = run.measure(seconds, truth=True)  # this very dict gets the boxes' figures at close()
    out["gui_latency_p95_checked_ms"] = out["gui_latency_p95_ms"]
    out["gui_latency_p95_ms"] = quiet["gui_latency_p95_ms"]
    out["prepared_paint_share"] = quiet.get("prepared_paint_share", float("nan"))
    return out


def main(argv: list[str]) -> int:
    """Run the GUI benchmark; prints a table and writes --out JSON."""
    parser = argparse.ArgumentParser(prog="faceapp bench gui")
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--enroll", action="append", default=[], metavar="NAME=IMAGE")
    parser.add_argument("--slow-embedder-factor", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--detector", choices=("mtcnn", "yunet"), default="mtcnn", help="the live detector")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    enroll = [(item.split("=", 1)[0], item.split("=", 1)[-1]) for item in args.enroll]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="faceapp-bench-gui-"))
    os.environ["FACEAPP_DATA_DIR"] = str(home / "data")
    os.environ["FACEAPP_CONFIG_DIR"] = str(home / "config")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    _enroll(home / "g.sqlite3", enroll)  # before the launch clock starts: the app opens an existing gallery
    launch = time.monotonic()
    run = _Run(home / "g.sqlite3", args.source, detector=args.detector)
    _pump(30, lambda: run.window.view.painted > 0)
    report: dict[str, Any] = {"first_frame_s": time.monotonic() - launch, "imports_s": _import_seconds()}
    run.wait_recognizing()
    report["models_ready_s"] = time.monotonic() - launch
    _pump(3)  # torch's first passes on new input sizes are slow; measure the steady state
    report["normal"] = _measure_twice(run, args.seconds)
    report["new_person_recognized_s"], report["new_person_note"] = run.time_to_recognize_new_person()
    report["close_s"] = run.close()
    slow = _Run(home / "g.sqlite3", args.source, factor=args.slow_embedder_factor, detector=args.detector)
    slow.wait_recognizing()
    report["slow_embedder"] = _measure_twice(slow, args.seconds)  # the very dict close() adds the boxes to
    report["slow_embedder"]["factor"] = args.slow_embedder_factor
    slow.close()
    vga = _Run(home / "g.sqlite3", _letterboxed_copy(args.source, home / "vga.mp4"), detector=args.detector)
    vga.wait_recognizing()
    report["vga_640x480"] = vga.measure(args.seconds)
    vga.close()
    missed = _print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    app.processEvents()  # deliver what the closed windows' threads last posted, then leave Qt running to exit
    return 1 if missed else 0


Row = tuple[str, str, str, bool | None]  # measure, value, target, met (None: no target, or not measured)


def _fmt(value: float, text: str) -> str:
    return text if np.isfinite(value) else "not measured"


def rows(r: dict[str, Any]) -> list[Row]:
    """The report's rows, each with its target and whether it was met; a value that could not be measured (nan)
    counts as missed where there is a target."""
    n, slow, vga = r["normal"], r["slow_embedder"], r["vga_640x480"]
    nan = float("nan")

    def within(shown: float, source: float) -> bool:
        return bool(np.isfinite(shown) and abs(shown - source) <= 0.05 * source)

    def below(value: float, limit: float) -> bool:
        return bool(np.isfinite(value) and value < limit)

    new = r["new_person_recognized_s"]
    # Issue 12 asks for 28 recognized frames/s from a 30 fps camera: 28/30 of the source's rate for a slower one.
    vga_target = 28 * min(vga.get("source_fps", 30.0), 30.0) / 30
    out: list[Row] = [
        ("imports in a new process (Qt, faceapp)", f"{r['imports_s']:.2f} s", "", None),
        ("first frame painted after launch", f"{r['first_frame_s']:.2f} s", "< 2 s (with imports)",
         below(r["first_frame_s"] + r["imports_s"], 2.0)),
        ("models loaded, recognizing", f"{r['models_ready_s']:.2f} s", "", None),
        ("display fps / source fps", f"{n['display_fps']:.1f} / {n['source_fps']:.2f}", "within 5%",
         within(n["display_fps"], n["source_fps"])),
        ("recognition updates/s (source size)", f"{n['recognition_fps']:.1f}", "", None),
        ("GUI event-loop latency p95", _fmt(n["gui_latency_p95_ms"], f"{n['gui_latency_p95_ms']:.1f} ms"), "< 50 ms",
         below(n["gui_latency_p95_ms"], 50)),
        ("  same, with the box checker's samples", _fmt(n.get("gui_latency_p95_checked_ms", nan),
         f"{n.get('gui_latency_p95_checked_ms', nan):.1f} ms"), "", None),
        ("  paints from the capture thread's prepared frame", _fmt(n.get("prepared_paint_share", nan),
         f"{100 * n.get('prepared_paint_share', nan):.1f}%"), "", None),
        ("new person recognized after save", _fmt(new, f"{new:.2f} s") + r.get("new_person_note", ""), "< 1 s",
         below(new, 1.0)),
        (f"display fps, embedder x{slow['factor']:g} slower", f"{slow['display_fps']:.1f} / {slow['source_fps']:.2f}",
         "within 5%", within(slow["display_fps"], slow["source_fps"])),
        ("  recognition updates/s (slow)", f"{slow['recognition_fps']:.1f}", "", None),
        ("  GUI latency p95 (slow)", _fmt(slow["gui_latency_p95_ms"], f"{slow['gui_latency_p95_ms']:.1f} ms"),
         "< 50 ms", below(slow["gui_latency_p95_ms"], 50)),
        ("recognition updates/s at 640x480", f"{vga['recognition_fps']:.1f}",
         f">= {vga_target:.1f} (issue 12: 28 at 30 fps)", bool(vga["recognition_fps"] >= vga_target)),
        ("  source frames recognized at 640x480", f"{100 * vga.get('fresh_label_share', nan):.1f}%", ">= 95%",
         bool(vga.get("fresh_label_share", 0.0) >= 0.95)),
        ("  capture to shown p50 / p95 at 640x480", _fmt(vga.get("shown_p95_ms", nan),
         f"{vga.get('shown_p50_ms', nan):.0f} / {vga.get('shown_p95_ms', nan):.0f} ms"), "", None),
        ("  GUI latency p95 at 640x480", _fmt(vga.get("gui_latency_p95_ms", nan),
         f"{vga.get('gui_latency_p95_ms', nan):.1f} ms"), "<= 10 ms", below(vga.get("gui_latency_p95_ms", nan), 10.0)),
        ("window close", f"{r['close_s']:.2f} s", "< 1 s", below(r["close_s"], 1.0)),
    ]  # fmt: skip
    for name, run in (("", n), (" (slow)", slow)):
        if "drawn_boxes" not in run:
            continue
        out += [
            (f"stale boxes drawn{name}", f"{run['stale_boxes']:.0f} of {run['drawn_boxes']:.0f} "
             f"({run.get('live_pass_missed', 0):.0f} on faces the live pass misses)",
             "0 (box over no face in the shown frame)", run["stale_boxes"] == 0),
            (f"clicks on drawn boxes that opened enroll{name}", f"{run['clicks_opened']:.0f} of {run['clicks']:.0f}",
             "all; 0 'already gone by'", run["clicks_opened"] == run["clicks"] and run["clicks_gone_by"] == 0),
            (f"status bar recognition fps{name}", f"{run['status_recognition_fps']:.2f} "
             f"(off by {100 * run['status_recognition_error']:.1f}%)", "within 5%",
             run["status_recognition_error"] <= 0.05),
            (f"status bar display fps{name}", f"{run['status_display_fps']:.1f} "
             f"(off by {100 * run['status_display_error']:.1f}%)", "within 5%", run["status_display_error"] <= 0.05),
        ]  # fmt: skip
    return out


def _print(r: dict[str, Any]) -> int:
    """Print the table with a verdict per target; returns how many targets were missed."""
    table = rows(r)
    width = max(len(a) for a, _, _, _ in table)
    print(f"{'measure':<{width}}  {'value':>24}  {'verdict':<7}  target")
    for name, value, target, met in table:
        verdict = "" if met is None else ("ok" if met else "MISSED")
        print(f"{name:<{width}}  {value:>24}  {verdict:<7}  {target}")
    missed = [name.strip() for name, _, _, met in table if met is False]
    if missed:
        print(f"{len(missed)} target(s) missed: {'; '.join(missed)}", file=sys.stderr)
    return len(missed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

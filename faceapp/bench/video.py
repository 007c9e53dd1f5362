"""`faceapp bench video`: the live pipeline on a video file without a display.

The capture thread plays the file in real time and the recognition worker takes the newest frame, exactly as in the
app, so the figures are what a user sees: recognition rate, per-stage latency, labelled share, flicker, time to name.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from faceapp.core.catalog import spec as model_spec
from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.embedders.registry import create_embedder
from faceapp.core.live import FrameResult, LiveFace, RecognitionWorker
from faceapp.core.types import MatchRule
from faceapp.core.video import CaptureThread, Frame, FrameSource, LatestFrameMailbox
from faceapp.errors import FaceAppError


@dataclass(frozen=True)
class TruthSpan:
    """A person on screen from `start` to `end` frame (inclusive)."""

    start: int
    end: int
    name: str


def read_truth(path: Path) -> list[TruthSpan]:
    """CSV lines `start_frame,end_frame,name` (a header line is allowed)."""
    spans = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if len(row) == 3 and row[0].strip().isdigit():
                spans.append(TruthSpan(int(row[0]), int(row[1]), row[2].strip()))
    return spans


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan")}
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95))}


def summarize(
    results: list[FrameResult], tau: MatchRule | float, elapsed: float, fps: float, truth: list[TruthSpan] | None
) -> dict[str, object]:
    """The figures of one run from the worker's results."""
    stages = {k: _percentiles([r.timings[k] for r in results]) for k in ("detect", "embed", "match", "total")}
    face_frames = [(r, f) for r in results for f in r.faces]
    labelled = sum(f.accepted(tau) for _, f in face_frames)
    labels_by_track: dict[int, list[str]] = defaultdict(list)
    for _, f in face_frames:
        labels_by_track[f.track_id].append(f.label(tau))
    changes = [sum(a != b for a, b in pairwise(seq)) for seq in labels_by_track.values()]
    first_label: dict[str, float] = {}
    for r, f in face_frames:
        if f.accepted(tau) and f.name not in first_label:
            first_label[str(f.name)] = r.frame_index / fps
    out: dict[str, object] = {
        "recognitions": len(results),
        "recognition_fps": len(results) / elapsed if elapsed else 0.0,
        "latency_ms": stages,
        "face_frames": len(face_frames),
        "labelled_share": labelled / len(face_frames) if face_frames else 0.0,
        "embedded_share": sum(r.timings.get("embedded", len(r.faces)) for r in results) / max(len(face_frames), 1),
        "tracks": len(labels_by_track),
        "label_changes_per_track": float(np.mean(changes)) if changes else 0.0,
        "first_label_s": first_label,
    }
    if truth:
        out.update(_truth_figures(face_frames, tau, fps, truth))
    return out


FaceFrames = list[tuple[FrameResult, LiveFace]]


def _truth_figures(
    face_frames: FaceFrames, tau: MatchRule | float, fps: float, truth: list[TruthSpan]
) -> dict[str, object]:
    def on_screen(index: int) -> set[str]:
        return {s.name for s in truth if s.start <= index <= s.end}

    named = [(r, f) for r, f in face_frames if f.accepted(tau)]
    wrong = sum(f.name not in on_screen(r.frame_index) for r, f in named)
    first_correct: dict[str, float] = {}
    for span in truth:
        hits = [r.frame_index for r, f in named if f.name == span.name and span.start <= r.frame_index <= span.end]
        if hits and span.name not in first_correct:
            first_correct[span.name] = (min(hits) - span.start) / fps
    return {
        "wrong_labels": wrong,
        "labelled_precision": 1 - wrong / len(named) if named else 0.0,
        "time_to_first_correct_s": first_correct,
    }


def run(
    source: Path,
    enroll: dict[str, list[Path]],
    model: str,
    tau: float | None,
    scale: float,
    truth: list[TruthSpan] | None = None,
    plots: Path | None = None,
    margin: float | None = None,
) -> dict[str, object]:
    """Enroll into a throwaway gallery, play `source` through the live pipeline, and summarize."""
    import tempfile

    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository

    detector = Detector(DetectorConfig(scale=scale))
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(
            GalleryRepository(Path(tmp) / "bench.sqlite3"), model, detector=detector, embedder_factory=create_embedder
        )
        for name, images in enroll.items():
            engine.enroll(name, images)
        gallery, analyzer = engine.snapshot(), engine.analyzer
        engine.close()
    info = model_spec(model)
    rule = MatchRule(
        tau if tau is not None else info.default_threshold, margin if margin is not None else info.default_margin
    )
    frames = FrameSource(str(source))
    frames.open()
    fps, total = frames.fps, frames.frame_count
    mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
    results: list[FrameResult] = []
    lock = threading.Lock()

    def keep(result: FrameResult) -> None:
        with lock:
            results.append(result)

    worker = RecognitionWorker(mailbox, analyzer, gallery, keep)
    capture = CaptureThread(frames, mailbox.put, loop=False)
    worker.start()
    start = time.monotonic()
    capture.start()
    while not capture.finished.wait(2.0):
        played = (time.monotonic() - start) * fps
        print(f"playing: {played:.0f}/{total} frames, {len(results)} recognised", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - start
    worker.stop()
    worker.join(timeout=5)
    out = summarize(results, rule, elapsed, fps, truth)
    out.update(
        {
            "source": str(source),
            "source_fps": fps,
            "frames": total or None,  # read before playing: the capture thread closes the source at the end
            "model": model,
            "threshold": rule.threshold,
            "margin": rule.margin,
            "detection_scale": scale,
            "dropped_frames": mailbox.dropped,
        }
    )
    if plots is not None:
        path = plots / f"video-{Path(source).stem}.png"
        plot_run(results, rule, fps, path)
        out["plots"] = [str(path)]
    return out


def plot_run(results: list[FrameResult], tau: MatchRule | float, fps: float, path: Path) -> None:
    """Two panels over video time: each stage's latency, and each face track's label (Unknown in grey)."""
    from faceapp.bench.report import pyplot

    plt = pyplot()

    fig, (lat, lab) = plt.subplots(2, 1, figsize=(8, 6), dpi=100, sharex=True)
    t = [r.frame_index / fps for r in results]
    for stage in ("detect", "embed", "total"):
        lat.plot(t, [r.timings[stage] for r in results], label=stage, linewidth=1)
    lat.set_ylabel("latency (ms)")
    lat.legend(loc="upper right")
    lat.grid(True, alpha=0.3)
    names = sorted({f.label(tau) for r in results for f in r.faces} - {"Unknown"})
    colours = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(names)}
    for r in results:
        for f in r.faces:
            colour = colours.get(f.label(tau), (0.7, 0.7, 0.7))
            lab.scatter(r.frame_index / fps, f.track_id, s=12, color=colour)
    for name, colour in colours.items():
        lab.scatter([], [], color=colour, label=name)
    if names:
        lab.legend(loc="upper right", fontsize=8)
    lab.set_ylabel("face track (grey: Unknown)")
    lab.set_xlabel("video time (s)")
    lab.grid(True, alpha=0.3)
    rule = MatchRule.of(tau)
    fig.suptitle(f"bench video, tau {rule.threshold:g}, margin {rule.margin:g}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _parse_enroll(items: list[str]) -> dict[str, list[Path]]:
    table: dict[str, list[Path]] = defaultdict(list)
    for item in items:
        name, sep, image = item.partition("=")
        if not sep or not name or not image:
            raise FaceAppError(f"--enroll takes NAME=IMAGE, not {item!r}.")
        table[name].append(Path(image))
    return dict(table)


def main(argv: list[str]) -> int:
    """Command-line entry of `faceapp bench video`."""
    parser = argparse.ArgumentParser(prog="faceapp bench video", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--enroll", action="append", default=[], metavar="NAME=IMAGE")
    parser.add_argument("--truth", type=Path, help="CSV of start_frame,end_frame,name")
    parser.add_argument("--model", default="dlib-resnet")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--margin", type=float, help="ambiguity margin (default: the model's)")
    parser.add_argument("--scale", type=float, default=0.5, help="detection scale (the app uses 0.5)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plots", type=Path, help="write a latency and label timeline PNG into this folder")
    args = parser.parse_args(argv)
    truth = read_truth(args.truth) if args.truth else None
    result = run(
        args.source,
        _parse_enroll(args.enroll),
        args.model,
        args.threshold,
        args.scale,
        truth,
        args.plots,
        margin=args.margin,
    )
    lat = result["latency_ms"]
    assert isinstance(lat, dict)
    print(
        f"source {result['source']} ({result['source_fps']:.2f} fps), model {result['model']}, "
        f"tau {result['threshold']:g}, margin {result['margin']:g}, detection scale {args.scale:g}"
    )
    print(
        f"recognition rate      {result['recognition_fps']:.1f} /s ({result['recognitions']} frames recognised, "
        f"{result['dropped_frames']} skipped as stale)"
    )
    for stage in ("detect", "embed", "match", "total"):
        print(f"latency {stage:<8}      p50 {lat[stage]['p50']:7.1f} ms   p95 {lat[stage]['p95']:7.1f} ms")
    print(f"faces labelled        {100 * float(result['labelled_share']):.1f}% of {result['face_frames']} face-frames")  # type: ignore[arg-type]
    print(f"label changes/track   {result['label_changes_per_track']:.2f} over {result['tracks']} tracks")
    print(f"faces re-embedded     {100 * float(result['embedded_share']):.1f}% of face-frames (the rest: track's last)")  # type: ignore[arg-type]
    print(f"first label (s)       {result['first_label_s']}")
    if truth:
        print(f"wrong labels          {result['wrong_labels']} (precision {result['labelled_precision']:.3f})")
        print(f"time to first correct {result['time_to_first_correct_s']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print("(figures from one real-time run; rerun to see the spread)", file=sys.stderr)
    return 0

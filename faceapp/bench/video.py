"""`faceapp bench video`: the live pipeline on a video file without a display.

The capture thread plays the file in real time and the recognition worker takes the newest frame, exactly as in the
app, so the figures are what a user sees: recognition rate, per-stage latency, labelled share, flicker, time to name.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench import live_rate
from faceapp.bench.track_metrics import label_changes
from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.catalog import spec as model_spec
from faceapp.core.detect import DetectorConfig
from faceapp.core.detectors import create_detector
from faceapp.core.embedders.registry import create_embedder
from faceapp.core.live import FrameResult, LiveFace, RecognitionWorker
from faceapp.core.matching import GallerySnapshot
from faceapp.core.pipeline import PipelineWorker, own_threads
from faceapp.core.types import DETECTORS, MatchRule
from faceapp.core.video import Frame, LatestFrameMailbox
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


UNDECIDED = "…"  # a track's label before its evidence decides (the view's mark): leaving it is no label change
# Per-stage times a worker reports (ms); a stage that did not run for a frame is absent from its timings. *_cpu is
# the stage thread's CPU time, which shows threads spinning (issue 12) where wall time cannot.
STAGES = ("detect", "detect_cpu", "walk_in_embed", "track", "embed", "embed_cpu", "match", "total", "total_cpu")


def summarize(
    results: list[FrameResult], tau: MatchRule | float, elapsed: float, fps: float, truth: list[TruthSpan] | None
) -> dict[str, object]:
    """The figures of one run from the worker's results.

    A frame reported again (the staged pipeline's timings "again": a stage finished between two frames with faces
    that may be named) counts for wrong labels and stage times only: rates, shares and flicker are of each frame's
    first report.
    """
    every = results
    results = [r for r in every if "again" not in r.timings]
    stages = {k: _percentiles([r.timings[k] for r in every if k in r.timings]) for k in STAGES}  # all work done
    face_frames = [(r, f) for r in results for f in r.faces]
    labelled = sum(f.accepted(tau) for _, f in face_frames)
    labels_by_track: dict[int, list[str]] = defaultdict(list)
    for _, f in face_frames:
        labels_by_track[f.track_id].append(UNDECIDED if f.certainty == "undecided" else f.label(tau))
    changes = [label_changes(seq, UNDECIDED) for seq in labels_by_track.values()]
    first_label: dict[str, float] = {}
    for r, f in face_frames:
        if f.accepted(tau) and f.name not in first_label:
            first_label[str(f.name)] = r.frame_index / fps
    out: dict[str, object] = {
        "recognitions": len(results),
        "reported_again": len(every) - len(results),
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
        out.update(_truth_figures([(r, f) for r in every for f in r.faces], tau, fps, truth))
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


PIPELINES = ("staged", "single", "single-1t")  # the staged pipeline; the one-thread worker (torch default / 1 thread)


def run(
    source: Path,
    enroll: dict[str, list[Path]],
    model: str,
    tau: float | None,
    scale: float,
    truth: list[TruthSpan] | None = None,
    plots: Path | None = None,
    margin: float | None = None,
    detector: str = "mtcnn",
    pipelines: tuple[str, ...] = ("staged",),
    peer_python: str | None = None,
    gallery_samples: tuple[int, ...] = (0,),
) -> dict[str, object]:
    """Enroll into a throwaway gallery, play `source` through each live pipeline in turn, and summarize.

    The first pipeline's figures are the top level; with several (or a peer), `variants` holds one summary each,
    from the same process and clip, one after another. `gallery_samples` plays them against galleries filled up to
    each size with synthetic strangers (random unit vectors, 4 samples a person; 0: the enrolled people alone)."""

    galleries, analyzer = _analyzer(model, detector, scale, enroll, gallery_samples)
    info = model_spec(model)
    rule = MatchRule(
        tau if tau is not None else info.default_threshold, margin if margin is not None else info.default_margin
    )
    variants: dict[str, dict[str, object]] = {}
    for size, gallery in galleries.items():
        for pipeline in pipelines:

            def make(
                mailbox: LatestFrameMailbox[Frame],
                keep: Callable[[FrameResult], None],
                p: str = pipeline,
                g: GallerySnapshot = gallery,
            ) -> Any:
                return _worker(p, mailbox, analyzer, g, keep)

            played = live_rate.play(source, make)
            out = summarize(played.results, rule, played.elapsed, played.fps, truth)
            out.update(live_rate.figures(played, rule, truth))
            out.update({"pipeline": pipeline, "load": live_rate.load(), "gallery_samples": gallery.sample_count})
            label = pipeline if len(galleries) == 1 else f"{pipeline} @{size}"
            repeat = sum(1 for name in variants if name.split(" #")[0] == label)
            variants[label if not repeat else f"{label} #{repeat + 1}"] = out
        if plots is not None:
            path = plots / f"video-{Path(source).stem}-{pipeline}.png"
            plot_run(played.results, rule, played.fps, path)
            out["plots"] = [str(path)]
    if peer_python:
        for variant in live_rate.PEER_VARIANTS:
            variants[f"face_recognition {variant}"] = live_rate.peer(peer_python, source, enroll, variant, truth)
    out = dict(next(iter(variants.values())))
    out.update(
        {
            "source": str(source),
            "model": model,
            "detector": detector,
            "threshold": rule.threshold,
            "margin": rule.margin,
            "detection_scale": scale,
            "max_rss_mb": _max_rss_mb(),
        }
    )
    if len(variants) > 1:
        out["variants"] = variants
    return out


def _max_rss_mb() -> float:
    """This process's peak resident set (MB): models, gallery and every pipeline played."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _analyzer(
    model: str, detector: str, scale: float, enroll: dict[str, list[Path]], sizes: tuple[int, ...] = (0,)
) -> tuple[dict[int, GallerySnapshot], FaceAnalyzer]:
    """A throwaway gallery with `enroll` in it, filled with strangers up to each of `sizes` samples in turn (a
    snapshot of each), and the live analyzer (`detector` at `scale`, the model)."""
    import tempfile

    from faceapp.bench.scale import placeholder_crop, unit_rows
    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository

    found = create_detector(detector, DetectorConfig(scale=scale))
    rng = np.random.default_rng(0)
    crop = placeholder_crop()
    galleries: dict[int, GallerySnapshot] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(
            GalleryRepository(Path(tmp) / "bench.sqlite3"), model, detector=found, embedder_factory=create_embedder
        )
        for name, images in enroll.items():
            engine.enroll(name, images)
        strangers = 0
        for size in sorted(sizes):
            extra = size - engine.snapshot().sample_count
            if extra > 0:
                owners = np.arange(extra) // 4
                names = [f"Stranger {strangers + i:07d}" for i in range(int(owners[-1]) + 1)]
                strangers += len(names)
                engine.bulk_add(names, owners, unit_rows(rng, extra, model_spec(model).dim), crop)
            galleries[size] = engine.snapshot()
        analyzer = engine.analyzer
        engine.close()
    return galleries, analyzer


def _worker(
    pipeline: str,
    mailbox: LatestFrameMailbox[Frame],
    analyzer: FaceAnalyzer,
    gallery: GallerySnapshot,
    keep: Callable[[FrameResult], None],
) -> RecognitionWorker | PipelineWorker:
    if pipeline == "staged":
        return PipelineWorker(mailbox, analyzer, gallery, keep)
    if pipeline in ("single", "single-1t"):
        threads = 1 if pipeline == "single-1t" else os.cpu_count() or 1  # torch's default: one per core

        class Worker(RecognitionWorker):
            def warm(self, image: np.ndarray) -> None:
                self._state.analyzer.detector.detect(image)

            def run(self) -> None:
                own_threads(threads)
                super().run()

        return Worker(mailbox, analyzer, gallery, keep)
    raise FaceAppError(f"--pipeline takes {', '.join(PIPELINES)}, not {pipeline!r}.")


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


def _parse_sizes(text: str) -> tuple[int, ...]:
    """--gallery-samples: distinct sample counts >= 0, in the order given."""
    try:
        sizes = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise FaceAppError(f"--gallery-samples takes numbers separated by commas, not {text!r}.") from None
    if not sizes or min(sizes) < 0:
        raise FaceAppError(f"--gallery-samples takes numbers >= 0, not {text!r}.")
    return sizes


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
    parser.add_argument("--source", type=Path)
    parser.add_argument("--enroll", action="append", default=[], metavar="NAME=IMAGE")
    parser.add_argument("--truth", type=Path, help="CSV of start_frame,end_frame,name")
    parser.add_argument("--model", default="dlib-resnet")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--margin", type=float, help="ambiguity margin (default: the model's)")
    parser.add_argument("--scale", type=float, default=0.5, help="detection scale (the app uses 0.5)")
    parser.add_argument("--detector", choices=DETECTORS, default=DETECTORS[0])
    parser.add_argument(
        "--pipeline", default="staged", help=f"comma-separated, run one after another: {', '.join(PIPELINES)}"
    )
    parser.add_argument("--peer-python", help="an interpreter with face_recognition: its webcam loops as peer rows")
    parser.add_argument("--make-clips", type=Path, metavar="DIR", help="write the synthetic 640x480 clips and exit")
    parser.add_argument("--drift", action="store_true", help="measure tracked vs full-detection embeddings and exit")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plots", type=Path, help="write a latency and label timeline PNG into this folder")
    parser.add_argument(
        "--gallery-samples",
        default="0",
        help="comma-separated gallery sizes to play against, filled with synthetic strangers (e.g. 10,100000)",
    )
    args = parser.parse_args(argv)
    if args.make_clips:
        for line in live_rate.make_clips(args.make_clips):
            print(line)
        return 0
    if args.source is None:
        raise FaceAppError("--source is required (or --make-clips DIR).")
    pipelines = tuple(p.strip() for p in args.pipeline.split(",") if p.strip())
    if not pipelines or any(p not in PIPELINES for p in pipelines):
        raise FaceAppError(f"--pipeline takes {', '.join(PIPELINES)}, not {args.pipeline!r}.")
    truth = read_truth(args.truth) if args.truth else None
    if args.drift:
        analyzer = _analyzer(args.model, args.detector, args.scale, {})[1]
        figures = live_rate.drift(args.source, analyzer)
        for key, value in figures.items():
            assert isinstance(value, dict)
            print(f"d {key:<20} p50 {value['p50']:.4f}  p95 {value['p95']:.4f}  (n {value['n']})")
        return 0
    result = run(
        args.source,
        _parse_enroll(args.enroll),
        args.model,
        args.threshold,
        args.scale,
        truth,
        args.plots,
        margin=args.margin,
        detector=args.detector,
        pipelines=pipelines,
        peer_python=args.peer_python,
        gallery_samples=_parse_sizes(args.gallery_samples),
    )
    print(
        f"source {result['source']} ({result['source_fps']:.2f} fps, {result['frames']} frames), model "
        f"{result['model']}, detector {result['detector']}, tau {result['threshold']:g}, margin {result['margin']:g}, "
        f"detection scale {args.scale:g}"
    )
    variants = result.get("variants") or {result["pipeline"]: result}
    assert isinstance(variants, dict)
    for line in live_rate.table(variants):
        print(line)
    print(f"peak resident set    {result['max_rss_mb']:.0f} MB (this process)")
    if truth:
        print(f"wrong labels          {result['wrong_labels']} (precision {result['labelled_precision']:.3f})")
        print(f"time to first correct {result['time_to_first_correct_s']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    print("(figures from one real-time run; rerun to see the spread)", file=sys.stderr)
    return 0

"""Benchmarks behind `faceapp bench`: accuracy, speed and parity figures measured on local data (docs/benchmarks.md).

Suites: `lfw` (verification) and `identify` (open-set identification) are parsed here; `video`, `gui`, `soak`,
`startup`, `dlib-parity` and `small-gallery` are modules with their own `main(argv)`. Modules load lazily.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from faceapp.errors import FaceAppError

# Suites whose module parses its own arguments.
MODULE_SUITES = {
    "video": "faceapp.bench.video",
    "gui": "faceapp.bench.gui",
    "soak": "faceapp.bench.soak",
    "startup": "faceapp.bench.startup",
    "dlib-parity": "faceapp.bench.dlib_parity",
    "small-gallery": "faceapp.bench.small_gallery",
    "scale": "faceapp.bench.scale",
    "stations": "faceapp.bench.stations",
    "corrections": "faceapp.bench.corrections",
    "enroll": "faceapp.bench.enroll",
    "tracks": "faceapp.bench.tracks",
    "review": "faceapp.bench.review",
}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="the LFW folder (holding pairs.txt), or its parent")
    p.add_argument("--model", default="dlib-resnet", help="embedder name (default: dlib-resnet)")
    p.add_argument("--out", type=Path, help="write the full result as JSON here")
    p.add_argument("--plots", type=Path, help="write PNG plots into this folder")
    p.add_argument("--no-cache", action="store_true", help="embed every image again and keep nothing")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def build_parser() -> argparse.ArgumentParser:
    """The `faceapp bench` argument parser for the suites implemented here."""
    parser = argparse.ArgumentParser(prog="faceapp bench", description="Measure accuracy and speed on local data.")
    sub = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")
    p = sub.add_parser("lfw", help="LFW verification, official 10-fold pairs.txt protocol")
    _common(p)
    p.add_argument("--limit", type=int, help="only the first N same and N different pairs of each fold")
    p.add_argument("--pairs", default="pairs.txt", help="pairs file in the LFW folder (e.g. pairsDevTrain.txt)")
    p = sub.add_parser("identify", help="LFW one-shot open-set identification")
    _common(p)
    p.add_argument("--samples", type=int, default=1, help="K: gallery images per person (default 1)")
    p.add_argument("--margin", type=float, help="the ambiguity margin to measure (default: the model's)")
    p.add_argument("--people", help="only the people in this LFW people file, e.g. peopleDevTrain.txt")
    sub.add_parser("video", help="the live pipeline on a video file, without a display", add_help=False)
    sub.add_parser("gui", help="the live window: frame rates, event-loop latency, start-up", add_help=False)
    sub.add_parser("soak", help="the live window on a looping video for N minutes: alive, memory", add_help=False)
    sub.add_parser("startup", help="wall time of `faceapp --help` and a cold `faceapp identify`", add_help=False)
    sub.add_parser("dlib-parity", help="torch dlib-resnet against dlib's golden descriptors", add_help=False)
    sub.add_parser(
        "small-gallery",
        help="random 20- and 100-person galleries from LFW: named right, wrong, strangers",
        add_help=False,
    )
    sub.add_parser(
        "scale", help="a gallery of N samples on SQLite or PostgreSQL: load, latency, memory, recall", add_help=False
    )
    sub.add_parser("stations", help="two stations: propagation time; 4 processes enrolling at once", add_help=False)
    sub.add_parser(
        "corrections", help="LFW one-shot: strangers named before and after one 'not X' each", add_help=False
    )
    sub.add_parser("enroll", help="guided enrollment against one sample: clips and LFW", add_help=False)
    sub.add_parser(
        "tracks", help="live tracks named by evidence vs per frame and by vote: clips and LFW sequences", add_help=False
    )
    sub.add_parser("review", help="unknown faces of LFW as tracks: group purity, completeness, clicks", add_help=False)
    return parser


def _finish(result: dict[str, Any], text: str, out: Path | None) -> int:
    from faceapp.bench import report

    print(text)
    if out is not None:
        report.write_json(result, out)
        print(f"\nwrote {out}")
    return 0


def _run_lfw(args: argparse.Namespace) -> int:
    from faceapp.bench import lfw, report

    result = lfw.run(
        args.data, args.model, use_cache=not args.no_cache, limit=args.limit, pairs_file=args.pairs, progress=_progress
    )
    if args.plots is not None:
        path = args.plots / f"lfw-roc-{result['model']}.png"
        title = f"LFW ROC, {result['model']}"
        report.plot_curve(result["roc"]["far"], result["roc"]["tar"], path, title, "true accept rate")
        result["plots"] = [str(path)]
    return _finish(result, report.lfw_text(result), args.out)


def _run_identify(args: argparse.Namespace) -> int:
    from faceapp.bench import identify, report

    result = identify.run(
        args.data,
        args.model,
        samples=args.samples,
        margin=args.margin,
        people_file=args.people,
        use_cache=not args.no_cache,
        progress=_progress,
    )
    if args.plots is not None:
        path = args.plots / f"identify-dir-{result['model']}-k{args.samples}.png"
        curves = [
            ("distance only", result["dir_curve"]),
            (f"with margin {result['margin']:g} (the app)", result["dir_curve_margin"]),
        ]
        title = f"LFW open-set identification, {result['model']}, K={args.samples}"
        report.plot_curves(
            [(label, c["far"], c["dir"]) for label, c in curves], path, title, "detection and identification rate"
        )
        result["plots"] = [str(path)]
    return _finish(result, report.identify_text(result), args.out)


def main(argv: list[str]) -> int:
    """Run one benchmark suite; 0 on success, 2 on bad input."""
    if argv and argv[0] in MODULE_SUITES:
        try:
            return int(importlib.import_module(MODULE_SUITES[argv[0]]).main(argv[1:]))
        except FaceAppError as exc:
            print(f"faceapp bench: {exc}", file=sys.stderr)
            return 2
    args = build_parser().parse_args(argv)
    if args.threads:
        import cv2
        import torch

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)  # sface runs in OpenCV
    try:
        return _run_lfw(args) if args.suite == "lfw" else _run_identify(args)
    except FaceAppError as exc:
        print(f"faceapp bench: {exc}", file=sys.stderr)
        return 2

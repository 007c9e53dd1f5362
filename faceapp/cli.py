"""The `faceapp` command: the desktop app with no arguments, and enroll / identify / verify / people / models / bench.

Heavy modules (torch, cv2, Qt) are imported inside the handlers so `faceapp --help` stays fast.
Exit codes: 0 success, 1 no match or rejected, 2 bad input or an error the message explains, 3 a bug (logged).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceapp.errors import FaceAppError

if TYPE_CHECKING:
    from faceapp.core.types import MatchRule
    from faceapp.engine import Engine

EXIT_OK, EXIT_NO_MATCH, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
log = logging.getLogger("faceapp")


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--db", type=Path, default=default, help="gallery database file (default: user data dir)")
    parser.add_argument("--model", default=default, help="embedding model (see `faceapp models list`)")
    parser.add_argument("--threshold", type=float, default=default, help="distance tau: d <= tau is a match")
    parser.add_argument("--min-face", type=int, default=default, help="smallest face to detect, in pixels")
    parser.add_argument(
        "--detector", choices=("mtcnn", "yunet"), default=default, help="face detector (default: the saved setting)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="faceapp", description=__doc__.splitlines()[0])
    _common(parser, suppress=False)
    parser.add_argument("--source", default=None, help="the app's camera index or video file")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    shared = argparse.ArgumentParser(add_help=False)
    _common(shared, suppress=True)

    p = sub.add_parser("enroll", parents=[shared], help="enroll a person from one or more photos")
    p.add_argument("name")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument(
        "--strict", action="store_true", help="refuse photos with several faces instead of taking the largest"
    )
    p.set_defaults(handler=cmd_enroll)

    p = sub.add_parser("identify", parents=[shared], help="name every face in photos (1:K)")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument(
        "--margin",
        type=float,
        default=None,
        help="ambiguity guard: name a face only when the next person is at least (1 + MARGIN) times as far; 0 is off",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_identify)

    p = sub.add_parser("verify", parents=[shared], help="1:1: IMAGE --as NAME, or IMAGE1 IMAGE2")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--as", dest="claimed", metavar="NAME", help="the enrolled person the face claims to be")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("people", parents=[shared], help="list, rename or remove enrolled people")
    people = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    people.add_parser("list", parents=[shared], help="everyone enrolled with their sample count")
    q = people.add_parser("rename", parents=[shared], help="rename a person")
    q.add_argument("old")
    q.add_argument("new")
    q = people.add_parser("remove", parents=[shared], help="delete a person with their images and embeddings")
    q.add_argument("name")
    p.set_defaults(handler=cmd_people)

    p = sub.add_parser("models", parents=[shared], help="list, download or import model weights")
    models = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    models.add_parser("list", parents=[shared], help="models, their weights and defaults")
    q = models.add_parser("download", parents=[shared], help="download a FaceNet model's weights (needs internet)")
    q.add_argument("name")
    q = models.add_parser("import", parents=[shared], help="import a weights file you already have")
    q.add_argument("name")
    q.add_argument("file", type=Path)
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("bench", help="measure accuracy and speed (see docs/benchmarks.md)")
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_bench)
    return parser


# -- helpers --------------------------------------------------------------------------------------------------------
def open_engine(args: argparse.Namespace) -> Engine:
    """The engine on --db with --model applied (switching a gallery's model re-embeds its samples)."""
    from faceapp import paths, settings
    from faceapp.core.detect import DetectorConfig, create_detector
    from faceapp.core.embedders.base import model_info
    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository

    db = args.db or paths.default_db_path()
    name = args.detector or settings.load().detector
    detector = create_detector(name, DetectorConfig(min_face_size=args.min_face or 40))
    if args.model:
        model_info(args.model)
    engine = Engine(GalleryRepository(db), args.model, detector=detector)
    for note in engine.notes:
        print(note, file=sys.stderr)
    if args.model and args.model != engine.model:
        print(f"Switching the gallery from {engine.model} to {args.model}: re-embedding its samples.", file=sys.stderr)
        engine.switch_model(args.model)
    return engine


def threshold(args: argparse.Namespace, engine: Engine) -> float:
    """--threshold, else the user's setting for the model, else the model's default."""
    if args.threshold is not None:
        if not 0.0 < args.threshold < 4.0:
            raise FaceAppError(f"--threshold {args.threshold} is out of range: distances run from 0 to 4.")
        return float(args.threshold)
    from faceapp import settings

    return settings.load().threshold_for(engine.model, engine.default_threshold)


def match_rule(args: argparse.Namespace, engine: Engine) -> MatchRule:
    """tau (see `threshold`) with --margin, else the user's margin for the model, else the model's default."""
    from faceapp import settings
    from faceapp.core.types import MatchRule

    tau = threshold(args, engine)
    if args.margin is not None:
        if not 0.0 <= args.margin <= settings.MAX_MARGIN:
            raise FaceAppError(f"--margin {args.margin} is out of range (0 to {settings.MAX_MARGIN}).")
        return MatchRule(tau, float(args.margin))
    return MatchRule(tau, settings.load().margin_for(engine.model, engine.default_margin))


def _box(box: Sequence[float]) -> list[int]:
    return [round(v) for v in box]


# -- commands -------------------------------------------------------------------------------------------------------
def cmd_enroll(args: argparse.Namespace) -> int:
    """faceapp enroll NAME IMAGE..."""
    engine = open_engine(args)
    try:
        result = engine.enroll(args.name, args.images, largest=not args.strict)
    finally:
        engine.close()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    total = result.person.sample_count
    print(f"Enrolled {result.person.name!r}: {result.added} sample(s) added, {total} in all ({engine.model}).")
    return EXIT_OK


def cmd_identify(args: argparse.Namespace) -> int:
    """faceapp identify IMAGE... [--json]"""
    engine = open_engine(args)
    rule = match_rule(args, engine)
    report: list[dict[str, Any]] = []
    bad = named = 0
    try:
        for image in args.images:
            entry: dict[str, Any] = {"image": str(image), "faces": []}
            try:
                found = engine.identify(image, rule)
            except FaceAppError as exc:
                entry["error"] = str(exc)
                bad += 1
                report.append(entry)
                continue
            if not found:
                entry["error"] = f"{image}: no face found."
                bad += 1
            for r in found:
                named += r.match.accepted
                entry["faces"].append(
                    {
                        "box": _box(r.face.detection.box),
                        "name": r.match.label,
                        "distance": _round(r.match.distance),
                        "nearest": r.match.name,
                        "accepted": r.match.accepted,
                        "runner_up": r.match.runner_up_name,
                        "runner_up_distance": _round(r.match.runner_up),
                        "ambiguous": r.match.ambiguous,
                    }
                )
            report.append(entry)
    finally:
        engine.close()
    if args.json:
        out = {"model": engine.model, "threshold": rule.threshold, "margin": rule.margin, "results": report}
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for entry in report:
            if "error" in entry and not entry["faces"]:
                print(f"error: {entry['error']}", file=sys.stderr)
            for face in entry["faces"]:
                line = f"{entry['image']}\t{face['box']}\t{face['name']}\td={face['distance']}"
                if face["ambiguous"]:
                    line += (
                        f"\t(too close to call: {face['nearest']} d={face['distance']},"
                        f" {face['runner_up']} d={face['runner_up_distance']})"
                    )
                print(line)
    return EXIT_BAD_INPUT if bad else (EXIT_OK if named else EXIT_NO_MATCH)


def _round(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def cmd_verify(args: argparse.Namespace) -> int:
    """faceapp verify IMAGE --as NAME | faceapp verify IMAGE1 IMAGE2"""
    if args.claimed is None and len(args.images) != 2:
        raise FaceAppError("verify takes IMAGE --as NAME, or two images IMAGE1 IMAGE2.")
    if args.claimed is not None and len(args.images) != 1:
        raise FaceAppError("verify --as NAME takes exactly one image.")
    engine = open_engine(args)
    tau = threshold(args, engine)
    try:
        if args.claimed is not None:
            recognition, note = engine.verify(args.images[0], args.claimed, tau)
            dist, accepted, notes = recognition.match.distance, recognition.match.accepted, [note] if note else []
            who = recognition.match.name
        else:
            dist, notes = engine.compare(args.images[0], args.images[1])
            accepted, who = dist <= tau, None
    finally:
        engine.close()
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    verdict = "ACCEPT" if accepted else "REJECT"
    if args.json:
        print(
            json.dumps(
                {"verdict": verdict, "distance": _round(dist), "threshold": tau, "claimed": who}, ensure_ascii=False
            )
        )
    else:
        subject = f"as {who!r}" if who else "same person"
        print(f"{verdict} {subject}: d={_round(dist)} (tau={tau:g}, {engine.model})")
    return EXIT_OK if accepted else EXIT_NO_MATCH


def cmd_people(args: argparse.Namespace) -> int:
    """faceapp people list|rename|remove"""
    from faceapp import paths
    from faceapp.storage.repository import GalleryRepository

    with GalleryRepository(args.db or paths.default_db_path()) as repo:
        if args.action == "list":
            people = repo.list_people()
            for person in people:
                print(f"{person.name}\t{person.sample_count} sample(s)")
            print(f"{len(people)} people, model {repo.model or '(none yet)'}", file=sys.stderr)
        elif args.action == "rename":
            person = repo.rename_person(args.old, args.new)
            print(f"Renamed {args.old!r} to {person.name!r}.")
        else:
            removed = repo.remove_person(args.name)
            print(f"Removed {args.name!r} with {removed} sample(s) and their embeddings.")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    """faceapp models list|download|import"""
    from faceapp.core import weights
    from faceapp.core.embedders.base import MODELS, model_info

    if args.action == "list":
        for info in MODELS.values():
            path = weights.find(info.name)
            where = str(path) if path else "not on this machine"
            if path and info.name in weights.FUSED:
                where = "the weights of " + " + ".join(weights.FUSED[info.name])
            print(f"{info.name}\t{info.title}\tdim {info.dim}\ttau {info.default_threshold:g}\t{where}")
        return EXIT_OK
    model_info(args.name)
    if args.action == "download":
        print(f"Downloading {args.name} weights...", file=sys.stderr)
        path = weights.download(args.name)
    else:
        path = weights.import_file(args.name, args.file)
    print(f"{args.name}: weights ready at {path} (sha256 {weights.sha256_of(path)[:16]}...).")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """faceapp bench SUITE ... (implemented in faceapp.bench)."""
    from faceapp.bench import main as bench_main

    return bench_main(args.bench_args)


def cmd_app(args: argparse.Namespace) -> int:
    """No subcommand: open the desktop app."""
    from faceapp.app import run

    return run(db=args.db, source=args.source, model=args.model)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `faceapp` and `python main.py`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from faceapp import __version__

        print(f"faceapp {__version__}")
        return EXIT_OK
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] = getattr(args, "handler", cmd_app)
    try:
        return handler(args)
    except FaceAppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: the user gets one line, the log gets the traceback
        where = _log_crash()
        print(f"error: unexpected {type(exc).__name__}: {exc} (details in {where})", file=sys.stderr)
        return EXIT_INTERNAL


def _log_crash() -> str:
    """Append the current exception's traceback to the CLI log; returns the log's path (or why it is missing)."""
    import traceback

    from faceapp import paths

    path = paths.data_dir() / "logs" / "faceapp-cli.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(traceback.format_exc() + "\n")
    except OSError as exc:
        return f"no log: {exc}"
    return str(path)

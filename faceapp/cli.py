"""The `faceapp` command: the desktop app with no arguments, and enroll / identify / verify / people / models / bench.

Heavy modules (torch, cv2, Qt) are imported inside the handlers so `faceapp --help` stays fast.
Exit codes: 0 success, 1 no match or rejected, 2 bad input or an error the message explains, 3 a bug (logged),
4 some inputs failed (each reported) and the others were processed (enroll: committed).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceapp.errors import FaceAppError

if TYPE_CHECKING:
    from faceapp.archive import Moved
    from faceapp.core.types import MatchRule
    from faceapp.engine import Engine

EXIT_OK, EXIT_NO_MATCH, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_PARTIAL = 0, 1, 2, 3, 4
LOG_MAX_BYTES, LOG_BACKUPS = 1_000_000, 3
log = logging.getLogger("faceapp")


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--db",
        type=_db_target,
        default=default,
        help="gallery file, or a PostgreSQL server: postgresql+psycopg://USER@HOST/DB (default: user data dir)",
    )
    parser.add_argument("--model", default=default, help="embedding model (see `faceapp models list`)")
    parser.add_argument("--threshold", type=float, default=default, help="distance tau: d <= tau is a match")
    parser.add_argument(
        "--min-face", type=face_size, default=default, help="smallest face to detect, in pixels (20 to 1000)"
    )
    parser.add_argument(
        "--detector", choices=("mtcnn", "yunet"), default=default, help="face detector (default: the saved setting)"
    )


def face_size(text: str) -> int:
    """--min-face: a whole number of pixels within the settings' bounds."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of pixels") from None
    if not 20 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{value} is out of range (20 to 1000 px)")
    return value


def _item_id(text: str) -> int:
    """A sample's or correction's id: a positive whole number."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a positive whole number; see `people show`)")
    return int(text)


def _db_target(value: str) -> str | Path:
    from faceapp.paths import db_target

    return db_target(value)


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
    p.add_argument("name", help="the person's name (a new person, or more photos of an enrolled one)")
    p.add_argument("images", nargs="+", type=Path, help="photos of the person (the largest face in each is used)")
    p.add_argument(
        "--strict", action="store_true", help="refuse photos with several faces instead of taking the largest"
    )
    p.set_defaults(handler=cmd_enroll)

    p = sub.add_parser("identify", parents=[shared], help="name every face in photos (1:K)")
    p.add_argument("images", nargs="+", type=Path, help="photos to search for enrolled people")
    p.add_argument(
        "--margin",
        type=float,
        default=None,
        help="ambiguity guard: name a face only when the next person is at least (1 + MARGIN) times as far; 0 is off",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_identify)

    p = sub.add_parser("verify", parents=[shared], help="1:1: IMAGE --as NAME, or IMAGE1 IMAGE2")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="one photo with --as, or two to compare")
    p.add_argument("--as", dest="claimed", metavar="NAME", help="the enrolled person the face claims to be")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("people", parents=[shared], help="list, rename or remove enrolled people")
    people = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    people.add_parser("list", parents=[shared], help="everyone enrolled with their sample count")
    q = people.add_parser("rename", parents=[shared], help="rename a person")
    q.add_argument("old", help="the enrolled name")
    q.add_argument("new", help="the new name")
    q = people.add_parser("remove", parents=[shared], help="delete a person with their images and embeddings")
    q.add_argument("name", help="the enrolled name")
    q = people.add_parser("show", parents=[shared], help="a person's samples (with ids) and corrections")
    q.add_argument("name", help="the enrolled name")
    q = people.add_parser("forget-sample", parents=[shared], help="remove a sample added to the wrong person")
    q.add_argument("name", help="the enrolled name")
    q.add_argument("sample_id", type=_item_id, metavar="SAMPLE_ID", help="the sample's id (see `people show`)")
    q.add_argument(
        "--remember-as-not",
        action="store_true",
        help="keep the face as a correction (this face is not NAME), so it is not named NAME again",
    )
    q = people.add_parser("not", parents=[shared], help="record the face in IMAGE as not this person (a correction)")
    q.add_argument("name", help="the enrolled name")
    q.add_argument("image", type=Path, help="a photo of the face that is not them (the largest face is used)")
    q = people.add_parser("negatives", parents=[shared], help="the faces recorded as not this person")
    q.add_argument("name", help="the enrolled name")
    q = people.add_parser("remove-negative", parents=[shared], help="delete one correction (see `people negatives`)")
    q.add_argument("name", help="the enrolled name")
    q.add_argument("negative_id", type=_item_id, metavar="ID", help="the correction's id")
    p.set_defaults(handler=cmd_people)

    p = sub.add_parser("review", parents=[shared], help="unknown faces kept for N days: list, name, merge, forget")
    review = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    review.add_parser("list", parents=[shared], help="the groups of unknown faces stored in --db's gallery")
    q = review.add_parser("name", parents=[shared], help="enroll a group as a new or existing person")
    q.add_argument("group", type=int, help="the group's number (from `faceapp review list`)")
    q.add_argument("name", help="the person's name (an existing person gets the group's faces as samples)")
    q = review.add_parser("merge", parents=[shared], help="join two groups that are one person")
    q.add_argument("group", type=int, help="a group's number")
    q.add_argument("other", type=int, help="the group to join it with")
    q = review.add_parser("forget", parents=[shared], help="delete a group's faces and embeddings")
    q.add_argument("group", type=int, help="the group's number")
    p.set_defaults(handler=cmd_review)

    p = sub.add_parser("gallery", parents=[shared], help="export, import or copy a whole gallery (backup, move)")
    gallery = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = gallery.add_parser("export", parents=[shared], help="write --db's gallery to a portable archive (zip)")
    q.add_argument("file", type=Path, help="the archive to write (a .zip)")
    q.add_argument("--no-embeddings", action="store_true", help="leave vectors out (they are recomputed on import)")
    q = gallery.add_parser("import", parents=[shared], help="add an archive's people to --db's gallery")
    q.add_argument("file", type=Path, help="an archive written by `faceapp gallery export`")
    q = gallery.add_parser("copy", parents=[shared], help="copy gallery SRC into gallery DST (files or servers)")
    q.add_argument("source", type=_db_target, metavar="SRC", help="the gallery to copy (a file or a server URL)")
    q.add_argument("target", type=_db_target, metavar="DST", help="the gallery to copy into (a file or a server URL)")
    gallery.add_parser("check", parents=[shared], help="report anything wrong with --db's gallery")
    q = gallery.add_parser(
        "export-faces", parents=[shared], help="write --db's face crops as one folder per person (for faceapp train)"
    )
    q.add_argument("folder", type=Path, metavar="DIR", help="a new or empty folder")
    p.set_defaults(handler=cmd_gallery)

    p = sub.add_parser("models", parents=[shared], help="list, download or import model weights")
    models = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    models.add_parser("list", parents=[shared], help="models, their weights and defaults")
    q = models.add_parser("download", parents=[shared], help="download a FaceNet model's weights (needs internet)")
    q.add_argument("name", help="the model (see `faceapp models list`)")
    q = models.add_parser("import", parents=[shared], help="import a weights file you already have")
    q.add_argument("name", help="the model (see `faceapp models list`)")
    q.add_argument("file", type=Path, help="the weights file (checked against its known digest)")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("train", help="learn a similarity from a folder of people (see `faceapp train --help`)")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="the training's own arguments")
    p.set_defaults(handler=cmd_train)

    from faceapp.bench import MODULE_SUITES  # light: no model, no Qt

    suites = ", ".join(["lfw", "identify", *MODULE_SUITES])
    p = sub.add_parser(
        "bench",
        help="measure accuracy and speed (see docs/benchmarks.md)",
        description=f"Suites: {suites}. `faceapp bench SUITE --help` lists a suite's options.",
        usage="faceapp bench SUITE [options]",
    )
    p.add_argument("bench_args", nargs=argparse.REMAINDER, metavar="SUITE ...", help=f"one of: {suites}")
    p.set_defaults(handler=cmd_bench)
    return parser


# -- helpers --------------------------------------------------------------------------------------------------------
def open_engine(args: argparse.Namespace, create: bool = False, quiet: bool = False) -> Engine:
    """The engine on --db with --model applied (switching a gallery's model re-embeds its samples).

    Only `create` (enroll) makes a new gallery; for the others a missing file is a DatabaseError naming it.
    """
    from faceapp import paths, settings
    from faceapp.core import catalog
    from faceapp.core.detect import DetectorConfig
    from faceapp.core.detectors import create_detector
    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository

    db = args.db or _settings_db() or paths.default_db_path()
    name = args.detector or settings.load().detector
    detector = create_detector(name, DetectorConfig(min_face_size=args.min_face or 40))
    if args.model:
        catalog.spec(args.model)
    # A read-only command on a gallery that has no model yet records none (it would be a write).
    engine = Engine(GalleryRepository(db, create=create), args.model, detector=detector, adopt_model=create)
    for note in [] if quiet else engine.notes:
        print(note, file=sys.stderr)
    if args.model and args.model != engine.model:
        from faceapp.core import weights
        from faceapp.errors import ModelError

        if not weights.is_available(args.model):  # say so before announcing a switch that cannot happen
            engine.close()
            raise ModelError(weights.missing_message(args.model))
        print(f"Switching the gallery from {engine.model} to {args.model}: re-embedding its samples.", file=sys.stderr)
        engine.switch_model(args.model)
    return engine


def _gallery_exists(args: argparse.Namespace) -> bool:
    """Whether --db (or the default gallery) is there; an unreadable name counts as there, to be explained later."""
    from faceapp import paths

    target = args.db or _settings_db() or paths.default_db_path()
    if paths.is_db_url(target):
        return True  # a server: opening it says whether it holds a gallery
    try:
        return Path(target).exists()
    except (OSError, ValueError):
        return True


def _settings_db() -> str | Path | None:
    """The gallery the saved settings name (a file or a server address), or None."""
    from faceapp import paths, settings

    saved = settings.load().db_path
    return paths.db_target(saved) if saved else None


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
    engine = open_engine(args, create=True)
    try:
        images, repeats = _new_photos(engine, args.name, args.images)
        for note in repeats:
            print(f"note: {note}", file=sys.stderr)
        if not images:
            print(f"Nothing enrolled: every photo is already a sample of {args.name!r}.")
            return EXIT_OK
        result = engine.enroll(args.name, images, largest=not args.strict)
    finally:
        engine.close()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    total = result.person.sample_count
    print(f"Enrolled {result.person.name!r}: {result.added} sample(s) added, {total} in all ({engine.model}).")
    if result.skipped:
        print(f"error: {result.skipped} of {len(args.images)} photo(s) skipped (see the notes above).", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def _new_photos(engine: Engine, name: str, images: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """The photos not yet enrolled for `name` (absolute paths, as samples record them), and a note per repeat."""
    from faceapp.errors import BadInputError

    try:
        person = engine.person(name)
    except BadInputError:
        known: set[Path] = set()
    else:
        known = {_absolute(Path(s.sample.source)) for s in engine.samples_of(person.id) if s.sample.source}
    fresh: list[Path] = []
    notes: list[str] = []
    for image in images:
        path = _absolute(image)
        if path in known:
            notes.append(f"skipped {image}: already a sample of {name!r}")
            continue
        known.add(path)
        fresh.append(path)
    return fresh, notes


def _absolute(path: Path) -> Path:
    """`path` made absolute where it names an existing file; as given otherwise (enroll reports what is wrong)."""
    try:
        return path.resolve() if path.is_file() else path
    except (OSError, ValueError):  # a name too long, a NUL byte, a loop of links: the enrollment says so per photo
        return path


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
                        "refused": r.match.refused,
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
                if face["runner_up"] is not None and not face["ambiguous"]:
                    line += f"\tnext: {face['runner_up']} d={face['runner_up_distance']}"
                if face["ambiguous"]:
                    line += (
                        f"\t(too close to call: {face['nearest']} d={face['distance']},"
                        f" {face['runner_up']} d={face['runner_up_distance']})"
                    )
                print(line)
    if bad:
        return EXIT_BAD_INPUT if bad == len(report) else EXIT_PARTIAL
    return EXIT_OK if named else EXIT_NO_MATCH


def _round(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def cmd_verify(args: argparse.Namespace) -> int:
    """faceapp verify IMAGE --as NAME | faceapp verify IMAGE1 IMAGE2"""
    if args.claimed is None and len(args.images) != 2:
        raise FaceAppError("verify takes IMAGE --as NAME, or two images IMAGE1 IMAGE2.")
    if args.claimed is not None and len(args.images) != 1:
        raise FaceAppError("verify --as NAME takes exactly one image.")
    scratch = None
    if args.claimed is None and not _gallery_exists(args):  # two photos need a model, not a gallery
        scratch = tempfile.TemporaryDirectory(prefix="faceapp-verify-")
        args = argparse.Namespace(**{**vars(args), "db": Path(scratch.name) / "scratch.sqlite3"})
    engine = open_engine(args, create=scratch is not None, quiet=scratch is not None)
    tau = threshold(args, engine)
    try:
        if args.claimed is not None:
            recognition, note = engine.verify(args.images[0], args.claimed, tau)
            dist, accepted, notes = recognition.match.distance, recognition.match.accepted, [note] if note else []
            who = recognition.match.name
            if recognition.match.refused:
                notes.append(f"this face is nearer to a correction of {who!r} than to their samples (people negatives)")
        else:
            dist, notes = engine.compare(args.images[0], args.images[1])
            accepted, who = dist <= tau, None
    finally:
        engine.close()
        if scratch is not None:
            scratch.cleanup()
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
        if who:
            subject = f"as {who!r}" if accepted else f"not {who!r}"
        else:
            subject = "same person" if accepted else "different people"
        print(f"{verdict}: {subject}, d={_round(dist)} (tau={tau:g}, {engine.model})")
    return EXIT_OK if accepted else EXIT_NO_MATCH


def cmd_people(args: argparse.Namespace) -> int:
    """faceapp people list|rename|remove|show|forget-sample|not|negatives|remove-negative (through the engine, the
    gallery's only writer; only `not` loads the model)"""
    from faceapp import paths
    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository

    if args.model:
        from faceapp.core import catalog

        catalog.spec(args.model)  # a misspelt --model is an error, even where no model is needed
    if args.action == "not":  # the one people verb that needs the model: it embeds the face
        return _record_not(args)
    db = args.db or _settings_db() or paths.default_db_path()
    engine = Engine(GalleryRepository(db, create=False), adopt_model=False)
    try:
        if args.action in ("show", "forget-sample", "negatives", "remove-negative"):
            return _corrections(engine, args)
        if args.action == "list":
            people = engine.people()
            for person in people:
                print(f"{person.name}\t{person.sample_count} sample(s)")
            print(f"{len(people)} people, model {engine.stored_model or '(none yet)'}", file=sys.stderr)
        elif args.action == "rename":
            person = engine.rename(args.old, args.new)
            print(f"Renamed {args.old!r} to {person.name!r}.")
        else:
            removed = engine.remove_person(args.name)
            print(f"Removed {args.name!r} with {removed} sample(s), their corrections and their embeddings.")
            _say_what_remains(engine)
    finally:
        engine.close()
    return EXIT_OK


def _record_not(args: argparse.Namespace) -> int:
    """faceapp people not NAME IMAGE: the face in IMAGE is recorded as not NAME."""
    engine = open_engine(args)
    try:
        person = engine.person(args.name)
        negative_id, note = engine.add_negative_from_image(person.id, args.image)
    finally:
        engine.close()
    if note:
        print(f"note: {note}", file=sys.stderr)
    print(f"Recorded correction {negative_id}: the face in {args.image} is not {person.name!r} ({engine.model}).")
    return EXIT_OK


def _corrections(engine: Engine, args: argparse.Namespace) -> int:
    """faceapp people show | forget-sample | negatives | remove-negative (no model is loaded)."""
    person = engine.person(args.name)
    if args.action == "forget-sample":
        negative_id = engine.forget_sample(args.sample_id, person.id, remember_as_not=args.remember_as_not)
        if negative_id is None:
            print(f"Removed sample {args.sample_id} of {person.name!r} and its embeddings.")
        else:
            print(
                f"Removed sample {args.sample_id} of {person.name!r} and recorded it as correction {negative_id}: "
                f"that face is not {person.name!r}."
            )
        _say_what_remains(engine)
        return EXIT_OK
    if args.action == "remove-negative":
        engine.remove_negative(args.negative_id, person.id)
        print(f"Removed correction {args.negative_id} of {person.name!r}.")
        _say_what_remains(engine)
        return EXIT_OK
    negatives = engine.negatives_of(person.id)
    if args.action == "show":
        print(f"{person.name}\t{person.sample_count} sample(s)\t{len(negatives)} correction(s)")
        for stored in engine.samples_of(person.id):
            print(f"sample {stored.id}\t{stored.created_at:%Y-%m-%d %H:%M}\t{stored.sample.source or '-'}")
        return EXIT_OK
    for stored in negatives:
        print(f"{stored.id}\t{stored.created_at:%Y-%m-%d %H:%M}\t{stored.sample.source or '-'}")
    print(f"{len(negatives)} face(s) recorded as not {person.name!r}", file=sys.stderr)
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    """faceapp review list|name|merge|forget: the unknown faces stored with retention "N days" (see review_cli)."""
    from faceapp import paths, review_cli
    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository

    if args.action == "name":  # embeds the group's crops: the gallery's model is needed
        return review_cli.run(args, open_engine(args))
    db = args.db or _settings_db() or paths.default_db_path()
    return review_cli.run(args, Engine(GalleryRepository(db, create=False), adopt_model=False))


def cmd_gallery(args: argparse.Namespace) -> int:
    """faceapp gallery export FILE | import FILE | copy SRC DST | check"""
    from faceapp import archive, paths
    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository

    here = args.db or _settings_db() or paths.default_db_path()
    source = args.source if args.action == "copy" else here
    if args.action == "import":
        model = archive.archive_model(args.file)
        target = _engine_for_import(here, model, args)
        try:
            moved = archive.import_archive(target, args.file)
        finally:
            target.close()
        _say_skipped(moved)
        print(f"Imported {_moved(moved, 'new ')} from {args.file} ({target.model}).")
        return EXIT_OK
    engine = Engine(GalleryRepository(source, create=False), adopt_model=False)
    try:
        if args.action == "export":
            moved = archive.export(engine, args.file, embeddings=not args.no_embeddings)
            print(f"Exported {_moved(moved)} to {args.file}.")
        elif args.action == "export-faces":
            from faceapp.face_folders import export_faces

            people, images = export_faces(engine, args.folder)
            print(f"Wrote {images} face image(s) of {people} people to {args.folder} (one folder each).")
        elif args.action == "check":
            problems = engine.integrity_problems()
            for problem in problems:
                print(problem)
            print(f"{engine.gallery_label}: {len(problems) or 'no'} problem(s) found.", file=sys.stderr)
            return EXIT_BAD_INPUT if problems else EXIT_OK
        else:
            target = _engine_for_import(args.target, engine.stored_model, args)
            try:
                moved = archive.load_into(target, archive.people_of(engine), engine.stored_model)
            finally:
                target.close()
            _say_skipped(moved)
            print(f"Copied {_moved(moved, 'new ')} to {paths.db_label(args.target)}.")
    finally:
        engine.close()
    return EXIT_OK


def _moved(moved: Moved, new: str = "") -> str:
    """'2 people with 3 sample(s) and 1 correction(s)', for the export / import / copy reports."""
    return f"{moved.people} people with {moved.samples} {new}sample(s) and {moved.corrections} {new}correction(s)"


def _say_skipped(moved: Moved) -> None:
    """The people an import or copy skipped, and why, one note each."""
    for line in moved.skipped:
        print(f"note: {line}", file=sys.stderr)


def _engine_for_import(db: str | Path, model: str | None, args: argparse.Namespace) -> Engine:
    """The engine on a gallery receiving people: a new one takes --model, else `model` when its weights are here."""
    from faceapp.core import weights
    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository

    if args.model is not None:  # the user asked for this model: a gallery with another one is re-embedded
        return open_engine(argparse.Namespace(**{**vars(args), "db": db}), create=True)
    # A new gallery takes the archive's model when its weights are here (its vectors are kept); an existing one keeps
    # its own model and the samples are re-embedded.
    return Engine(GalleryRepository(db), model if model is not None and weights.is_available(model) else None)


def _say_what_remains(engine: Engine) -> None:
    """Notes on copies of removed data faceapp could not erase yet: a WAL another reader holds, upgrade backups."""
    if engine.purge_pending:
        path = engine.gallery_path
        print(
            f"note: another program is reading {path}, so the removed data is still in {path}-wal; "
            "faceapp erases it at its next change to this gallery once that program stops reading.",
            file=sys.stderr,
        )
    for backup in engine.upgrade_backups():
        print(f"note: {backup} is a copy made before an upgrade and may still hold removed people.", file=sys.stderr)


def cmd_models(args: argparse.Namespace) -> int:
    """faceapp models list|download|import"""
    from faceapp.core import catalog, weights
    from faceapp.core.embedders import registry

    if args.action == "list":
        for name in catalog.names():
            info = catalog.spec(name)
            path = weights.find(info.name)
            where = str(path) if path else "not on this machine"
            if path and info.parts:
                where = "the weights of " + " + ".join(info.parts)
            print(f"{info.name}\t{info.title}\tdim {info.dim}\ttau {info.default_threshold:g}\t{where}")
        return EXIT_OK
    catalog.spec(args.name)
    if args.action == "download":
        print(f"Downloading {args.name} weights...", file=sys.stderr)
        path = registry.download_weights(args.name)
    else:
        path = registry.import_weights(args.name, args.file)
    print(f"{args.name}: weights ready at {path} (sha256 {weights.sha256_of(path)[:16]}...).")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """faceapp bench SUITE ... (implemented in faceapp.bench)."""
    from faceapp.bench import main as bench_main

    return bench_main(args.bench_args)


def cmd_train(args: argparse.Namespace) -> int:
    """faceapp train DATA --out NAME ... (implemented in faceapp.train)."""
    from faceapp.train.cli import main as train_main

    return train_main(args.train_args)


def cmd_app(args: argparse.Namespace) -> int:
    """No subcommand: open the desktop app."""
    from faceapp.app import run

    return run(db=args.db, source=args.source, model=args.model)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `faceapp` and `python main.py`."""
    from faceapp.core.memory import keep_triton_out

    keep_triton_out()  # before anything imports torchvision: every command runs its models on the CPU
    parser = build_parser()
    args = _parse(parser, list(sys.argv[1:] if argv is None else argv))
    if args.version:
        from faceapp import __version__

        print(f"faceapp {__version__}")
        return EXIT_OK
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for root_handler in logging.getLogger().handlers:
        if isinstance(root_handler, logging.StreamHandler) and not isinstance(root_handler, logging.FileHandler):
            root_handler.setFormatter(_OneLine("%(levelname)s %(name)s: %(message)s"))
    file_log = _file_log()
    handler: Callable[[argparse.Namespace], int] = getattr(args, "handler", cmd_app)
    try:
        return _run(handler, args)
    finally:
        log.removeHandler(file_log)
        file_log.close()


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The parsed command line; everything after `train` goes to faceapp.train as it is (its options may come first,
    as in `faceapp train --from-gallery --out NAME`, which a REMAINDER argument would not take)."""
    takes_value = {o for a in parser._actions if a.nargs != 0 for o in a.option_strings}
    at = next((i for i, a in enumerate(argv) if a == "train" and (i == 0 or argv[i - 1] not in takes_value)), None)
    if at is None:
        return parser.parse_args(argv)
    args = parser.parse_args(argv[: at + 1])
    args.train_args = argv[at + 1 :]
    return args


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
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


class _OneLine(logging.Formatter):
    """Messages on stderr stay one line; tracebacks go only to the log file."""

    def format(self, record: logging.LogRecord) -> str:
        """The record without its traceback."""
        plain = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(plain).replace("\n", " ")


def _log_path() -> Path:
    from faceapp import paths

    return paths.data_dir() / "logs" / "faceapp-cli.log"


def _rotating(path: Path) -> logging.Handler:
    """The CLI log: at most LOG_MAX_BYTES a file and LOG_BACKUPS old files; folder and file made at the first record."""
    from logging.handlers import RotatingFileHandler

    class LazyRotating(RotatingFileHandler):
        def _open(self) -> Any:
            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
            return super()._open()

    handler = LazyRotating(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def _file_log() -> logging.Handler:
    """faceapp's warnings and errors, with tracebacks, into the CLI log (nothing is created until one comes)."""
    handler = _rotating(_log_path())
    handler.setLevel(logging.WARNING)
    log.addHandler(handler)
    return handler


def _log_crash() -> str:
    """Log the current traceback to the CLI's rotating log; returns the log's path (or why it is missing)."""
    path = _log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"no log: {exc}"
    handler = _rotating(path)
    crash = logging.getLogger("faceapp_cli_crash")
    crash.propagate = False  # the user already got the one-line message on stderr
    crash.addHandler(handler)
    try:
        crash.error("unexpected failure", exc_info=True)
    except OSError as exc:
        return f"no log: {exc}"
    finally:
        crash.removeHandler(handler)
        handler.close()
    return str(path)

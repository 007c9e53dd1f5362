"""`faceapp bench tracks`: evidence over a track against the old per-frame and vote labels, on clips and LFW.

Shared clips: every frame detected as the live view does (the app's detector at half size), followed by the live
IoU tracker, each track embedded when the default worker would (new, moved, or every third update), so the figures
are those of a worker that keeps up with the clip's own frame rate. The gallery: Lin-Manuel Miranda and Alex
Lacamoire from their photos (photos/face_recognition_examples), each WDA talking head from its clip's first frame;
a WDA clip's tracks are played from its second second on (frame 25), its person is the truth. The Hamilton clip has
no truth file: its tracks are labelled by hand in HAMILTON_TRUTH (frame spans of each person's box).

LFW sequences: people with at least --min-images photos (only those of an LFW people file with --people:
peopleDevTrain.txt to tune a rule on, peopleDevTest.txt to report it), in name order; every other one is enrolled
from their first photo (one-shot) and the next 10 photos are played as their track, one photo per frame at an
assumed 10 fresh embeddings per second (the live worker embeds 5-15 times a second); the others are strangers
whose first 10 photos are played as tracks. Swaps: each known person's track followed, in the same track, by the
next person's (a stranger).
Embeddings are cached (bench/embed_cache.py) so a rerun takes seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench.track_metrics import BEHAVIOURS, TrackSequence, figures, swap_delay
from faceapp.core.matching import GallerySnapshot
from faceapp.core.track_evidence import EvidenceRules, face_quality
from faceapp.core.types import Detection, MatchRule
from faceapp.errors import BadInputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LFW_FPS = 10.0
TRACK_PHOTOS = 10


def track_people(root: Path, min_images: int, people_file: str | None = None) -> list[list[Path]]:
    """The photos of each LFW person with at least `min_images`, in name order (only a people file's, if given)."""
    from faceapp.bench.identify import list_people, read_people

    listed = list_people(root)
    if people_file is not None:
        wanted = read_people(Path(people_file) if Path(people_file).is_absolute() else root / people_file)
        listed = {name: images for name, images in listed.items() if name in wanted}
    return [imgs for imgs in listed.values() if len(imgs) >= min_images]


def lfw_sequences(
    root: Path, model: str, min_images: int, use_cache: bool, progress: Any, people_file: str | None = None
) -> tuple[GallerySnapshot, list[TrackSequence], list[tuple[TrackSequence, TrackSequence]]]:
    """The LFW gallery, the known and stranger tracks, and the swap pairs (known track, stranger track).

    `people_file`: only the people an LFW people file lists (peopleDevTrain.txt to tune on, peopleDevTest.txt to
    report on), relative to `root` unless absolute."""
    from faceapp.bench.embed_cache import batch_detector, embed_dataset
    from faceapp.core.embedders.registry import create_embedder
    from faceapp.core.image_io import load_image

    people = track_people(root, min_images, people_file)
    if len(people) < 4:
        raise BadInputError(f"{root}: fewer than 4 people with {min_images} or more photos.")
    embedder = create_embedder(model)
    files = [p for imgs in people for p in imgs[: TRACK_PHOTOS + 1]]
    # A cache file of its own: the suites that share "lfw" each rewrite it with the images they embedded, so two
    # running at once drop each other's entries.
    embedded = embed_dataset("lfw-tracks", files, root, embedder, batch_detector(), use_cache, progress)
    row = {p: i for i, p in enumerate(files)}

    def quality(path: Path) -> float:
        i = row[path]
        det = Detection(tuple(float(v) for v in embedded.boxes[i]), 1.0, embedded.landmarks[i].astype(np.float64))  # type: ignore[arg-type]
        return face_quality(load_image(path), det)

    def track(pid: int | None, paths: list[Path]) -> TrackSequence:
        e = np.stack([embedded.embeddings[row[p]] for p in paths])
        q = np.array([quality(p) for p in paths])
        return TrackSequence("lfw", pid, e, np.ones(len(paths), bool), q, LFW_FPS)

    gallery_rows, gallery_ids, known, strangers = [], [], [], []
    for pid, imgs in enumerate(people):
        if pid % 2 == 0:
            gallery_rows.append(embedded.embeddings[row[imgs[0]]])
            gallery_ids.append(pid)
            known.append(track(pid, imgs[1 : TRACK_PHOTOS + 1]))
        else:
            strangers.append(track(None, imgs[:TRACK_PHOTOS]))
    names = {pid: people[pid][0].parent.name for pid in gallery_ids}
    gallery = GallerySnapshot(model, np.array(gallery_ids), names, np.stack(gallery_rows), embedder.info.scoring)  # type: ignore[arg-type]
    swaps = list(zip(known, strangers, strict=False))
    return gallery, known + strangers, swaps


def run(
    data: Path,
    model: str = "dlib-resnet",
    *,
    min_images: int = 6,
    people_file: str | None = None,
    tau: float | None = None,
    margin: float | None = None,
    clips: bool = True,
    use_cache: bool = True,
    rules: EvidenceRules | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """All figures, JSON-ready: per source (LFW, clips), per behaviour."""
    from faceapp.bench.lfw import lfw_root
    from faceapp.core.catalog import spec

    info = spec(model)
    rule = MatchRule(info.default_threshold if tau is None else tau, info.default_margin if margin is None else margin)
    rules = rules or EvidenceRules()
    result: dict[str, Any] = {
        "benchmark": "tracks",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "model": model,
        "threshold": rule.threshold,
        "margin": rule.margin,
        "evidence_rules": rules.__dict__,
        "lfw_fps_assumed": LFW_FPS,
        "people_file": people_file,
    }
    gallery, seqs, swaps = lfw_sequences(lfw_root(data), model, min_images, use_cache, progress, people_file)
    result["lfw"] = {b: figures(seqs, gallery, rule, b, rules) for b in BEHAVIOURS}
    result["lfw"]["gallery_people"] = gallery.people_count
    result["lfw_swap_frames_old_name_kept"] = {b: _delays(swaps, gallery, rule, b, rules) for b in BEHAVIOURS}
    if clips:
        from faceapp.bench.track_clips import clip_sequences, describe

        gallery, clip_seqs = clip_sequences(SHARED, model, use_cache, progress)
        result["clips"] = {b: figures(clip_seqs, gallery, rule, b, rules) for b in BEHAVIOURS}
        result["clip_tracks"] = describe(clip_seqs)
        result["all"] = {b: _combined(result["lfw"][b], result["clips"][b]) for b in BEHAVIOURS}
    return result


def _combined(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The per-track figures of two sources pooled (weighted by tracks; frames for the per-frame rate)."""
    out: dict[str, Any] = {}
    t = a["tracks"] + b["tracks"]
    k = a["known_tracks"] + b["known_tracks"]
    f = a["face_frames"] + b["face_frames"]
    out["tracks"], out["known_tracks"], out["face_frames"] = t, k, f
    out["wrong_name_per_track"] = (a["wrong_tracks"] + b["wrong_tracks"]) / t
    out["wrong_name_per_frame"] = (
        a["wrong_name_per_frame"] * a["face_frames"] + b["wrong_name_per_frame"] * b["face_frames"]
    ) / f
    out["named_within_1s"] = (a["named_within_1s"] * a["known_tracks"] + b["named_within_1s"] * b["known_tracks"]) / k
    out["label_changes_per_track"] = (
        a["label_changes_per_track"] * a["tracks"] + b["label_changes_per_track"] * b["tracks"]
    ) / t
    return out


def _delays(
    pairs: list[tuple[TrackSequence, TrackSequence]],
    gallery: GallerySnapshot,
    rule: MatchRule,
    behaviour: str,
    rules: EvidenceRules,
) -> dict[str, Any]:
    d = np.array([swap_delay(a, b, gallery, rule, behaviour, rules) for a, b in pairs])
    d = d[d >= 0]
    if not d.size:
        return {"swaps": 0}
    return {
        "swaps": int(d.size),
        "p50": float(np.median(d)),
        "p95": float(np.percentile(d, 95)),
        "max": int(d.max()),
        "kept_to_the_end": int((d == TRACK_PHOTOS).sum()),
    }


TARGETS = (
    ("wrong_name_per_track", 0.005, "<="),
    ("named_within_1s", 0.95, ">="),
    ("label_changes_per_track", 0.05, "<="),
)


def text(result: dict[str, Any]) -> str:
    """The report: one table per source, behaviours side by side, and the targets."""
    lines = [f"bench tracks: {result['model']}, tau {result['threshold']:g}, margin {result['margin']:g}"]
    rows = [
        "wrong_name_per_frame",
        "wrong_name_per_track",
        "named_within_1s",
        "ever_named_right",
        "first_correct_s_p50",
        "first_correct_s_p95",
        "label_changes_per_track",
        "undecided_share",
    ]
    for source in ("lfw", "clips", "all"):
        if source not in result:
            continue
        block = result[source]
        ev = block["evidence"]
        lines.append(
            f"\n{source}: {ev['tracks']} tracks ({ev['known_tracks']} of enrolled people), "
            f"{ev['face_frames']} face-frames"
        )
        lines.append(f"  {'':28s}" + "".join(f"{b:>12s}" for b in BEHAVIOURS))
        for key in rows:
            if key in ev:
                lines.append(f"  {key:28s}" + "".join(f"{_fmt(block[b].get(key)):>12s}" for b in BEHAVIOURS))
    if "lfw_swap_frames_old_name_kept" in result:
        lines.append("\nLFW swaps (a stranger steps into a named track): frames still showing the old name")
        for b, d in result["lfw_swap_frames_old_name_kept"].items():
            lines.append(f"  {b:12s} {json.dumps(d)}")
    pooled = result.get("all", result["lfw"])["evidence"]
    lines.append("\ntargets (evidence, " + ("clips and LFW pooled" if "all" in result else "LFW") + "):")
    for key, bound, op in TARGETS:
        value = pooled[key]
        ok = value <= bound if op == "<=" else value >= bound
        lines.append(f"  {key} {_fmt(value)} {op} {bound:g}: {'met' if ok else 'MISSED'}")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def main(argv: list[str]) -> int:
    """Run the suite; prints the tables (and writes JSON with --out)."""
    import sys

    parser = argparse.ArgumentParser(prog="faceapp bench tracks", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "lfw", help="the LFW folder (default: the shared one)")
    parser.add_argument("--model", default="dlib-resnet", help="embedder name (default: dlib-resnet)")
    parser.add_argument("--min-images", type=int, default=6, help="LFW people with at least this many photos")
    parser.add_argument(
        "--people",
        metavar="FILE",
        help="only the LFW people this people file lists (peopleDevTrain.txt: tune; peopleDevTest.txt: report)",
    )
    parser.add_argument("--tau", type=float, help="distance threshold (default: the model's)")
    parser.add_argument("--margin", type=float, help="ambiguity margin (default: the model's)")
    parser.add_argument("--no-clips", action="store_true", help="LFW sequences only")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    parser.add_argument("--no-cache", action="store_true", help="embed everything again and keep nothing")
    args = parser.parse_args(argv)
    result = run(
        args.data,
        args.model,
        min_images=args.min_images,
        people_file=args.people,
        tau=args.tau,
        margin=args.margin,
        clips=not args.no_clips,
        use_cache=not args.no_cache,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(text(result))
    if args.out is not None:
        from faceapp.bench import report

        report.write_json(result, args.out)
        print(f"\nwrote {args.out}")
    return 0

"""`faceapp bench enroll`: guided enrollment (core.guided, the dialog's own session) against one sample.

Clips: each shared single-person clip is analysed at `--rate` frames per second of video (detection at half size and
embedding, as the guided worker does). Its first frames feed a GuidedCapture, as the dialog would get them; the
one-shot gallery is the first frame the same gates accept. Probes are the clip's frames after the capture ended
(named right?) and every frame of the other clips (the other person must stay Unknown, with only this person
enrolled). Talking-head clips are only a proxy for a cooperative person turning their head on request.

LFW: for people with at least `--min-images` images, the first 10 images are the "capture": the same selector chooses
up to 5 of them (fed as frames one second apart), against the first image alone and the first five images; the
next `--probes` images of the person are probes; people with one image are the strangers (open set).

Wall time (`--wall RUNS`): the app's capture thread plays each clip in real time and the app's GuidedWorker analyses
the newest frame whenever it is free; the worker as it was, full analysis on one torch thread, and the lean analysis.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.guided import GuidedCapture, Sample
from faceapp.core.matching import GallerySnapshot, two_nearest
from faceapp.core.types import Detection, Face, MatchRule
from faceapp.errors import BadInputError

CLIPS = ("WDA_AlexandriaOcasioCortez_000.mp4", "WDA_KatieHill_000.mp4")
POOL = 10  # LFW images per person the selector may choose from


def analyse_clip(
    path: Path, analyzer: FaceAnalyzer, rate: float
) -> tuple[list[tuple[float, np.ndarray, list[Face]]], float]:
    """(time in the clip, frame, faces) for frames `rate` per second apart, and the mean seconds one analysis took."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise BadInputError(f"{path}: cannot open the clip.")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
    step = max(1, round(fps / rate))
    out, spent, index = [], 0.0, 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if index % step == 0:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            start = time.perf_counter()
            faces = analyzer.analyze(rgb)
            spent += time.perf_counter() - start
            out.append((index / fps, rgb, faces))
        index += 1
    cap.release()
    if not out:
        raise BadInputError(f"{path}: no frame could be read.")
    return out, spent / len(out)


def capture(
    frames: list[tuple[float, np.ndarray, list[Face]]], tau: float, wanted: int, reasons: Counter[str] | None = None
) -> tuple[GuidedCapture, float]:
    """Feed frames to a guided capture until it is done; the session and the clip time it ended at."""
    session = GuidedCapture(tau, wanted=wanted)
    end = frames[-1][0]
    for t, image, faces in frames:
        verdict = session.offer(image, faces, t)
        if reasons is not None:
            reasons[verdict.reason] += 1
        if session.done:
            end = t
            break
    return session, end


def nearest(gallery: np.ndarray, ids: np.ndarray, probes: np.ndarray, model: str) -> tuple[np.ndarray, ...]:
    """Each probe's nearest person, distance and runner-up distance (the app's matching)."""
    snapshot = GallerySnapshot(model, ids, {}, gallery)
    people, d = snapshot.person_distances(probes)
    best, d1, _, d2 = two_nearest(d)
    return people[best], d1, d2


def clip_figures(data: Path, analyzer: FaceAnalyzer, model: str, rule: MatchRule, rate: float) -> dict[str, Any]:
    """The clips' capture and identification figures."""
    clips: dict[str, dict[str, Any]] = {}
    for name in CLIPS:
        path = data / "video" / name
        if not path.is_file():
            raise BadInputError(f"{path} is missing (the shared clips are needed).")
        frames, per_frame = analyse_clip(path, analyzer, rate)
        reasons: Counter[str] = Counter()
        session, end = capture(frames, rule.threshold, 5, reasons)
        one, _ = capture(frames, rule.threshold, 1)
        taken: list[Sample] = session.samples
        clips[name] = {
            "frames": frames,
            "guided": np.stack([s.embedding for s in taken]) if taken else np.zeros((0, 128)),
            "one": np.stack([s.embedding for s in one.samples]) if one.samples else np.zeros((0, 128)),
            "end": end,
            "report": {
                "analysed_frames": len(frames),
                "analysis_s_per_frame": per_frame,
                "samples": len(taken),
                "bins": [s.bin for s in taken],
                "seconds_to_samples": (taken[-1].t - frames[0][0]) if taken else None,
                "analyses_to_samples": sum(1 for t, _, _ in frames if t <= taken[-1].t) if taken else None,
                "one_shot_at_s": one.samples[0].t if one.samples else None,
                "verdicts": dict(reasons),
            },
        }
    out: dict[str, Any] = {}
    for name, clip in clips.items():
        own = [faces[0].embedding for t, _, faces in clip["frames"] if t > clip["end"] and faces]
        others = [
            faces[0].embedding for other, c in clips.items() if other != name for _, _, faces in c["frames"] if faces
        ]
        row: dict[str, Any] = dict(clip["report"], own_probes=len(own), other_probes=len(others))
        for kind in ("one", "guided"):
            gallery = clip[kind]
            if not len(gallery) or not own:
                continue
            ids = np.zeros(len(gallery), np.int64)
            _, d_own, r_own = nearest(gallery, ids, np.stack(own), model)
            _, d_other, r_other = nearest(gallery, ids, np.stack(others), model)
            row[kind] = {
                "named_right": float(np.mean([rule.accepts(d, r) for d, r in zip(d_own, r_own, strict=True)])),
                "mean_d_own": float(np.mean(d_own)),
                "max_d_own": float(np.max(d_own)),
                "other_accepted": float(np.mean([rule.accepts(d, r) for d, r in zip(d_other, r_other, strict=True)])),
                "min_d_other": float(np.min(d_other)),
            }
        out[name] = row
    return out


def lfw_figures(
    data: Path,
    embedder: Any,
    rule: MatchRule,
    min_images: int,
    people_cap: int,
    strangers: int,
    use_cache: bool,
    probes: int = 15,
) -> dict[str, Any]:
    """Guided selection vs one image vs the first five on LFW people with many images, strangers in the open set."""
    from faceapp.bench.embed_cache import batch_detector, embed_dataset
    from faceapp.bench.identify import Nearest, dir_rows, list_people
    from faceapp.bench.lfw import lfw_root
    from faceapp.core.image_io import load_image

    root = lfw_root(data)
    people = list_people(root)
    many = [n for n, imgs in people.items() if len(imgs) >= min_images][:people_cap]
    singles = [n for n, imgs in people.items() if len(imgs) == 1]
    chosen_strangers = singles[:: max(1, len(singles) // strangers)][:strangers]
    people = {n: imgs[: POOL + probes] if n in many else imgs for n, imgs in people.items()}
    files = [p for n in many for p in people[n]] + [people[n][0] for n in chosen_strangers]
    embedded = embed_dataset("lfw", files, root, embedder, batch_detector(), use_cache)
    row = {str(p): i for i, p in enumerate(files)}
    galleries: dict[str, tuple[list[np.ndarray], list[int]]] = {"one": ([], []), "first5": ([], []), "guided": ([], [])}
    known, known_ids, picked = [], [], []
    for pid, name in enumerate(many):
        images = people[name]
        pool = [row[str(p)] for p in images[:POOL]]
        session = GuidedCapture(rule.threshold, wanted=5, timeout_s=1e9)
        for k, (index, path) in enumerate(zip(pool, images[:POOL], strict=True)):
            box = tuple(float(v) for v in embedded.boxes[index])
            det = Detection((box[0], box[1], box[2], box[3]), 1.0, np.asarray(embedded.landmarks[index], np.float64))
            session.offer(load_image(path), [Face(det, embedded.embeddings[index])], float(k))
        guided = [s.embedding for s in session.samples] or [embedded.embeddings[pool[0]]]
        picked.append(len(session.samples))
        for kind, vectors in (
            ("one", [embedded.embeddings[pool[0]]]),
            ("first5", [embedded.embeddings[i] for i in pool[:5]]),
            ("guided", guided),
        ):
            galleries[kind][0].extend(vectors)
            galleries[kind][1].extend([pid] * len(vectors))
        for path in images[POOL:]:
            known.append(embedded.embeddings[row[str(path)]])
            known_ids.append(pid)
    unknown = np.stack([embedded.embeddings[row[str(people[n][0])]] for n in chosen_strangers])
    out: dict[str, Any] = {
        "people": len(many),
        "known_probes": len(known),
        "strangers": len(chosen_strangers),
        "guided_samples_mean": float(np.mean(picked)),
        "guided_samples_min": int(np.min(picked)),
    }
    for kind, (vectors, ids) in galleries.items():
        near = Nearest.compute(np.stack(vectors), np.array(ids), np.stack(known), np.array(known_ids), unknown)
        scores_known, scores_unknown = near.scores(rule.margin)
        out[kind] = {
            "samples": len(vectors),
            "rank1": float(near.correct.mean()),
            "dir_at_far": dir_rows(near, rule.margin),
            "named_right_at_default": float(np.mean(near.correct & (scores_known <= rule.threshold))),
            "strangers_accepted_at_default": float(np.mean(scores_unknown <= rule.threshold)),
        }
    return out


def wall_capture(
    path: Path, analyzer: FaceAnalyzer, tau: float, lean: bool, timeout_s: float, threads: int | None = 1
) -> dict[str, Any]:
    """The dialog's capture in real time on this machine: the app's capture thread plays the clip at its own rate into
    a mailbox and the app's GuidedWorker (lean or not) analyses the newest frame whenever it is free, until 5 samples
    or `timeout_s` of wall time; when each sample was taken, in wall seconds from the start."""
    from faceapp.core.guided import GuidedWorker
    from faceapp.core.video import CaptureThread, Frame, FrameSource, LatestFrameMailbox

    source = FrameSource(str(path))
    source.open()
    mailbox: LatestFrameMailbox[Frame] = LatestFrameMailbox()
    session = GuidedCapture(tau, wanted=5, timeout_s=timeout_s)
    reasons: Counter[str] = Counter()
    player = CaptureThread(source, mailbox.put, loop=True, realtime=True)
    worker = GuidedWorker(
        mailbox, analyzer, session, lambda u: reasons.update([u.verdict.reason]), lean=lean, threads=threads
    )
    cpu = time.process_time()
    player.start()
    worker.start()
    worker.join(timeout_s + 120)
    cpu = time.process_time() - cpu
    player.stop()
    player.join(2.0)
    start = session.start or 0.0
    times = sorted(s.t - start for s in session.samples)
    reasons.pop("starting", None)  # the worker's last word, not a frame
    return {
        "lean": lean,
        "threads": threads,
        "samples": len(times),
        "sample_times_s": times,
        "seconds_to_5": times[-1] if len(times) >= 5 else None,
        "samples_within_10s": sum(t <= 10.0 for t in times),
        "elapsed_s": session.elapsed,
        "analyses": worker.analyses,
        "embedded": worker.embedded,
        "s_per_analysis": session.elapsed / max(worker.analyses, 1),
        "process_cpu_s": cpu,
        "bins": [s.bin for s in session.samples],
        "verdicts": dict(reasons),
    }


def wall_figures(data: Path, analyzer: FaceAnalyzer, tau: float, runs: int, timeout_s: float) -> dict[str, Any]:
    """wall_capture on each clip, side by side `runs` times: the worker as it was (full analysis, torch's default
    threads), full analysis on one torch thread, and lean on one thread (the app's worker now)."""
    import threading

    out: dict[str, list[dict[str, Any]]] = {}
    # The models load before the clock runs, on a thread of their own as in the app (the main thread's first torch
    # call would set up OpenMP differently for the threads that follow).
    warm = threading.Thread(target=analyzer.analyze, args=(np.zeros((240, 320, 3), np.uint8),))
    warm.start()
    warm.join()
    variants = ((False, None), (False, 1), (True, 1))
    for name in CLIPS:
        path = data / "video" / name
        if not path.is_file():
            raise BadInputError(f"{path} is missing (the shared clips are needed).")
        out[name] = [
            wall_capture(path, analyzer, tau, lean, timeout_s, threads)
            for _ in range(runs)
            for lean, threads in variants
        ]
    return out


def wall_report(wall: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The wall-time runs as text lines."""
    lines = ["wall time (the app's capture thread and GuidedWorker, in real time on this machine):"]
    for name, runs in wall.items():
        for r in runs:
            to5 = f"{r['seconds_to_5']:.1f} s to 5 samples" if r["seconds_to_5"] is not None else "no 5 samples"
            lines.append(
                f"  {name} {'lean' if r['lean'] else 'full'}, {r['threads'] or 'default'} thread(s): "
                f"{r['samples']} samples, {to5}, "
                f"{r['samples_within_10s']} within 10 s; {r['analyses']} analyses ({r['embedded']} embedded) in "
                f"{r['elapsed_s']:.1f} s, {r['s_per_analysis']:.2f} s each; bins {', '.join(r['bins'])}"
            )
    return lines


def report(result: dict[str, Any]) -> list[str]:
    """The figures as text lines."""
    lines = [
        f"model {result['model']}, tau {result['tau']:g}, margin {result['margin']:g}, {result['rate']:g} analyses/s"
    ]
    for name, row in result.get("clips", {}).items():
        sec = row["seconds_to_samples"]
        lines.append(
            f"{name}: {row['samples']} samples ({', '.join(row['bins'])}) in {sec:.1f} s of video"
            f" ({row['analyses_to_samples']} analyses; {row['analysis_s_per_frame']:.2f} s each here)"
            if sec is not None
            else f"{name}: no sample"
        )
        lines.append("  verdicts: " + ", ".join(f"{why} {n}" for why, n in row["verdicts"].items()))
        for kind in ("one", "guided"):
            if kind in row:
                k = row[kind]
                lines.append(
                    f"  {kind:<6} named right {k['named_right']:.1%} of {row['own_probes']} later frames "
                    f"(mean d {k['mean_d_own']:.3f}, max {k['max_d_own']:.3f}); other clip accepted "
                    f"{k['other_accepted']:.1%} of {row['other_probes']} (min d {k['min_d_other']:.3f})"
                )
    lfw = result.get("lfw")
    if lfw:
        lines.append(
            f"LFW: {lfw['people']} people ({lfw['known_probes']} probes), {lfw['strangers']} strangers; guided picked "
            f"{lfw['guided_samples_mean']:.2f} samples on average (min {lfw['guided_samples_min']}) of {POOL}"
        )
        for kind in ("one", "first5", "guided"):
            k = lfw[kind]
            at1 = next(r for r in k["dir_at_far"] if abs(r["far"] - 0.01) < 1e-9)
            lines.append(
                f"  {kind:<6} {k['samples']:>4} samples  rank-1 {k['rank1']:.1%}  DIR@FAR1% {at1['dir']:.1%}  "
                f"at default: named right {k['named_right_at_default']:.1%}, strangers accepted "
                f"{k['strangers_accepted_at_default']:.1%}"
            )
    return lines


def main(argv: list[str]) -> int:
    """Command-line entry of `faceapp bench enroll`."""
    from faceapp.core.detect import Detector, DetectorConfig
    from faceapp.core.embedders.registry import create_embedder

    parser = argparse.ArgumentParser(prog="faceapp bench enroll", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (holding video/ and lfw/)")
    parser.add_argument("--model", default="dlib-resnet")
    parser.add_argument("--rate", type=float, default=5.0, help="frames analysed per second of video (default 5)")
    parser.add_argument("--min-images", type=int, default=12, help="LFW people with at least this many images")
    parser.add_argument("--people", type=int, default=50, help="at most this many of them (default 50)")
    parser.add_argument("--probes", type=int, default=15, help="probe images per person at most (default 15)")
    parser.add_argument("--strangers", type=int, default=500, help="LFW one-image people as strangers (default 500)")
    parser.add_argument("--no-lfw", action="store_true", help="the clips only")
    parser.add_argument("--no-clips", action="store_true", help="LFW only")
    parser.add_argument("--no-cache", action="store_true", help="embed the LFW images again and keep nothing")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--wall",
        type=int,
        default=0,
        metavar="RUNS",
        help="also (even with --no-clips) run the guided capture in real time on each clip, full and lean analysis "
        "in turn, RUNS times each",
    )
    parser.add_argument("--wall-timeout", type=float, default=60.0, help="wall seconds a real-time capture may take")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.min_images <= POOL:
        raise BadInputError(f"--rate must be positive and --min-images above {POOL}.")
    if args.wall < 0 or args.wall_timeout <= 0:
        raise BadInputError("--wall must be 0 or more runs and --wall-timeout a positive number of seconds.")
    embedder = create_embedder(args.model)
    rule = MatchRule(embedder.info.default_threshold, embedder.info.default_margin)
    analyzer = FaceAnalyzer(Detector(DetectorConfig(min_face_size=40, scale=0.5)), embedder)
    result: dict[str, Any] = {"model": embedder.name, "tau": rule.threshold, "margin": rule.margin, "rate": args.rate}
    if not args.no_clips:
        result["clips"] = clip_figures(args.data, analyzer, embedder.name, rule, args.rate)
    if args.wall > 0:
        result["wall"] = wall_figures(args.data, analyzer, rule.threshold, args.wall, args.wall_timeout)
    if not args.no_lfw:
        result["lfw"] = lfw_figures(
            args.data, embedder, rule, args.min_images, args.people, args.strangers, not args.no_cache, args.probes
        )
    for line in report(result) + (wall_report(result["wall"]) if "wall" in result else []):
        print(line)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, default=str))
    return 0

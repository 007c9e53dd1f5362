"""`faceapp bench small-gallery`: what a user with a few enrolled people sees, on random galleries from LFW.

Each draw enrolls N of the 1,680 LFW people with several photos (their first photo, the K = 1 split of `bench
identify`), identifies their other photos (known faces) and the photos of the 4,069 one-photo people (strangers) with
the app's GallerySnapshot.identify under the model's default tau and margin, and counts: known faces named right,
known faces given a wrong name, strangers given a name. Rates are averaged over the draws (seed 0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench.embed_cache import PIPELINE_VERSION, batch_detector, embed_dataset
from faceapp.bench.identify import list_people, split_people
from faceapp.bench.lfw import lfw_root
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import MatchRule

DRAWS = {5: 200, 20: 200, 100: 40, 500: 20}


def rates(
    gallery: np.ndarray,
    gallery_ids: np.ndarray,
    known: np.ndarray,
    known_ids: np.ndarray,
    strangers: np.ndarray,
    rule: MatchRule,
    size: int,
    draws: int,
    seed: int = 0,
    scoring: str = "average",
) -> dict[str, float]:
    """Known named right, wrong names and strangers named (fractions), averaged over `draws` galleries of `size`."""
    rng = np.random.default_rng(seed)
    total = np.zeros(3)
    for _ in range(draws):
        chosen = rng.choice(len(gallery_ids), size, replace=False)
        ids = gallery_ids[chosen]
        snap = GallerySnapshot("bench", ids, {int(i): str(i) for i in ids}, gallery[chosen], scoring)  # type: ignore[arg-type]
        mine = np.isin(known_ids, ids)
        faces = snap.identify(known[mine], rule)
        accepted = np.array([m.accepted for m in faces])
        same = np.array([m.person_id for m in faces]) == known_ids[mine]
        named = np.array([m.accepted for m in snap.identify(strangers, rule)])
        total += [np.mean(accepted & same), np.mean(accepted & ~same), np.mean(named)]
    right, wrong, named_rate = total / draws
    return {
        "people": size,
        "draws": draws,
        "known_named_right": right,
        "wrong_name": wrong,
        "strangers_named": named_rate,
    }


def run(
    data: Path,
    model: str,
    sizes: list[int],
    tau: float | None = None,
    margin: float | None = None,
    use_cache: bool = True,
    embedder: Any = None,
    detector: Any = None,
) -> dict[str, Any]:
    """Embed the K = 1 split once (cached) and measure every gallery size."""
    from faceapp.core.embedders.registry import create_embedder

    root = lfw_root(data)
    split = split_people(list_people(root), 1)
    embedder = embedder or create_embedder(model)
    files = split.gallery + split.known + split.unknown
    progress = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    e = embed_dataset("lfw", files, root, embedder, detector or batch_detector(), use_cache, progress).embeddings
    ng, nk = len(split.gallery), len(split.known)
    info = embedder.info
    rule = MatchRule(info.default_threshold if tau is None else tau, info.default_margin if margin is None else margin)
    rows = [
        rates(
            e[:ng],
            split.gallery_ids,
            e[ng : ng + nk],
            split.known_ids,
            e[ng + nk :],
            rule,
            n,
            DRAWS.get(n, 40),
            0,
            info.scoring,
        )
        for n in sizes
    ]
    return {
        "benchmark": "small-gallery",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "model": embedder.name,
        "pipeline_version": PIPELINE_VERSION,
        "threshold": rule.threshold,
        "margin": rule.margin,
        "strangers": len(split.unknown),
        "rows": rows,
    }


def text(result: dict[str, Any]) -> str:
    """The result as a table."""
    lines = [
        f"model {result['model']}, tau {result['threshold']:g}, margin {result['margin']:g}, "
        f"{result['strangers']} strangers",
        f"{'people':>7}{'draws':>7}{'known named right':>19}{'wrong name':>12}{'strangers named':>17}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['people']:>7}{r['draws']:>7}{100 * r['known_named_right']:>18.2f}%{100 * r['wrong_name']:>11.2f}%"
            f"{100 * r['strangers_named']:>16.2f}%"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the suite; prints a table (and writes JSON with --out)."""
    parser = argparse.ArgumentParser(prog="faceapp bench small-gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the LFW folder (holding pairs.txt), or its parent")
    parser.add_argument("--model", default="dlib-resnet", help="embedder name (default: dlib-resnet)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100], help="gallery sizes (default: 20 100)")
    parser.add_argument("--tau", type=float, help="distance threshold (default: the model's)")
    parser.add_argument("--margin", type=float, help="ambiguity margin (default: the model's)")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    parser.add_argument("--no-cache", action="store_true", help="embed every image again and keep nothing")
    args = parser.parse_args(argv)
    result = run(args.data, args.model, args.sizes, args.tau, args.margin, use_cache=not args.no_cache)
    print(text(result))
    if args.out is not None:
        from faceapp.bench import report

        report.write_json(result, args.out)
        print(f"\nwrote {args.out}")
    return 0

"""Calibrating sface and the dlib+sface fusion on LFW's development split only (pairsDevTrain, peopleDevTrain).

Reads the `bench` embedding caches of dlib-resnet and sface (run `faceapp bench identify --model M` for both first).
For each fusion weight w (dlib's share of d; w = 0 is sface alone, 1 is dlib alone), and for the z-normalised average
of the two distances (the same rule as a weight: w / (1 - w) = std_sface / std_dlib over the development pairs), prints
development-pair verification (best accuracy, TAR at FAR 1% / 0.1%) and one-shot open-set identification on the
development people (rank-1, DIR at FAR 1% by distance only, the best margin and DIR under it, and tau at FAR 1%),
then 20-person small-gallery rates on the development people at three candidate taus, with and without the margin.

    python docs/experiments/calibrate_sface.py --data ../shared/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faceapp.bench import identify, lfw, metrics
from faceapp.bench.embed_cache import EmbedCache, cache_path, file_key
from faceapp.core.distance import pair_distances
from faceapp.core.embedders.fused import fuse
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import MatchRule


def embeddings(root: Path, model: str, files: list[Path]) -> np.ndarray:
    """The cached embeddings of `files` by `model`."""
    cache = EmbedCache.open(cache_path("lfw", model), model, 128)
    return np.stack([cache.embeddings[cache.index[file_key(p, root)]] for p in files])


def small_gallery(split: identify.Split, e: dict[str, np.ndarray], rule: MatchRule, size: int, draws: int) -> str:
    """Known named right, wrong names and strangers named, averaged over random galleries of `size` people."""
    rng = np.random.default_rng(0)
    total = np.zeros(3)
    for _ in range(draws):
        chosen = rng.choice(len(split.gallery), size, replace=False)
        ids = split.gallery_ids[chosen]
        snap = GallerySnapshot("m", ids, {int(i): str(i) for i in ids}, e["gallery"][chosen])
        mine = np.isin(split.known_ids, ids)
        faces = snap.identify(e["known"][mine], rule)
        accepted = np.array([m.accepted for m in faces])
        same = np.array([m.person_id for m in faces]) == split.known_ids[mine]
        named = np.array([m.accepted for m in snap.identify(e["unknown"], rule)])
        total += [(accepted & same).mean(), (accepted & ~same).mean(), named.mean()]
    r, w, n = 100 * total / draws
    return f"known right {r:.2f}%, wrong {w:.2f}%, strangers named {n:.2f}%"


def main() -> None:
    """Print the calibration tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--weights", type=float, nargs="*", default=[0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0])
    parser.add_argument("--draws", type=int, default=100, help="random 20-person galleries per setting")
    args = parser.parse_args()
    root = lfw.lfw_root(args.data)
    pairs = lfw.parse_pairs(root / "pairsDevTrain.txt")
    pair_files = sorted(
        {lfw.image_path(root, p.name1, p.i1) for p in pairs} | {lfw.image_path(root, p.name2, p.i2) for p in pairs}
    )
    row = {f: i for i, f in enumerate(pair_files)}
    a = np.array([row[lfw.image_path(root, p.name1, p.i1)] for p in pairs])
    b = np.array([row[lfw.image_path(root, p.name2, p.i2)] for p in pairs])
    same = np.array([p.same for p in pairs])
    wanted = identify.read_people(root / "peopleDevTrain.txt")
    people = {n: im for n, im in identify.list_people(root).items() if n in wanted}
    split = identify.split_people(people, 1)
    parts = {}
    for model in ("dlib-resnet", "sface"):
        parts[model] = {
            "pairs": embeddings(root, model, pair_files),
            "gallery": embeddings(root, model, split.gallery),
            "known": embeddings(root, model, split.known),
            "unknown": embeddings(root, model, split.unknown),
        }
    std = {m: float(pair_distances(v["pairs"][a], v["pairs"][b]).std()) for m, v in parts.items()}
    z = (1 / std["dlib-resnet"]) / (1 / std["dlib-resnet"] + 1 / std["sface"])
    print(
        f"dev pairs: {len(pairs)}, dev people K=1: gallery {len(split.gallery)}, known {len(split.known)}, "
        f"strangers {len(split.unknown)}; z-normalised average = weight {z:.3f}"
    )
    for w in sorted({*args.weights, round(z, 3)}):
        e = {k: fuse([parts["dlib-resnet"][k], parts["sface"][k]], (w, 1 - w)) for k in parts["sface"]}
        d = pair_distances(e["pairs"][a], e["pairs"][b])
        best = metrics.best_threshold(d, same)
        tar = [metrics.tar_at_far(d, same, far) for far in (0.01, 0.001)]
        near = identify.Nearest.compute(e["gallery"], split.gallery_ids, e["known"], split.known_ids, e["unknown"])
        by_margin = {m: identify.dir_rows(near, m)[0] for m in identify.MARGIN_SWEEP}
        top = max(identify.MARGIN_SWEEP, key=lambda m: (by_margin[m]["dir"], -m))
        print(
            f"w={w:.3f}: dev acc {100 * metrics.accuracy(d, same, best):.2f}% (tau {best:.3f}), "
            f"TAR {100 * tar[0][0]:.2f}% @1% / {100 * tar[1][0]:.2f}% @0.1% (tau {tar[1][1]:.3f}); "
            f"ident rank-1 {100 * near.correct.mean():.2f}%, DIR@1% {100 * by_margin[0.0]['dir']:.2f}% "
            f"(tau {by_margin[0.0]['threshold']:.3f}); best margin {top:g}: DIR@1% {100 * by_margin[top]['dir']:.2f}% "
            f"(tau {by_margin[top]['threshold']:.3f})"
        )
        taus = {
            "dev-pairs accuracy-optimal": best,
            "dev-pairs FAR 0.1%": tar[1][1],
            "dev identification FAR 1%, best margin": by_margin[top]["threshold"],
        }
        for label, tau in taus.items():
            for margin in sorted({0.0, top}):
                rates = small_gallery(split, e, MatchRule(tau, margin), 20, args.draws)
                print(f"    20 people, tau {tau:.3f} ({label}), margin {margin:g}: {rates}")


if __name__ == "__main__":
    main()

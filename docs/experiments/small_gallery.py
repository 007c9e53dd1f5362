"""What the ambiguity margin costs and buys in small galleries: random galleries drawn from LFW's K = 1 split.

For each gallery size N, draws N of the 1,680 people with several photos (their first photo enrolled), identifies
their other photos (known faces) and the 4,069 one-photo people (strangers) at the default tau, with and without the
margin, and averages over the draws. Reads the `bench` embedding cache (run `faceapp bench identify` first).

    python docs/experiments/small_gallery.py --data ../shared/data [--tau 0.178] [--margin 0.35]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faceapp.bench import identify, lfw
from faceapp.bench.embed_cache import EmbedCache, cache_path, file_key
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import MatchRule


def main() -> None:
    """Print one line per gallery size and rule."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tau", type=float, default=0.178)
    parser.add_argument("--margin", type=float, default=0.35)
    args = parser.parse_args()
    root = lfw.lfw_root(args.data)
    split = identify.split_people(identify.list_people(root), 1)
    cache = EmbedCache.open(cache_path("lfw", "dlib-resnet"), "dlib-resnet", 128)

    def rows(paths: list[Path]) -> np.ndarray:
        return np.stack([cache.embeddings[cache.index[file_key(p, root)]] for p in paths])

    gallery, known, strangers = rows(split.gallery), rows(split.known), rows(split.unknown)
    rng = np.random.default_rng(0)
    for size, draws in ((5, 200), (20, 200), (100, 40), (500, 40)):
        totals = {m: np.zeros(3) for m in (0.0, args.margin)}
        for _ in range(draws):
            chosen = rng.choice(len(split.gallery), size, replace=False)
            ids = split.gallery_ids[chosen]
            snap = GallerySnapshot("m", ids, {int(i): str(i) for i in ids}, gallery[chosen])
            mine = np.isin(split.known_ids, ids)
            for margin, total in totals.items():
                rule = MatchRule(args.tau, margin)
                faces = snap.identify(known[mine], rule)
                accepted = np.array([m.accepted for m in faces])
                same = np.array([m.person_id for m in faces]) == split.known_ids[mine]
                right, wrong = accepted & same, accepted & ~same
                named = np.array([m.accepted for m in snap.identify(strangers, rule)])
                total += [right.mean(), wrong.mean(), named.mean()]
        for margin, total in totals.items():
            r, w, n = 100 * total / draws
            print(
                f"N={size:3d} margin {margin:.2f}: known named right {r:.1f}%, wrong {w:.2f}%; strangers named {n:.1f}%"
            )


if __name__ == "__main__":
    main()

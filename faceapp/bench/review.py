"""`faceapp bench review`: unknown faces of LFW as tracks: how well the groups match people, and clicks to name them.

Every person of an LFW people file with at least `--min-images` photos plays an unknown visitor: their photos, in a
seeded random order, are cut into tracks of 1 to `--track-max` photos (what a live track leaves: a few frames), each
track's mean embedding goes to the app's grouping (core.grouping.average_link at GROUP_FACTOR x the model's tau, the
code the panel runs), and the groups are scored against the people:

- purity: the share of faces (photos) in a group that belong to its majority person, averaged over faces;
- completeness: the share of a person's faces in the group holding most of them, averaged over faces;
- clicks to name N people: the user names one group per person (one click) and merges each other group whose
  majority is that person into it (one click each); averaged over seeded draws of N people, and for the N people
  seen most often. A person whose faces are nowhere a majority cannot be named from the review; they are counted.

Tune on peopleDevTrain.txt (`--sweep`) and report on peopleDevTest.txt: the two are disjoint in people.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench.embed_cache import PIPELINE_VERSION, EmbedCache, batch_detector, cache_path, embed_dataset, file_key
from faceapp.bench.identify import list_people, read_people
from faceapp.bench.lfw import lfw_root
from faceapp.core import catalog
from faceapp.core.grouping import FOLD_FACTOR, GROUP_FACTOR, average_link, fold_tracks, track_mean
from faceapp.errors import BadInputError

DRAWS = 200
SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)


def make_tracks(owners: np.ndarray, track_max: int, seed: int) -> list[np.ndarray]:
    """Row indices of each track: every person's rows shuffled and cut into runs of 1..track_max (seeded)."""
    rng = np.random.default_rng(seed)
    tracks: list[np.ndarray] = []
    for who in np.unique(owners):
        rows = rng.permutation(np.flatnonzero(owners == who))
        start = 0
        while start < len(rows):
            size = int(rng.integers(1, track_max + 1))
            tracks.append(rows[start : start + size])
            start += size
    return tracks


def scores(groups: list[list[int]], track_owner: np.ndarray, track_faces: np.ndarray) -> dict[str, Any]:
    """Purity, completeness (face-weighted) and the groups' make-up, for groups of track indices."""
    total = float(track_faces.sum())
    pure_faces, mixed, majority = 0.0, 0, []
    best_share: dict[int, float] = {}
    for g in groups:
        faces: Counter[int] = Counter()
        for t in g:
            faces[int(track_owner[t])] += int(track_faces[t])
        top, top_faces = faces.most_common(1)[0]
        pure_faces += top_faces
        mixed += len(faces) > 1
        majority.append(top)
        for who, n in faces.items():
            best_share[who] = max(best_share.get(who, 0.0), n)
    return {
        "purity": pure_faces / total,
        "completeness": sum(best_share.values()) / total,
        "groups": len(groups),
        "mixed_groups": mixed,
        "people": int(np.unique(track_owner).size),
        "tracks": len(track_owner),
        "faces": int(total),
        "majority": majority,
    }


def clicks(majority: list[int], people: np.ndarray, faces_of: dict[int, int], named: int, seed: int) -> dict[str, Any]:
    """Clicks to name `named` people: per person, the groups whose majority they are (name one, merge the rest)."""
    groups_of = Counter(majority)
    rng = np.random.default_rng(seed)
    draws = []
    unnamed = []
    for _ in range(DRAWS):
        chosen = rng.choice(people, size=min(named, len(people)), replace=False)
        draws.append(sum(groups_of.get(int(p), 0) for p in chosen))
        unnamed.append(sum(groups_of.get(int(p), 0) == 0 for p in chosen))
    most_seen = sorted(people, key=lambda p: (-faces_of[int(p)], int(p)))[:named]
    return {
        "named": named,
        "draws": DRAWS,
        "mean": float(np.mean(draws)),
        "p95": float(np.percentile(draws, 95)),
        "max": int(np.max(draws)),
        "unnameable_mean": float(np.mean(unnamed)),
        "most_seen": sum(groups_of.get(int(p), 0) for p in most_seen),
        "most_seen_faces": [faces_of[int(p)] for p in most_seen],
    }


def evaluate(
    embeddings: np.ndarray,
    owners: np.ndarray,
    threshold: float,
    track_max: int = 3,
    seed: int = 0,
    named: int = 20,
    fold: float = 0.0,
) -> dict[str, Any]:
    """Feed the faces as tracks, fold and group them as the app's store does, and score the groups.

    `fold`: the distance under which a track is folded into a kept candidate (0: none); `threshold`: average link's.
    """
    tracks = make_tracks(owners, track_max, seed)
    vectors = np.stack([track_mean(embeddings[t]) for t in tracks])
    track_owner = np.array([owners[t[0]] for t in tracks])
    track_faces = np.array([len(t) for t in tracks])
    members, means = fold_tracks(vectors, fold)
    kept = average_link(means, threshold, weights=[len(m) for m in members])
    groups = [sorted(t for c in g for t in members[c]) for g in kept]
    result = scores(groups, track_owner, track_faces)
    result["candidates"] = len(members)
    result["fold"] = fold
    people = np.unique(owners)
    faces_of = {int(p): int((owners == p).sum()) for p in people}
    result["clicks"] = clicks(result.pop("majority"), people, faces_of, named, seed)
    result["threshold"] = threshold
    return result


def load(
    data: Path,
    model: str,
    people_file: str,
    min_images: int,
    max_people: int | None,
    use_cache: bool,
    cached_only: bool = False,
) -> Any:
    """Embeddings (cached) and person numbers of the chosen people's photos; the embedder's info too.

    `cached_only`: only the people all of whose photos the model's cache holds already (nothing is embedded).
    """
    from faceapp.core.embedders.registry import create_embedder

    root = lfw_root(data)
    wanted = read_people(root / people_file if not Path(people_file).is_absolute() else Path(people_file))
    people = {n: imgs for n, imgs in list_people(root).items() if n in wanted and len(imgs) >= min_images}
    if cached_only:
        held = EmbedCache.open(cache_path("lfw", model), model, catalog.spec(model).dim).index
        people = {n: imgs for n, imgs in people.items() if all(file_key(p, root) in held for p in imgs)}
    chosen = sorted(people)[:max_people] if max_people else sorted(people)
    if len(chosen) < 2:
        raise BadInputError(f"{people_file}: fewer than 2 people with {min_images} or more photos.")
    files = [f for n in chosen for f in people[n]]
    owners = np.array([i for i, n in enumerate(chosen) for _ in people[n]])
    embedder = create_embedder(model)
    embedded = embed_dataset("lfw", files, root, embedder, batch_detector(), use_cache, _progress)
    return root, embedded, owners, embedder.info


def _progress(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The suite: one factor (the app's GROUP_FACTOR unless --factor), or a sweep of factors."""
    root, embedded, owners, info = load(
        args.data, args.model, args.people, args.min_images, args.max_people, not args.no_cache, args.cached_only
    )
    tau = catalog.spec(info.name).default_threshold
    factors = SWEEP if args.sweep else (args.factor if args.factor is not None else GROUP_FACTOR,)
    fold = (FOLD_FACTOR if args.fold_factor is None else args.fold_factor) * tau
    rows = []
    for factor in factors:
        row = evaluate(embedded.embeddings, owners, factor * tau, args.track_max, args.seed, args.named, fold)
        row["factor"] = factor
        rows.append(row)
    return {
        "benchmark": "review",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "model": info.name,
        "data": str(root),
        "people_file": args.people,
        "min_images": args.min_images,
        "max_people": args.max_people,
        "cached_only": args.cached_only,
        "track_max": args.track_max,
        "seed": args.seed,
        "tau": tau,
        "pipeline_version": PIPELINE_VERSION,
        "no_face": int((embedded.faces == 0).sum()),
        "rows": rows,
    }


def text(result: dict[str, Any]) -> str:
    """The result as a table."""
    first = result["rows"][0]
    lines = [
        f"Unknown-face review on LFW {result['people_file']}, {result['model']} (tau {result['tau']:g}): "
        f"{first['people']} people, {first['faces']} photos in {first['tracks']} tracks of 1-{result['track_max']}, "
        f"{first['candidates']} candidates after folding at d <= {first['fold']:.3f}",
        f"{'factor':>6} {'d max':>6} {'purity':>7} {'complete':>8} {'groups':>6} {'mixed':>5} "
        f"{'clicks/' + str(first['clicks']['named']):>9} {'p95':>5} {'most seen':>9} {'unnameable':>10}",
    ]
    for r in result["rows"]:
        c = r["clicks"]
        lines.append(
            f"{r['factor']:>6.2f} {r['threshold']:>6.3f} {100 * r['purity']:>6.1f}% {100 * r['completeness']:>7.1f}% "
            f"{r['groups']:>6} {r['mixed_groups']:>5} {c['mean']:>9.1f} {c['p95']:>5.0f} {c['most_seen']:>9} "
            f"{c['unnameable_mean']:>10.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the suite; prints a table (and writes JSON with --out)."""
    parser = argparse.ArgumentParser(prog="faceapp bench review", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the LFW folder (holding pairs.txt), or its parent")
    parser.add_argument("--model", default="dlib-resnet", help="embedder name (default: dlib-resnet)")
    parser.add_argument("--people", default="peopleDevTest.txt", help="LFW people file (default: peopleDevTest.txt)")
    parser.add_argument("--min-images", type=int, default=2, help="people with at least this many photos (2)")
    parser.add_argument("--max-people", type=int, help="only the first N of them, by name")
    parser.add_argument("--track-max", type=int, default=3, help="photos per track: 1 to this (3)")
    parser.add_argument("--named", type=int, default=20, help="N: people the user names (20)")
    parser.add_argument("--factor", type=float, help=f"group at factor x tau (default: the app's {GROUP_FACTOR})")
    parser.add_argument(
        "--cached-only", action="store_true", help="only people whose photos are all in the embed cache (no embedding)"
    )
    parser.add_argument(
        "--fold-factor",
        type=float,
        help=f"fold a track into a candidate within this x tau (the app's {FOLD_FACTOR}; 0: none)",
    )
    parser.add_argument("--sweep", action="store_true", help=f"try the factors {', '.join(map(str, SWEEP))}")
    parser.add_argument("--seed", type=int, default=0, help="track cuts and draws (0)")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    parser.add_argument("--no-cache", action="store_true", help="embed every image again and keep nothing")
    args = parser.parse_args(argv)
    if args.track_max < 1 or args.named < 1 or args.min_images < 1:
        raise BadInputError("--track-max, --named and --min-images must be at least 1.")
    result = run(args)
    print(text(result))
    if args.out is not None:
        from faceapp.bench import report

        report.write_json(result, args.out)
        print(f"\nwrote {args.out}")
    return 0

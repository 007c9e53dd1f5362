"""Which per-person score keeps strangers from being named as galleries get more samples per person (issue 9).

The 32 LFW people with 31 or more photos are enrolled with their first K photos (K = 1, 3, 10, 30); their photos
from the 31st on are the known probes (the same probes for every K), and the 4,069 one-photo people are the
strangers. Each rule turns a probe's distances to one person's samples into one distance:
  nearest   the nearest sample (the app before issue 9),
  mean      d to the person's mean template (the samples' mean, scaled to unit length),
  top3      the mean of the 3 nearest samples' distances (all of them when there are fewer),
  average   the mean of the distances to all of the person's samples (= 2 - 2 probe . unnormalised mean).
Printed per model and rule: at the model's default tau and margin, known named right and strangers named per K,
and the strangers-named ratio K=30 / K=1; then the "Tony Blair" case, where the 1,680-person one-shot gallery gets
those 32 people with 30 samples each: the share of strangers named as one of them.
Reads the `bench` embedding caches (run `faceapp bench identify --model M` first).

    python docs/experiments/matching_rules.py --data ../shared/data [--models sface dlib+sface]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faceapp.bench import identify, lfw
from faceapp.bench.embed_cache import EmbedCache, cache_path, file_key
from faceapp.core.catalog import spec as model_info
from faceapp.core.distance import distances, normalize
from faceapp.core.embedders.fused import fuse
from faceapp.core.matching import two_nearest
from faceapp.core.types import MatchRule

RULES = ("nearest", "mean", "top3", "average")


def person_scores(probes: np.ndarray, gallery: np.ndarray, ids: np.ndarray, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """(people, distances (N, people)) under `rule`."""
    people = np.unique(ids)
    if rule == "mean":
        templates = normalize(np.stack([gallery[ids == p].mean(axis=0) for p in people]))
        return people, distances(probes, templates)
    d = distances(probes, gallery)
    cols = []
    for p in people:
        block = np.sort(d[:, ids == p], axis=1)
        if rule == "nearest":
            cols.append(block[:, 0])
        elif rule == "top3":
            cols.append(block[:, :3].mean(axis=1))
        else:
            cols.append(block.mean(axis=1))
    return people, np.stack(cols, axis=1)


def loader(root: Path, model: str) -> callable:  # type: ignore[valid-type]
    """A function from image paths to cached embeddings of `model` (a fused model: fused from its parts)."""
    caches = {}

    def rows(name: str, files: list[Path]) -> np.ndarray:
        if name not in caches:
            caches[name] = EmbedCache.open(cache_path("lfw", name), name, 128)
        c = caches[name]
        return np.stack([c.embeddings[c.index[file_key(p, root)]] for p in files])

    def load(files: list[Path]) -> np.ndarray:
        if model == "dlib+sface":
            return fuse([rows("dlib-resnet", files), rows("sface", files)], model_info(model).part_weights)
        return rows(model, files)

    return load


def named(people: np.ndarray, d: np.ndarray, rule: MatchRule) -> tuple[np.ndarray, np.ndarray]:
    """Who is nearest and whether the app's rule names them."""
    best, d1, _, d2 = two_nearest(d)
    ok = (d1 <= rule.threshold) & rule.clear_mask(d1, d2)
    return people[best], ok


def main() -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--models", nargs="*", default=["dlib-resnet", "sface", "dlib+sface"])
    parser.add_argument("--tau", type=float, help="override the models' default tau")
    args = parser.parse_args()
    root = lfw.lfw_root(args.data)
    people = identify.list_people(root)
    many = {n: im for n, im in people.items() if len(im) >= 31}
    strangers_files = [im[0] for im in people.values() if len(im) == 1]
    split = identify.split_people(people, 1)
    for model in args.models:
        info = model_info(model)
        rule = MatchRule(args.tau or info.default_threshold, info.default_margin)
        load = loader(root, model)
        strangers = load(strangers_files)
        probe_files = [p for im in many.values() for p in im[30:]]
        probe_ids = np.array([i for i, im in enumerate(many.values()) for _ in im[30:]])
        probes = load(probe_files)
        print(
            f"{model} (tau {rule.threshold:g}, margin {rule.margin:g}): {len(many)} people, "
            f"{len(probe_files)} known probes, {len(strangers_files)} strangers"
        )
        for how in RULES:
            cells, far = [], {}
            for k in (1, 3, 10, 30):
                files = [p for im in many.values() for p in im[:k]]
                ids = np.array([i for i, _ in enumerate(many.values()) for _ in range(k)])
                gallery = load(files)
                who, ok = named(*person_scores(probes, gallery, ids, how), rule)
                _, s_ok = named(*person_scores(strangers, gallery, ids, how), rule)
                far[k] = s_ok.mean()
                cells.append(
                    f"K={k}: right {100 * (ok & (who == probe_ids)).mean():.1f}% / strangers {100 * far[k]:.2f}%"
                )
            ratio = far[30] / far[1] if far[1] else float("inf")
            print(f"  {how:8s} " + "; ".join(cells) + f"; strangers x{ratio:.2f} K=1->30")
        # The Tony Blair case: the one-shot gallery with the 32 many-photo people at 30 samples each.
        many_ids = {i for i, n in enumerate(people) if n in many}
        files, ids = [], []
        for i, (n, im) in enumerate(people.items()):
            if len(im) > 1:
                take = 30 if n in many else 1
                files += im[:take]
                ids += [i] * take
        gallery, ids_a = load(files), np.array(ids)
        unknown = load(split.unknown)
        for how in RULES:
            who, ok = named(*person_scores(unknown, gallery, ids_a, how), rule)
            heavy = np.isin(who, list(many_ids))
            print(
                f"  mixed gallery, {how:8s}: strangers named {100 * ok.mean():.2f}%, "
                f"as a 30-sample person {100 * (ok & heavy).mean():.2f}% "
                f"(those people are {100 * len(many) / len(np.unique(ids_a)):.1f}% of the gallery)"
            )


if __name__ == "__main__":
    main()

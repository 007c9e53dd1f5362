"""How far can dlib-resnet go on LFW? The experiments behind "Against the targets" in docs/benchmarks.md.

Every row is scored with faceapp's own benchmark code (the 10-fold pairs.txt protocol of `bench lfw`, the open-set
split and DIR of `bench identify`, with and without the ambiguity margin). Rows:

- faceapp: the app's pipeline, read from the `bench` embedding cache (run `faceapp bench identify` first).
- test-time augmentation: descriptors averaged over 8 alignments (template scaled by 1, 1.04, 0.96, 1.08, rotated
  +-4 degrees, shifted +-3 px vertically), each with its mirror: 16 network passes per face instead of 2. The
  landmarks come from the cache, so only the network runs (about 15 minutes on 2 cores). `--tta-cache` keeps them.
- a linear head learned on LFW (WCCN: whitening by the within-person covariance), trained for each pairs.txt fold on
  the people of the other nine folds (people.txt), the LFW "unrestricted" protocol. pairs.txt only.
- dlib's own pipeline (HOG, dlib 5-point, dlib's chip), from `dlib_reference.py`'s output, when given.

    python docs/experiments/identify_ceiling.py --data ../shared/data [--dlib-reference dlib_reference.npz] \
        [--tta] [--tta-cache tta.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faceapp.bench import identify, lfw
from faceapp.bench.embed_cache import EmbedCache, cache_path, file_key
from faceapp.core import align
from faceapp.core.distance import normalize, pair_distances

VARIANTS = ((1.0, 0, 0), (1.04, 0, 0), (0.96, 0, 0), (1.08, 0, 0), (1.0, 4, 0), (1.0, -4, 0), (1.0, 0, 3), (1.0, 0, -3))


def template(scale: float, degrees: float, dy: float) -> np.ndarray:
    """The dlib chip template scaled and rotated about the chip centre, then shifted down by dy pixels."""
    c = align.DLIB_CHIP_SIZE / 2
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (align.DLIB_MTCNN_TEMPLATE - c) @ rot.T * scale + c + np.array([0.0, dy])


def tta_embeddings(root: Path, keys: list[str], landmarks: np.ndarray) -> np.ndarray:
    """Unit descriptors averaged over the 8 alignments and their mirrors (each pass normalised first)."""
    from faceapp.core.embedders.dlib_resnet import DlibResnetEmbedder
    from faceapp.core.image_io import load_image

    net = DlibResnetEmbedder(mirror=False)
    templates = [template(*v) for v in VARIANTS]
    out = np.zeros((len(keys), 128), np.float32)
    for start in range(0, len(keys), 16):
        chips = []
        for i in range(start, min(start + 16, len(keys))):
            image = load_image(root / keys[i])
            for t in templates:
                chip = align.warp(image, align.similarity_matrix(landmarks[i], t), align.DLIB_CHIP_SIZE)
                chips += [chip, chip[:, ::-1]]
        desc = normalize(net.descriptors(np.stack(chips))).reshape(-1, 2 * len(templates), 128)
        out[start : start + desc.shape[0]] = normalize(desc.mean(axis=1))
        if start % 1600 == 0:
            print(f"tta: {start}/{len(keys)}", flush=True)
    return out


def people_folds(root: Path) -> dict[str, int]:
    """people.txt: the person -> fold map of the 10 pairs.txt folds."""
    lines = (root / "people.txt").read_text().splitlines()
    folds, i = {}, 1
    for fold in range(int(lines[0])):
        count = int(lines[i])
        for line in lines[i + 1 : i + 1 + count]:
            folds[line.split("\t")[0]] = fold
        i += 1 + count
    return folds


def wccn_out_of_fold(emb: np.ndarray, keys: list[str], folds: dict[str, int]) -> np.ndarray:
    """Each image projected by a within-person whitening learned on the other nine folds' people."""
    person = np.array([k.split("/")[0] for k in keys])
    fold = np.array([folds.get(p, -1) for p in person])
    out = np.zeros_like(emb)
    for f in range(10):
        train = (fold != f) & (fold >= 0)
        names, inverse, counts = np.unique(person[train], return_inverse=True, return_counts=True)
        x = emb[train]
        means = np.zeros((names.size, x.shape[1]))
        np.add.at(means, inverse, x)
        means /= counts[:, None]
        keep = counts[inverse] >= 2
        centred = (x - means[inverse])[keep]
        sw = centred.T @ centred / centred.shape[0]
        w, v = np.linalg.eigh(sw + 1e-3 * np.trace(sw) / sw.shape[0] * np.eye(sw.shape[0]))
        whiten = v @ np.diag(w**-0.5) @ v.T
        out[fold == f] = normalize(emb[fold == f] @ whiten)
    return out


def verification(root: Path, index: dict[str, int], emb: np.ndarray) -> str:
    pairs = lfw.parse_pairs(root / "pairs.txt")
    a = np.array([index[f"{p.name1}/{p.name1}_{p.i1:04d}.jpg"] for p in pairs])
    b = np.array([index[f"{p.name2}/{p.name2}_{p.i2:04d}.jpg"] for p in pairs])
    fig = lfw.verification_figures(
        pair_distances(emb[a], emb[b]), np.array([p.same for p in pairs]), np.array([p.fold for p in pairs]), 0.178
    )
    tar = {row["far"]: row["tar"] for row in fig["tar_at_far"]}
    return f"{100 * fig['accuracy_mean']:.2f} +- {100 * fig['accuracy_std']:.2f}% | {100 * tar[0.001]:.2f}%"


def development(root: Path, index: dict[str, int], emb: np.ndarray) -> str:
    """Accuracy on pairsDevTest at the threshold that is best on pairsDevTrain (LFW's development split)."""
    from faceapp.bench import metrics

    def dist_same(name: str) -> tuple[np.ndarray, np.ndarray]:
        pairs = lfw.parse_pairs(root / name)
        a = np.array([index[f"{p.name1}/{p.name1}_{p.i1:04d}.jpg"] for p in pairs])
        b = np.array([index[f"{p.name2}/{p.name2}_{p.i2:04d}.jpg"] for p in pairs])
        return pair_distances(emb[a], emb[b]), np.array([p.same for p in pairs])

    tau = metrics.best_threshold(*dist_same("pairsDevTrain.txt"))
    return f"{100 * metrics.accuracy(*dist_same('pairsDevTest.txt'), tau):.2f}%"


def identification(root: Path, index: dict[str, int], emb: np.ndarray, samples: int) -> str:
    split = identify.split_people(identify.list_people(root), samples)

    def rows(paths: list[Path]) -> np.ndarray:
        return emb[[index[p.relative_to(root).as_posix()] for p in paths]].astype(np.float32)

    near = identify.Nearest.compute(
        rows(split.gallery), split.gallery_ids, rows(split.known), split.known_ids, rows(split.unknown)
    )
    only, ruled = identify.dir_rows(near, 0.0), identify.dir_rows(near, 0.35)
    return (
        f"{100 * near.correct.mean():.2f}% | {100 * only[0]['dir']:.2f}% / {100 * ruled[0]['dir']:.2f}% | "
        f"{100 * only[1]['dir']:.2f}% / {100 * ruled[1]['dir']:.2f}%"
    )


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--dlib-reference", type=Path, help="dlib_reference.py's output")
    parser.add_argument("--tta", action="store_true", help="compute the test-time augmentation row (slow)")
    parser.add_argument("--tta-cache", type=Path, help="keep / reuse the TTA embeddings in this .npz")
    args = parser.parse_args()
    root = lfw.lfw_root(args.data)
    keys = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*_[0-9][0-9][0-9][0-9].jpg"))
    index = {k: i for i, k in enumerate(keys)}
    cache = EmbedCache.open(cache_path("lfw", "dlib-resnet"), "dlib-resnet", 128)
    try:
        rows = [cache.index[file_key(root / k, root)] for k in keys]
    except KeyError:
        raise SystemExit("the bench cache is incomplete: run `faceapp bench identify --data ...` first") from None
    faceapp = np.stack([cache.embeddings[i] for i in rows]).astype(np.float64)
    table = {"faceapp (MTCNN, template fit, mirror: 2 passes)": faceapp}
    if args.tta:
        if args.tta_cache is not None and args.tta_cache.exists():
            table["+ test-time augmentation (16 passes)"] = np.load(args.tta_cache)["embeddings"]
        else:
            emb = tta_embeddings(root, keys, np.stack([cache.landmarks[i] for i in rows]).astype(np.float64))
            if args.tta_cache is not None:
                np.savez(args.tta_cache, embeddings=emb)
            table["+ test-time augmentation (16 passes)"] = emb
    if args.dlib_reference is not None:
        ref = np.load(args.dlib_reference)
        order = {str(k): i for i, k in enumerate(ref["keys"])}
        table["dlib's own pipeline (HOG, 5-point, get_face_chip)"] = normalize(
            ref["descriptors"][[order[k] for k in keys]].astype(np.float64)
        )
    print(
        "| pipeline | DevTest (tau from DevTrain) | LFW 10-fold | TAR @ FAR 0.1% | K=1 rank-1 "
        "| K=1 DIR @ FAR 1% (distance only / margin 0.35) | K=1 DIR @ FAR 0.1% (same) | K=3 rank-1 "
        "| K=3 DIR @ FAR 1% (same) | K=3 DIR @ FAR 0.1% (same) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, emb in table.items():
        print(
            f"| {name} | {development(root, index, emb)} | {verification(root, index, emb)} "
            f"| {identification(root, index, emb, 1)} "
            f"| {identification(root, index, emb, 3)} |"
        )
    heads = wccn_out_of_fold(faceapp, keys, people_folds(root))
    name = "faceapp + WCCN head learned on the other 9 folds"
    print(f"| {name} | - | {verification(root, index, heads)} | - | - | - | - | - | - |")


if __name__ == "__main__":
    main()

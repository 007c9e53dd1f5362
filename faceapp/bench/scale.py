"""`faceapp bench scale`: a gallery of N samples on SQLite or PostgreSQL: load + index time, identify latency, memory.

The gallery holds `--real` LFW people (their first photo enrolled, their second kept as a probe; with --data) and
enough synthetic people (random unit vectors of the model's dimension, `--per-person` samples each) to make N
samples. `--filler faces` draws the synthetic people from a normal distribution with the real embeddings' mean and
covariance instead, so they lie where faces lie: the hard case for an index. A fresh engine then opens the gallery
and builds its snapshot (the matrix grouped by person, and from 50k rows on its HNSW graph, core/gallery_index.py)
and identifies each probe alone; the same snapshot's exact scan (every row read) runs beside it for its latency and
for whether the two give the same whole answers. Recall@1 compares the snapshot's nearest person with an
independent float64 scan of every sample; "named right" counts real probes whose nearest is their own person.
update_after_enrollment_s is the time from a newcomer's stored sample to a snapshot that names them (a layer over
the indexed gallery). Memory is the process's resident size after the load minus before it (memory the fill freed
and the load reused is not counted: see index_arrays_mb, the bytes of the snapshot's arrays, for the floor).
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.bench.soak import rss_mb
from faceapp.core.catalog import spec as model_info
from faceapp.core.types import Detection, FaceSample, MatchRule
from faceapp.engine import Engine
from faceapp.paths import db_label, db_target, is_db_url
from faceapp.storage.repository import GalleryRepository


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """n random unit vectors (float32)."""
    v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def placeholder_crop() -> FaceSample:
    """The one grey 8x8 face crop that every synthetic sample of a benchmark gallery shares."""
    return FaceSample(np.full((8, 8, 3), 128, np.uint8), Detection((0, 0, 8, 8), 0.9, np.full((5, 2), 4.0)), "bench")


def real_pairs(data: Path, model: str, count: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names, first-photo and second-photo embeddings of the first `count` LFW people with two or more photos."""
    from faceapp.bench.embed_cache import batch_detector, embed_dataset
    from faceapp.bench.identify import list_people
    from faceapp.bench.lfw import lfw_root
    from faceapp.core.embedders.registry import create_embedder

    root = lfw_root(data)
    people = [(name, files) for name, files in sorted(list_people(root).items()) if len(files) >= 2][:count]
    files = [f for _, fs in people for f in fs[:2]]
    e = embed_dataset("lfw", files, root, create_embedder(model), batch_detector()).embeddings
    return [name.replace("_", " ") for name, _ in people], e[0::2], e[1::2]


def face_like(rng: np.random.Generator, real: np.ndarray, n: int) -> np.ndarray:
    """n unit vectors drawn from a normal distribution with the mean and covariance of the `real` embeddings: a
    filler that lies where faces lie (the harder case for an index), unlike random unit vectors, which lie far
    from every face."""
    x = np.asarray(real, np.float64)
    mean, cov = x.mean(axis=0), np.cov(x, rowvar=False) + 1e-6 * np.eye(x.shape[1])
    root = np.linalg.cholesky(cov).astype(np.float32)
    out = np.empty((n, x.shape[1]), np.float32)
    for start in range(0, n, 65_536):  # in chunks: no n x dim float64 temporary
        z = rng.standard_normal((min(65_536, n - start), x.shape[1]), dtype=np.float32)
        rows = mean.astype(np.float32) + z @ root.T
        out[start : start + len(rows)] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def enrollment_update(engine: Engine, rng: np.random.Generator, dim: int, crop: FaceSample) -> tuple[float, bool]:
    """What one enrollment costs the live view once the gallery is loaded: a newcomer's sample stored as the engine
    stores it, then the time until engine.snapshot() has them (a layer over the indexed gallery, or a reload below
    the index's size), and whether identify names them then. The newcomer is removed afterwards."""
    vector = unit_rows(rng, 1, dim)[0]
    person = engine._repo.enroll("Bench Newcomer", [(crop, vector)], engine.model)
    started = time.perf_counter()
    engine.invalidate({person.id})  # what Engine.enroll does after its write
    match = engine.snapshot().identify(vector[None, :], MatchRule(0.1))[0]
    update = time.perf_counter() - started
    engine.remove_person(person.id)
    return update, match.person_id == person.id and match.accepted


def exact_nearest(
    probe: np.ndarray,
    vectors: np.ndarray,
    owners: np.ndarray,
    scoring: str,
    grouping: tuple[np.ndarray, np.ndarray] | None = None,
) -> int:
    """The nearest person's id by a float64 scan of every sample (the reference for recall@1); `grouping` is
    np.unique(owners, return_inverse=True), computed once for many probes."""
    d = np.clip(2.0 - 2.0 * (vectors @ probe.astype(np.float64)), 0.0, 4.0)
    people, inverse = grouping if grouping is not None else np.unique(owners, return_inverse=True)
    if scoring == "nearest":
        best = np.full(len(people), np.inf)
        np.minimum.at(best, inverse, d)
    else:
        best = np.bincount(inverse, weights=d) / np.bincount(inverse)
    return int(people[int(np.argmin(best))])


def same_gallery(engine: Engine, names: list[str], owners: np.ndarray, vectors: np.ndarray) -> bool:
    """Whether `engine`'s gallery is the one this command builds: the same people in order, the same sample count,
    and the same vectors for the first and the last person (so another --seed, --filler or --data is not reused)."""
    people = sorted(engine.people(), key=lambda p: p.id)
    if [p.name for p in people] != names or engine.embedding_models().get(engine.model, 0) != len(vectors):
        return False
    for column in (0, len(people) - 1):
        stored = list(engine._repo.sample_embeddings(people[column].id, engine.model).values())
        mine = vectors[owners == column]
        if len(stored) != len(mine) or not np.allclose(np.stack(stored), mine, atol=1e-6):
            return False
    return True


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the gallery, then measure a fresh engine on it; returns the figures."""
    info = model_info(args.model)
    rng = np.random.default_rng(args.seed)
    if args.data is not None:
        names, enrolled, probes = real_pairs(args.data, args.model, args.real)
    else:  # no LFW here: "real" people are random points, probed with a noisy copy
        names = [f"Person {i}" for i in range(args.real)]
        enrolled = unit_rows(rng, args.real, info.dim)
        probes = enrolled + 0.35 * unit_rows(rng, args.real, info.dim)
        probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    synthetic = max(0, args.samples - len(names))
    fake_people = -(-synthetic // args.per_person)
    all_names = names + [f"Synthetic {i:07d}" for i in range(fake_people)]
    owners = np.concatenate([np.arange(len(names)), len(names) + np.arange(synthetic) // args.per_person])
    filler = unit_rows(rng, synthetic, info.dim) if args.filler == "random" else face_like(rng, enrolled, synthetic)
    vectors = np.concatenate([enrolled.astype(np.float32), filler])
    del filler
    crop = placeholder_crop()
    target: Path | str = args.db
    scratch = None
    if target is None:
        scratch = tempfile.TemporaryDirectory(prefix="faceapp-scale-")
        target = Path(scratch.name) / "scale.sqlite3"
    started = time.perf_counter()
    writer = Engine(GalleryRepository(target), args.model, embedder_factory=lambda name: None)  # type: ignore[arg-type,return-value]
    present = writer.people()
    reused = bool(present) and args.keep and same_gallery(writer, all_names, owners, vectors)
    if present and not reused:
        writer.close()
        hint = " (--keep reuses only a gallery this command built with the same --samples, --real and --per-person)"
        raise SystemExit(f"{db_label(target)} is not empty; give --db an empty gallery{hint if args.keep else ''}.")
    if not reused:
        writer.bulk_add(all_names, owners, vectors, crop)
    writer.close()
    fill_s = time.perf_counter() - started
    del writer, present
    gc.collect()

    before = rss_mb()
    started = time.perf_counter()
    engine = Engine(GalleryRepository(target, create=False), adopt_model=False)
    if args.index_min_rows is not None:
        engine.index_min_rows = args.index_min_rows
    snapshot = engine.snapshot()  # reads the gallery and builds the index (GallerySnapshot.build_index)
    load_s = time.perf_counter() - started
    memory = rss_mb() - before
    held = snapshot.embeddings.nbytes + snapshot.person_ids.nbytes + snapshot.index_nbytes
    held += snapshot._means.nbytes if snapshot.scoring == "average" else 0
    update_s, newcomer_named = enrollment_update(engine, rng, info.dim, crop)
    engine.close()

    rule = MatchRule(info.default_threshold, info.default_margin)
    times, agree, right = [], 0, 0
    # The gallery's person ids follow insertion order: map the bulk owners to stored ids through the names.
    stored = {name: pid for pid, name in snapshot.names.items()}
    id_of = np.array([stored[n] for n in all_names], np.int64)
    answers = []
    exact_named_right = 0
    for i, probe in enumerate(probes):
        t = time.perf_counter()
        match = snapshot.identify(probe[None, :], rule)[0]
        times.append((time.perf_counter() - t) * 1000)
        right += match.person_id == id_of[i]
        answers.append(match)
    # The same snapshot's exact scan (every row read): its latency, and whether the index gave the same answers.
    exact = replace(snapshot, index_min_rows=2**62)
    exact_times, same = [], 0
    for i, (probe, answer) in enumerate(zip(probes, answers, strict=True)):
        t = time.perf_counter()
        match = exact.identify(probe[None, :], rule)[0]
        exact_times.append((time.perf_counter() - t) * 1000)
        exact_named_right += match.person_id == id_of[i]
        same += (match.person_id, match.accepted, match.ambiguous) == (
            answer.person_id,
            answer.accepted,
            answer.ambiguous,
        )
    del exact
    vectors = vectors.astype(np.float64)  # the independent reference: float64, every sample
    checked = min(len(probes), args.recall_probes)
    grouping = np.unique(owners, return_inverse=True)
    for i in range(checked):
        agree += answers[i].person_id == id_of[exact_nearest(probes[i], vectors, owners, info.scoring, grouping)]
    graph = snapshot._index[0] if snapshot._index is not None else None
    result = {
        "backend": "postgresql" if is_db_url(target) else "sqlite",
        "gallery": db_label(target),
        "model": args.model,
        "dim": info.dim,
        "scoring": info.scoring,
        "samples": len(vectors),
        "people": len(all_names),
        "fill_s": round(fill_s, 1),
        "reused_gallery": reused,
        "load_and_index_s": round(load_s, 2),
        "update_after_enrollment_s": round(update_s, 3),
        "newcomer_named_after_update": newcomer_named,
        "memory_mb": round(memory),
        "index_arrays_mb": round(held / 2**20),
        "filler": args.filler,
        "indexed": graph is not None,
        "index_ef_search": graph.ef_search if graph is not None else None,
        "identify_p50_ms": round(float(np.percentile(times, 50)), 2),
        "identify_p95_ms": round(float(np.percentile(times, 95)), 2),
        "exact_scan_p50_ms": round(float(np.percentile(exact_times, 50)), 2),
        "exact_scan_p95_ms": round(float(np.percentile(exact_times, 95)), 2),
        "same_answer_as_exact_scan": round(same / len(probes), 4),
        "recall_at_1": round(agree / checked, 4) if checked else None,
        "recall_probes": checked,
        "real_probes_named_right": round(right / len(probes), 4),
        "real_probes_named_right_by_exact_scan": round(exact_named_right / len(probes), 4),
        "probes": len(probes),
    }
    if scratch is not None:
        scratch.cleanup()
    return result


def main(argv: list[str]) -> int:
    """faceapp bench scale --samples N [--db GALLERY] [--data LFW] ..."""
    p = argparse.ArgumentParser(prog="faceapp bench scale", description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, required=True, help="N: samples in the gallery")
    p.add_argument("--db", type=db_target, help="an EMPTY gallery file or server address (default: a temp file)")
    p.add_argument("--data", type=Path, help="the LFW folder: real people and probes (default: random ones)")
    p.add_argument("--model", default="dlib+sface", help="model whose dimension and scoring are used")
    p.add_argument("--real", type=int, default=200, help="real people (and probes)")
    p.add_argument("--per-person", type=int, default=4, help="samples per synthetic person")
    p.add_argument("--recall-probes", type=int, default=50, help="probes checked against the float64 exact scan")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--filler",
        choices=("random", "faces"),
        default="random",
        help="synthetic people: random unit vectors, or drawn where the real embeddings lie (harder for the index)",
    )
    p.add_argument("--index-min-rows", type=int, help="index from this many rows on (default: the app's)")
    p.add_argument(
        "--keep",
        action="store_true",
        help="with --db: reuse the gallery when an earlier run with the same settings built it (no fill)",
    )
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args(argv)
    if args.samples < 1 or args.per_person < 1 or args.real < 1:
        p.error("--samples, --real and --per-person must be at least 1")
    result = run(args)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0

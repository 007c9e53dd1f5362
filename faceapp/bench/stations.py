"""`faceapp bench stations`: several stations on one gallery (a SQLite file or a PostgreSQL server).

1. Propagation: station A enrolls a person; station B, watching the gallery (Engine.watch, as the app does), must
   name them. Reported: seconds from A's call to B's rebuilt snapshot holding the person, p50 and max over rounds.
2. Concurrency: 4 processes enroll 5 people each at once (3 names all four share, in different letter case, and 2
   of their own). Reported: samples committed (of 20), people (11 expected), duplicate names, integrity problems.
Vectors are random unit vectors of the model's dimension and the crops one shared image: no model is loaded.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.core.catalog import spec as model_info
from faceapp.core.types import Detection, FaceSample
from faceapp.engine import Engine, GalleryChange
from faceapp.paths import db_label, db_target
from faceapp.storage.repository import GalleryRepository

CROP = FaceSample(np.full((8, 8, 3), 128, np.uint8), Detection((0, 0, 8, 8), 0.9, np.full((5, 2), 4.0)), "bench")


def _station(target: Path | str, model: str) -> Engine:
    return Engine(GalleryRepository(target), model, embedder_factory=lambda name: None)  # type: ignore[arg-type,return-value]


def _vector(rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def propagation(target: Path | str, model: str, rounds: int) -> list[float]:
    """Seconds from an enrollment at one station to the other station's snapshot naming the person."""
    rng = np.random.default_rng(0)
    first, second = _station(target, model), _station(target, model)
    seen = threading.Event()
    second.subscribe(lambda change: seen.set() if change is GalleryChange.PEOPLE else None)
    second.watch()
    second.snapshot()
    latencies = []
    try:
        for r in range(rounds):
            seen.clear()
            name = f"Visitor {r}"
            started = time.perf_counter()
            first.import_samples(name, [(CROP, _vector(rng, model_info(model).dim))], model)
            while name not in second.snapshot().names.values():
                if not seen.wait(5):
                    raise RuntimeError(f"station B did not see {name} within 5 s")
                seen.clear()
            latencies.append(time.perf_counter() - started)
    finally:
        first.close()
        second.close()
    return latencies


def _child(target: str, model: str, process: int, go: Any, out: Any) -> None:
    rng = np.random.default_rng(100 + process)
    engine = _station(Path(target) if "://" not in target else target, model)
    try:
        out.put("ready")
        go.wait(60)
        shared = [f"Shared {i}".upper() if process % 2 else f"shared {i}" for i in range(3)]
        for name in [*shared, f"Own {process}-3", f"Own {process}-4"]:
            engine.import_samples(name, [(CROP, _vector(rng, model_info(model).dim))], model)
            out.put("committed")
    except Exception as exc:  # counted as lost
        out.put(f"error: {exc}")
    finally:
        engine.close()


def concurrency(target: Path | str, model: str) -> dict[str, Any]:
    """Four processes, five enrollments each, started together."""
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    children = [context.Process(target=_child, args=(str(target), model, p, go, out)) for p in range(4)]
    for child in children:
        child.start()
    for _ in children:
        out.get(timeout=120)
    started = time.perf_counter()
    go.set()
    reports = [out.get(timeout=120) for _ in range(20)]
    seconds = time.perf_counter() - started
    for child in children:
        child.join(60)
    engine = _station(target, model)
    try:
        people = [p for p in engine.people() if not p.name.startswith("Visitor ")]  # the propagation rounds
        keys = [p.name.casefold() for p in people]
        return {
            "committed": reports.count("committed"),
            "errors": [r for r in reports if r != "committed"],
            "samples": sum(p.sample_count for p in people),
            "people": len(people),
            "duplicate_names": len(keys) - len(set(keys)),
            "integrity_problems": engine.integrity_problems(),
            "seconds": round(seconds, 2),
        }
    finally:
        engine.close()


def main(argv: list[str]) -> int:
    """faceapp bench stations [--db EMPTY_GALLERY] [--rounds N]"""
    p = argparse.ArgumentParser(prog="faceapp bench stations", description=__doc__.splitlines()[0])
    p.add_argument("--db", type=db_target, help="an EMPTY gallery file or server address (default: a temp file)")
    p.add_argument("--model", default="dlib+sface", help="model whose dimension the vectors have")
    p.add_argument("--rounds", type=int, default=20, help="enrollments timed for propagation")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args(argv)
    scratch = tempfile.TemporaryDirectory(prefix="faceapp-stations-") if args.db is None else None
    target = args.db if scratch is None else Path(scratch.name) / "stations.sqlite3"
    try:
        _station(target, args.model).close()
        lat = propagation(target, args.model, args.rounds)
        result = {
            "gallery": db_label(target),
            "propagation_p50_s": round(float(np.median(lat)), 3),
            "propagation_max_s": round(max(lat), 3),
            "rounds": len(lat),
            "concurrent_4x5": concurrency(target, args.model),
        }
    finally:
        if scratch is not None:
            scratch.cleanup()
    text = json.dumps(result, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0

"""Small fakes for the storage tests: face samples, unit embeddings, and row counts read around the repository."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from faceapp.core.types import Detection, FaceSample


def make_sample(seed: int, height: int = 48, width: int = 40, source: str = "") -> FaceSample:
    """A face sample with random pixels, a box and landmarks that differ per seed."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    landmarks = rng.uniform(5, 35, (5, 2))
    box = (2.0 + seed, 3.5, 30.25, 40.0 + seed)
    return FaceSample(image, Detection(box, 0.5 + seed / 1000, landmarks), source or f"photo-{seed}.jpg")


def unit(seed: int, dim: int = 512) -> np.ndarray:
    """A random unit-length float32 embedding."""
    v = np.random.default_rng(1000 + seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def count_rows(target: Path | str, table: str) -> int:
    """Rows in `table`, read with a separate connection (sqlite3, or psycopg for a server), not the repository's."""
    if isinstance(target, str):
        import psycopg
        from sqlalchemy import make_url

        url = make_url(target)
        query = dict(url.query)
        with psycopg.connect(
            dbname=url.database, user=url.username, password=url.password, host=query["host"], port=query["port"]
        ) as pg:
            row = pg.execute(f"SELECT count(*) FROM {table}").fetchone()
            return int(row[0]) if row else 0
    conn = sqlite3.connect(target)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()

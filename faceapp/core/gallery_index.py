"""The index of large galleries: an HNSW graph (faiss) proposes the nearest rows, which are then scored exactly.

Below INDEX_MIN_ROWS rows (people's means under "average" scoring, samples under "nearest") identify scans every
row: a 50k x 256 float32 scan costs ~5 ms on one core here and is exact by construction. From there on, one probe
reading the whole matrix costs 25-35 ms at a million samples, so a hierarchical navigable small-world graph
(Malkov & Yashunin, 2016; faiss's IndexHNSWFlat, inner product) is built over the rows and a probe walks it to a
few candidate rows, which `GallerySnapshot` then scores with the same formula as the full scan (the distances
shown are exact; only a true nearest row the walk never reaches can be missed). `faceapp bench scale` reports how
often that happens (recall@1 against an exact float64 scan, and whole answers against the exact scan) and the
latency, at 10k to 1M samples.

Chosen by measurement over an inverted-file index in numpy (k-means lists) and over usearch and hnswlib, on a
million samples whose synthetic people lie where LFW faces lie (docs/benchmarks.md, "Scale"): the lists needed a
quarter of the gallery read for 0.98 of the answers; faiss's graph gave 1.00 at 0.3 ms and built fastest
(hnswlib ships no wheels and needs a compiler). Built on the gallery runner with the snapshot, never on the live
thread. Without faiss (an unsupported platform) identify scans every row, with a warning in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

INDEX_MIN_ROWS = 50_000
LINKS = 16  # HNSW's M: neighbours per node (faiss's default 32 built in twice the time for the same recall)
EF_CONSTRUCTION = 40  # candidates kept while linking a new row (64: recall 1.000 but 33 s instead of 20 s to build)
EF_SEARCH = 128  # candidates kept while walking to a probe (64: recall 0.975 on the measured million)


def _faiss() -> Any | None:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a dependency; this is the unsupported-platform path
        log.warning("faiss is not available (%s): large galleries are searched row by row", exc)
        return None
    return faiss


@dataclass(frozen=True)
class GalleryIndex:
    """An HNSW graph over a matrix's rows (it keeps its own float32 copy of them); searched, never changed."""

    graph: Any = field(repr=False)  # faiss.IndexHNSWFlat
    rows: int
    params: Any = field(repr=False)  # faiss.SearchParametersHNSW: read-only, shared by concurrent searches

    @classmethod
    def build(
        cls, rows: np.ndarray, links: int = LINKS, ef_construction: int = EF_CONSTRUCTION, ef_search: int = EF_SEARCH
    ) -> GalleryIndex | None:
        """The graph over `rows` (R, D); None when faiss cannot be imported."""
        faiss = _faiss()
        if faiss is None:
            return None
        x = np.ascontiguousarray(rows, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError("an index needs at least one row")
        graph = faiss.IndexHNSWFlat(x.shape[1], links, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = ef_construction
        graph.add(x)
        return cls(graph, x.shape[0], faiss.SearchParametersHNSW(efSearch=ef_search))

    @property
    def nbytes(self) -> int:
        """The memory the graph holds: its copy of the rows and its links (4 bytes each)."""
        graph = self.graph
        links = int(graph.hnsw.neighbors.size()) if hasattr(graph.hnsw.neighbors, "size") else 0
        return int(self.rows * graph.d * 4 + links * 4)

    @property
    def ef_search(self) -> int:
        """Candidates kept while walking to a probe."""
        return int(self.params.efSearch)

    def candidates(self, probe: np.ndarray, k: int) -> np.ndarray:
        """Up to `k` (at most ef_search) row numbers of the largest inner products with one probe (D,), as the walk
        found them."""
        k = max(1, min(k, self.rows, self.ef_search))
        _, found = self.graph.search(np.ascontiguousarray(probe, np.float32).reshape(1, -1), k, params=self.params)
        row = found[0]
        return row[row >= 0]

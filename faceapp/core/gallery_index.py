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
import queue
import threading
from dataclasses import dataclass, field, replace
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
        x = np.ascontiguousarray(rows, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError("an index needs at least one row")
        graph = cls.start(x.shape[1], links, ef_construction, ef_search)
        return None if graph is None else graph.extended(x)

    @classmethod
    def start(
        cls, dim: int, links: int = LINKS, ef_construction: int = EF_CONSTRUCTION, ef_search: int = EF_SEARCH
    ) -> GalleryIndex | None:
        """An empty graph for rows of `dim` values; None when faiss cannot be imported."""
        faiss = _faiss()
        if faiss is None:
            return None
        graph = faiss.IndexHNSWFlat(dim, links, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = ef_construction
        return cls(graph, 0, faiss.SearchParametersHNSW(efSearch=ef_search))

    def extended(self, rows: np.ndarray) -> GalleryIndex:
        """This graph with `rows` (R, D) linked in after the ones it has. It changes the graph itself: only for a
        graph nobody searches yet (one being built)."""
        x = np.ascontiguousarray(rows, dtype=np.float32)
        self.graph.add(x)
        return replace(self, rows=self.rows + x.shape[0])

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


def group_means(rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The mean of each group of consecutive `rows` (R, D) starting at `starts` (K,), as float32 (K, D): the one
    formula for a person's mean, so the means an IndexFeed builds are the snapshot's own to the last bit."""
    counts = np.diff(np.append(starts, rows.shape[0])).astype(np.float32)
    return np.add.reduceat(rows, starts, axis=0, dtype=np.float32) / counts[:, None]


@dataclass(frozen=True)
class FedRows:
    """What an IndexFeed built while a gallery was read: the people in the order read, the rows identify scores
    (their means under "average" scoring, else the samples themselves: then `means` is None), and the graph over
    those rows (None below the feed's min_rows)."""

    people: np.ndarray
    means: np.ndarray | None
    graph: GalleryIndex | None
    rows: int
    samples: int  # the samples read (the rows under "nearest")


class IndexFeed:
    """Builds a large gallery's index while the gallery is still being read, so the read and the graph overlap.

    The reader calls `add(ids, vectors)` with each batch as it lands (rows in person order, as the repository reads
    them); a thread averages the people a batch completes and adds their rows to the graph (faiss releases the GIL
    while it links them), and `finish()` waits for it. A million samples took 11.5 s to read, 3.5 s to average and
    28 s to link one after the other (docs/benchmarks.md, "A million faces"). Nothing starts before min_rows
    samples have arrived, so small galleries pay nothing; rows out of person order or not finite stop the feed
    (`finish()` is None), and the snapshot then computes everything itself as before.
    """

    def __init__(self, average: bool, min_rows: int = INDEX_MIN_ROWS) -> None:
        self._average = average
        self._min_rows = max(1, min_rows)
        self._waiting: list[tuple[np.ndarray, np.ndarray]] = []  # batches before min_rows samples have arrived
        self._samples = 0
        # unbounded: it holds views of the matrix being read, never copies, and the read never waits for the graph
        self._queue: queue.Queue[tuple[np.ndarray, np.ndarray] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._failed = False
        self._people: list[np.ndarray] = []
        self._means: np.ndarray | None = None  # grown by doubling: chunks joined at the end held the means twice
        self._pending: list[np.ndarray] = []  # rows not yet in the graph (all of them until min_rows rows)
        self._pending_rows = 0
        self._rows = 0
        self._carry: tuple[int, np.ndarray] | None = None  # the last person read so far (may go on in the next batch)
        self._last = np.iinfo(np.int64).min
        self._graph: Any = None

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """One batch of (person ids (B,), their vectors (B, D)); kept by reference, never changed by the feed."""
        if self._failed or ids.shape[0] == 0:
            return
        self._samples += ids.shape[0]
        if self._thread is None:
            self._waiting.append((ids, vectors))
            if self._samples < self._min_rows:
                return
            self._thread = threading.Thread(target=self._run, name="faceapp-index-feed", daemon=True)
            self._thread.start()
            for batch in self._waiting:
                self._queue.put(batch)
            self._waiting = []
            return
        self._queue.put((ids, vectors))

    def finish(self) -> FedRows | None:
        """Wait for the thread; what it built, or None (nothing started, or the feed stopped)."""
        if self._thread is None:
            return None
        self._queue.put(None)
        self._thread.join()
        if self._failed:
            return None
        people = np.concatenate(self._people) if self._people else np.zeros(0, np.int64)
        people.flags.writeable = False
        means = self._means[: self._rows] if self._average and self._means is not None else None
        return FedRows(people, means, self._graph, self._rows, self._samples)

    def cancel(self) -> None:
        """Stop without waiting for the graph (the read failed): the thread drops what is queued and ends after the
        batch it is linking."""
        self._failed = True
        if self._thread is not None:
            self._queue.put(None)

    def _run(self) -> None:
        try:
            while (batch := self._queue.get()) is not None:
                if not self._failed:
                    self._take(*batch)
            if not self._failed:
                if self._carry is not None:
                    pid, rows = self._carry
                    self._keep(np.array([pid], np.int64), group_means(rows, np.zeros(1, np.int64)))
                self._link(final=True)
        except Exception:  # the snapshot then builds the index itself; the reason goes to the log
            log.exception("building the index while reading the gallery failed; building it afterwards")
            self._failed = True

    def _take(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if ids[0] < self._last or bool(np.any(ids[1:] < ids[:-1])) or not np.isfinite(vectors).all():
            self._failed = True  # not in person order, or a NaN the repository will leave out: not this matrix
            return
        previous, self._last = self._last, int(ids[-1])
        if not self._average:
            people = np.unique(ids)
            if people[0] == previous:  # a person the last batch ended with
                people = people[1:]
            self._people.append(people)
            self._keep(None, vectors)
            self._link(final=False)
            return
        if self._carry is not None:  # the person the last batch ended with
            ids = np.concatenate([np.full(self._carry[1].shape[0], self._carry[0], np.int64), ids])
            vectors = np.concatenate([self._carry[1], vectors])
        people, starts = np.unique(ids, return_index=True)
        done = int(starts[-1])  # the last person may go on in the next batch
        self._carry = (int(people[-1]), vectors[done:].copy())
        if people.shape[0] > 1:
            self._keep(people[:-1], group_means(vectors[:done], starts[:-1]))
        self._link(final=False)

    def _keep(self, people: np.ndarray | None, rows: np.ndarray) -> None:
        if people is not None:
            self._people.append(people)
            if self._means is None or self._means.shape[0] < self._rows + rows.shape[0]:
                grown = np.empty((max(65_536, 2 * (self._rows + rows.shape[0])), rows.shape[1]), np.float32)
                if self._means is not None:
                    grown[: self._rows] = self._means[: self._rows]
                self._means = grown  # untouched rows of the spare half are never paged in
            self._means[self._rows : self._rows + rows.shape[0]] = rows
        self._pending.append(rows)
        self._pending_rows += rows.shape[0]
        self._rows += rows.shape[0]

    def _link(self, final: bool) -> None:
        """Add the pending rows to the graph, once min_rows rows have come (at the end: only if they have)."""
        if self._graph is None and self._rows < self._min_rows:
            return
        if not self._pending or (not final and self._pending_rows < 1024):
            return
        pending, self._pending, self._pending_rows = self._pending, [], 0
        if self._graph is None:
            self._graph = GalleryIndex.start(pending[0].shape[1])
            if self._graph is None:
                self._failed = True
                return
        for rows in pending:  # one by one: joining them would copy every row once more (a GB at a million samples)
            if self._failed:  # cancelled
                return
            self._graph = self._graph.extended(rows)

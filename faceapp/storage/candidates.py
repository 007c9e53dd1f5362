"""The unknown-faces review's candidates in the gallery database (retention "N days"): core.review's backend.

Two tables beside the gallery's (review_candidates, review_crops; migrations step "_add_review"). They are not the
gallery: `faceapp gallery export` and `gallery copy` never carry them, other stations are not told when they change,
and deleting one really deletes it (SQLite's secure_delete overwrites its pages, and the WAL is emptied after).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, func, select, update

from faceapp.core.review import Candidate
from faceapp.core.types import FaceSample
from faceapp.storage.models import CandidateCropRow, CandidateRow, decode_sample, encode_sample, vector_bytes
from faceapp.storage.repository import GalleryRepository


class CandidateRepository:
    """core.review.CandidateBackend on a gallery repository; one transaction per call, any one thread at a time."""

    def __init__(self, repo: GalleryRepository) -> None:
        """Candidates stored in `repo`'s database."""
        self._repo = repo

    def save_candidates(self, candidates: Sequence[Candidate]) -> list[int]:
        """Store new candidates with their crops; their row ids, in order."""
        rows: list[tuple[CandidateRow, list[CandidateCropRow]]] = []
        for c in candidates:  # check and encode everything before writing anything
            crops = [
                CandidateCropRow(rank=rank, quality=float(q), **encode_sample(sample))
                for rank, (sample, q) in enumerate(zip(c.samples, c.qualities, strict=True))
            ]
            blob = vector_bytes(c.embedding, None, c.model)
            row = CandidateRow(
                model=c.model, first_seen=c.first_seen, last_seen=c.last_seen, embedding=blob, link=c.link
            )
            rows.append((row, crops))
        with self._repo._session(write=True, counted=False) as s:
            s.add_all([row for row, _ in rows])
            s.flush()
            for row, crops in rows:
                for crop in crops:
                    crop.candidate_id = row.id
                s.add_all(crops)
            s.flush()
            return [row.id for row, _ in rows]

    def load_candidates(self) -> list[Candidate]:
        """Every stored candidate, oldest first; `id` and `stored_id` are its row id."""
        with self._repo._session() as s:
            crops: dict[int, list[CandidateCropRow]] = {}
            for crop in s.scalars(
                select(CandidateCropRow).order_by(CandidateCropRow.candidate_id, CandidateCropRow.rank)
            ):
                crops.setdefault(crop.candidate_id, []).append(crop)
            out = []
            for row in s.scalars(select(CandidateRow).order_by(CandidateRow.id)):
                mine = crops.get(row.id, [])
                if not mine:
                    continue  # a candidate without crops cannot be shown or named
                out.append(
                    Candidate(
                        id=row.id,
                        model=row.model,
                        first_seen=row.first_seen,
                        last_seen=row.last_seen,
                        embedding=np.frombuffer(row.embedding, dtype="<f4").astype(np.float32),
                        samples=tuple(self._sample(crop) for crop in mine),
                        qualities=tuple(crop.quality for crop in mine),
                        link=row.link,
                        stored_id=row.id,
                    )
                )
            return out

    def delete_candidates(self, stored_ids: Sequence[int]) -> int:
        """Delete these candidates with their crops; how many went."""
        ids = [int(i) for i in stored_ids]
        if not ids:
            return 0
        with self._repo._session(write=True, counted=False) as s:
            gone = s.scalar(select(func.count()).select_from(CandidateRow).where(CandidateRow.id.in_(ids))) or 0
            s.execute(delete(CandidateRow).where(CandidateRow.id.in_(ids)))
        self._repo._purge_wal()
        return int(gone)

    def link_candidates(self, stored_ids: Sequence[int], link: int) -> None:
        """Record that these candidates were merged into one group."""
        ids = [int(i) for i in stored_ids]
        with self._repo._session(write=True, counted=False) as s:
            s.execute(update(CandidateRow).where(CandidateRow.id.in_(ids)).values(link=int(link)))

    def expire_candidates(self, before: float) -> int:
        """Delete every candidate last seen before `before` (time.time()); how many went."""
        with self._repo._session(write=True, counted=False) as s:
            old = CandidateRow.last_seen < float(before)
            gone = s.scalar(select(func.count()).select_from(CandidateRow).where(old)) or 0
            if gone:
                s.execute(delete(CandidateRow).where(old))
        if gone:
            self._repo._purge_wal()
        return int(gone)

    def count(self) -> tuple[int, int]:
        """(candidates, crops) stored."""
        with self._repo._session() as s:
            candidates = s.scalar(select(func.count()).select_from(CandidateRow)) or 0
            crops = s.scalar(select(func.count()).select_from(CandidateCropRow)) or 0
            return int(candidates), int(crops)

    def _sample(self, crop: CandidateCropRow) -> FaceSample:
        return decode_sample(crop, self._repo.label)  # type: ignore[arg-type]  # the same columns as SampleRow

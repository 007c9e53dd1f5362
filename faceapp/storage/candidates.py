"""The unknown-faces review's candidates in the gallery database (retention "N days"): core.review's backend.

Two tables beside the gallery's (review_candidates, review_crops; migrations step "_add_review"); a crop's image is
kept as the review holds it (a small JPEG, core.review.compact; PNG in rows written before), decoded by cv2 either
way. They are not the
gallery: `faceapp gallery export` and `gallery copy` never carry them, other stations are not told when they change,
and deleting one really deletes it (SQLite's secure_delete overwrites its pages, and the WAL is emptied after).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, func, select, update

from faceapp.core.review import Candidate, Crop, ReviewError, thumbnail_of
from faceapp.core.types import Detection, FaceSample
from faceapp.errors import BadInputError, DatabaseError
from faceapp.storage.models import CandidateCropRow, CandidateRow, encode_sample, vector_bytes
from faceapp.storage.repository import GalleryRepository

log = logging.getLogger(__name__)


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
                CandidateCropRow(rank=rank, quality=crop.quality, **_columns(crop)) for rank, crop in enumerate(c.crops)
            ]
            blob = vector_bytes(c.embedding, None, c.model)
            row = CandidateRow(
                model=c.model,
                first_seen=c.first_seen,
                last_seen=c.last_seen,
                embedding=blob,
                link=c.link,
                tracks=max(1, int(c.tracks)),
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

    def load_candidates(self, newest: int | None = None) -> list[Candidate]:
        """The `newest` stored candidates by last seen (every one when None), oldest first; `id` is the row id.

        Crops stay encoded as stored (only the best is decoded, for the thumbnail).
        """
        with self._repo._session() as s:
            query = select(CandidateRow).order_by(CandidateRow.last_seen.desc(), CandidateRow.id.desc())
            rows = list(s.scalars(query if newest is None else query.limit(newest)))
            crops: dict[int, list[CandidateCropRow]] = {}
            ids = [row.id for row in rows]
            for start in range(0, len(ids), 500):  # IN lists of a bounded length
                chunk = ids[start : start + 500]
                found = select(CandidateCropRow).where(CandidateCropRow.candidate_id.in_(chunk))
                for crop in s.scalars(found.order_by(CandidateCropRow.candidate_id, CandidateCropRow.rank)):
                    crops.setdefault(crop.candidate_id, []).append(crop)
            out, damaged = [], []
            for row in reversed(rows):
                try:
                    kept = tuple(self._crop(crop) for crop in crops.get(row.id, []))
                    if not kept:
                        continue  # a candidate without crops cannot be shown or named
                    out.append(
                        Candidate(
                            id=row.id,
                            model=row.model,
                            first_seen=row.first_seen,
                            last_seen=row.last_seen,
                            embedding=_embedding(row.embedding),
                            crops=kept,
                            thumbnail=self._thumbnail(row.id, kept[0]),
                            link=row.link,
                            stored_id=row.id,
                            tracks=max(1, row.tracks or 1),
                        )
                    )
                except (DatabaseError, ReviewError, ValueError, TypeError):
                    damaged.append(row.id)  # one damaged row must not hide every other stored face
        if damaged:  # it can be neither shown nor named: it goes, said in the log
            log.warning("%s: %d damaged unknown face(s) deleted from the review", self._repo.label, len(damaged))
            self.delete_candidates(damaged)
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

    def delete_linked(self, links: Sequence[int]) -> int:
        """Delete every candidate merged under one of these links, with its crops; how many went."""
        keys = [int(k) for k in links]
        if not keys:
            return 0
        with self._repo._session(write=True, counted=False) as s:
            linked = CandidateRow.link.in_(keys)
            gone = s.scalar(select(func.count()).select_from(CandidateRow).where(linked)) or 0
            if gone:
                s.execute(delete(CandidateRow).where(linked))
        if gone:
            self._repo._purge_wal()
        return int(gone)

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

    def _crop(self, row: CandidateCropRow) -> Crop:
        if len(row.landmarks) != 80:
            raise DatabaseError(f"{self._repo.label} is damaged (review crop {row.id} cannot be read).")
        landmarks = np.frombuffer(row.landmarks, dtype="<f8").astype(np.float64).reshape(5, 2)
        detection = Detection((row.box_x1, row.box_y1, row.box_x2, row.box_y2), row.det_score, landmarks)
        return Crop(bytes(row.image), detection, float(row.quality), row.source)

    def _thumbnail(self, candidate_id: int, crop: Crop) -> np.ndarray:
        try:
            return thumbnail_of(crop)
        except BadInputError as e:
            raise DatabaseError(
                f"{self._repo.label} is damaged (review candidate {candidate_id} cannot be read)."
            ) from e


def _columns(crop: Crop) -> dict[str, object]:
    """A kept crop's review_crops columns: its encoded bytes as they are, and the face's box and landmarks."""
    marker = FaceSample(np.zeros((1, 1, 3), np.uint8), crop.detection, crop.source)  # checks box and landmarks
    columns = encode_sample(marker)
    columns["image"] = crop.data
    return columns


def _embedding(blob: object) -> np.ndarray:
    """A stored candidate's mean embedding; ValueError (or TypeError) for bytes that are not finite float32."""
    vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)  # type: ignore[call-overload]
    if not vector.size or not np.isfinite(vector).all():
        raise ValueError("not a finite embedding")
    return vector

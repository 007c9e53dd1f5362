"""Checks of the stored corrections for `faceapp gallery check` (GalleryRepository.integrity_problems).

A correction's embedding is matched against the same model's samples (core.matching), so it must have their width
and finite values, and belong to a correction that belongs to a person; a NaN one would be skipped silently.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from faceapp.storage.models import EmbeddingRow, NegativeEmbeddingRow, NegativeRow, PersonRow

CHUNK = 1000  # correction vectors read at a time when looking for non-finite values


def negative_problems(s: Session) -> list[str]:
    """What is wrong with the corrections and their embeddings, one line each (reads only)."""
    problems: list[str] = []
    orphans = select(func.count()).select_from(NegativeRow).where(~NegativeRow.person_id.in_(select(PersonRow.id)))
    if n := s.scalar(orphans):
        problems.append(f"{n} correction(s) belong to nobody")
    lost = (
        select(func.count())
        .select_from(NegativeEmbeddingRow)
        .where(~NegativeEmbeddingRow.negative_id.in_(select(NegativeRow.id)))
    )
    if n := s.scalar(lost):
        problems.append(f"{n} correction embedding(s) belong to no correction")
    problems += _width_problems(s)
    problems += _non_finite(s)
    return problems


def _width_problems(s: Session) -> list[str]:
    """Correction vectors of one model with several lengths, or another length than that model's samples."""
    width = func.length(NegativeEmbeddingRow.vector)
    query = select(NegativeEmbeddingRow.model, width, func.count()).group_by(NegativeEmbeddingRow.model, width)
    found: dict[str, dict[int, int]] = {}
    for model, size, count in s.execute(query):
        found.setdefault(model, {})[int(size)] = int(count)
    problems: list[str] = []
    for model, sizes in sorted(found.items()):
        if len(sizes) > 1:
            problems.append(f"the {model} correction embeddings have {len(sizes)} different lengths")
        sample = s.scalar(select(func.length(EmbeddingRow.vector)).where(EmbeddingRow.model == model).limit(1))
        if sample is None:
            continue  # no sample of this model (all removed): nothing to be matched against
        wrong = sum(count for size, count in sizes.items() if size != int(sample))
        if wrong:
            problems.append(
                f"{wrong} {model} correction embedding(s) are not {int(sample) // 4} numbers long like its samples'"
            )
    return problems


def _non_finite(s: Session) -> list[str]:
    """Correction vectors holding NaN or infinity (or a length no float32 vector has, or no bytes), per model."""
    bad: dict[str, int] = {}
    query = select(NegativeEmbeddingRow.model, NegativeEmbeddingRow.vector).order_by(
        NegativeEmbeddingRow.negative_id, NegativeEmbeddingRow.model
    )
    for model, blob in s.execute(query.execution_options(yield_per=CHUNK)):
        if not isinstance(blob, bytes | bytearray | memoryview):  # text another program wrote: not a vector
            bad[model] = bad.get(model, 0) + 1
            continue
        data = bytes(blob)
        if len(data) % 4 or not np.isfinite(np.frombuffer(data, "<f4")).all():
            bad[model] = bad.get(model, 0) + 1
    return [f"{n} {model} correction embedding(s) hold values that are not finite" for model, n in sorted(bad.items())]

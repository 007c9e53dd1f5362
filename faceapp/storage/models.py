"""SQLAlchemy ORM models of the gallery and their conversion to core types; private to faceapp.storage.

The tables are created by `migrations.py` from frozen DDL, not by `Base.metadata.create_all`, so that each schema
version stays fixed while these models follow the newest one; a test checks the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    func,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from faceapp.core.types import Detection, FaceSample
from faceapp.errors import BadInputError, DatabaseError
from faceapp.storage.names import name_key


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, kept as naive UTC text because SQLite has no time zones."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to naive UTC before storing."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark a stored naive value as UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of the gallery models."""


class MetaRow(Base):
    """A key/value setting of the gallery: schema_version, model."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PersonRow(Base):
    """An enrolled person; `name_key` is the casefolded name that makes names unique regardless of case."""

    __tablename__ = "people"
    # AUTOINCREMENT: ids are never reused, so a stale id cannot name someone else.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SampleRow(Base):
    """One enrolled face: the PNG of its RGB crop, its box and landmarks in that crop, and where it came from."""

    __tablename__ = "samples"
    __table_args__ = (Index("ix_samples_person_id", "person_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    image: Mapped[bytes] = mapped_column(LargeBinary)
    box_x1: Mapped[float] = mapped_column(Float)
    box_y1: Mapped[float] = mapped_column(Float)
    box_x2: Mapped[float] = mapped_column(Float)
    box_y2: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[bytes] = mapped_column(LargeBinary)  # 10 little-endian float64: (x, y) of 5 points
    det_score: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmbeddingRow(Base):
    """A sample's embedding under one model, as little-endian float32 bytes."""

    __tablename__ = "embeddings"
    __table_args__ = (Index("ix_embeddings_model", "model"),)

    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class NegativeRow(Base):
    """A correction, "this face is not the person": stored like a sample (crop, box, landmarks) to re-embed it."""

    __tablename__ = "negatives"
    __table_args__ = (Index("ix_negatives_person_id", "person_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    image: Mapped[bytes] = mapped_column(LargeBinary)
    box_x1: Mapped[float] = mapped_column(Float)
    box_y1: Mapped[float] = mapped_column(Float)
    box_x2: Mapped[float] = mapped_column(Float)
    box_y2: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[bytes] = mapped_column(LargeBinary)
    det_score: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NegativeEmbeddingRow(Base):
    """A negative's embedding under one model, as little-endian float32 bytes."""

    __tablename__ = "negative_embeddings"
    __table_args__ = (Index("ix_negative_embeddings_model", "model"),)

    negative_id: Mapped[int] = mapped_column(ForeignKey("negatives.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


# -- small queries used inside the repository's sessions --------------------------------------------------------------


def meta_value(s: Session, key: str) -> str | None:
    """The meta value stored under `key`, or None."""
    return s.scalar(select(MetaRow.value).where(MetaRow.key == key))


# meta "name_rule": which name_key rule the stored keys follow. Absent: the first rule (NFC + casefold). "2": the rule
# of names.name_key (NFKC casefold, default-ignorables removed). Keys are brought up to date in the first write.
NAME_RULE = "2"


def ensure_name_keys(s: Session) -> None:
    """Recompute every person's name_key under the current rule, once, inside a write transaction.

    Two people whose names only now compare equal keep distinct keys (the later one's key is suffixed with its id),
    so an existing gallery never fails to open; renaming one of them settles it.
    """
    if meta_value(s, "name_rule") == NAME_RULE:
        return
    rows = s.execute(select(PersonRow.id, PersonRow.name).order_by(PersonRow.id)).all()
    keys: dict[int, str] = {}
    taken: set[str] = set()
    for person_id, name in rows:
        key = name_key(name)
        if key in taken:
            key = f"{key}\x00{person_id}"
        taken.add(key)
        keys[person_id] = key
    for person_id in keys:  # two passes: no key is ever held by two rows at once
        s.execute(update(PersonRow).where(PersonRow.id == person_id).values(name_key=f"\x01{person_id}"))
    for person_id, key in keys.items():
        s.execute(update(PersonRow).where(PersonRow.id == person_id).values(name_key=key))
    s.merge(MetaRow(key="name_rule", value=NAME_RULE))
    s.flush()


def sample_count(s: Session, person_id: int) -> int:
    """How many samples a person has."""
    return s.scalar(select(func.count()).select_from(SampleRow).where(SampleRow.person_id == person_id)) or 0


def person_by_key(s: Session, clean_name: str) -> PersonRow | None:
    """The person whose name equals a normalised name regardless of case, or None."""
    return s.scalars(select(PersonRow).where(PersonRow.name_key == name_key(clean_name))).first()


def embedding_dim(s: Session, model: str) -> int | None:
    """The length of the stored `model` embeddings (the samples', else the corrections'), or None when there are none.

    Corrections count too: both are matched against each other, so a gallery must never hold two widths of one model
    (a person with only corrections may be the first of a model to be stored, from an archive).
    """
    size = s.scalar(select(func.length(EmbeddingRow.vector)).where(EmbeddingRow.model == model).limit(1))
    if size is None:
        size = s.scalar(
            select(func.length(NegativeEmbeddingRow.vector)).where(NegativeEmbeddingRow.model == model).limit(1)
        )
    return None if size is None else int(size) // 4


def lacks_embedding(model: str) -> ColumnElement[bool]:
    """A WHERE clause on SampleRow: the sample has no `model` embedding."""
    has = select(EmbeddingRow.sample_id).where(EmbeddingRow.sample_id == SampleRow.id, EmbeddingRow.model == model)
    return ~has.exists()


# -- conversions between rows and core types (the storage format lives here) ----------------------------------------


def encode_sample(sample: FaceSample) -> dict[str, Any]:
    """The SampleRow columns of a face sample: its RGB uint8 image as PNG, box, landmarks, score and source."""
    image = np.asarray(sample.image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise BadInputError(f"A face image must be RGB uint8 (H, W, 3), not {image.dtype} {image.shape}.")
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise BadInputError("The face image cannot be encoded as PNG.")
    det = sample.detection
    landmarks = np.asarray(det.landmarks, dtype="<f8")
    if landmarks.size != 10 or len(det.box) != 4:
        raise BadInputError(f"A face needs a 4-number box and 5 landmarks, not {len(det.box)} and {landmarks.shape}.")
    x1, y1, x2, y2 = (float(v) for v in det.box)
    if not (np.isfinite([x1, y1, x2, y2, float(det.score)]).all() and np.isfinite(landmarks).all()):
        raise BadInputError("A face's box, score and landmarks must be finite numbers.")
    return {
        "image": png.tobytes(),
        "box_x1": x1,
        "box_y1": y1,
        "box_x2": x2,
        "box_y2": y2,
        "landmarks": landmarks.reshape(10).tobytes(),
        "det_score": float(det.score),
        "source": str(sample.source),
    }


def negative_lacks_embedding(model: str) -> ColumnElement[bool]:
    """A WHERE clause on NegativeRow: the negative has no `model` embedding."""
    has = select(NegativeEmbeddingRow.negative_id).where(
        NegativeEmbeddingRow.negative_id == NegativeRow.id, NegativeEmbeddingRow.model == model
    )
    return ~has.exists()


def decode_sample(row: SampleRow | NegativeRow, path: Path | str) -> FaceSample:
    """The face sample of a stored row, image decoded back to RGB uint8; DatabaseError if the row is damaged."""
    bgr = cv2.imdecode(np.frombuffer(row.image, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or len(row.landmarks) != 80:
        what = "correction" if isinstance(row, NegativeRow) else "sample"
        raise DatabaseError(f"{path} is damaged ({what} {row.id} cannot be read); remove that {what}.")
    landmarks = np.frombuffer(row.landmarks, dtype="<f8").astype(np.float64).reshape(5, 2)
    detection = Detection((row.box_x1, row.box_y1, row.box_x2, row.box_y2), row.det_score, landmarks)
    return FaceSample(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), detection, row.source)


def vector_bytes(vector: np.ndarray, dim: int | None, model: str) -> bytes:
    """A unit-length embedding as little-endian float32 bytes; BadInputError for a wrong dtype, shape or length."""
    v = np.asarray(vector)
    if not np.issubdtype(v.dtype, np.floating):
        raise BadInputError(f"A {model} embedding must hold floating-point numbers, not {v.dtype}.")
    if v.ndim == 2 and v.shape[0] == 1:
        v = v[0]
    if v.ndim != 1 or v.size == 0:
        raise BadInputError(f"A {model} embedding must be one vector, not an array of shape {v.shape}.")
    if dim is not None and v.size != dim:
        raise BadInputError(f"This {model} embedding has {v.size} numbers; the gallery's others have {dim}.")
    if not np.isfinite(v).all():
        raise BadInputError(f"A {model} embedding must hold finite numbers (this one has NaN or infinity).")
    norm = float(np.linalg.norm(v.astype(np.float64)))
    if not np.isfinite(norm) or abs(norm - 1.0) > 1e-3:
        raise BadInputError(f"A {model} embedding must be finite and of unit length (its length is {norm:.4g}).")
    return v.astype("<f4").tobytes()


def vectors_from_bytes(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored embeddings as one (M, D) float32 array, read in one go; ValueError when their sizes differ."""
    if not blobs:
        return np.zeros((0, 0), np.float32)
    return joined_vectors(blobs).astype(np.float32)


def joined_vectors(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored embeddings as one read-only (M, D) little-endian float32 view of their joined bytes (copy it before
    keeping it); ValueError when their sizes differ."""
    sizes = set(map(len, blobs))
    if len(sizes) != 1 or 0 in sizes or next(iter(sizes)) % 4:
        raise ValueError(f"embeddings of different sizes: {sorted(sizes)}")
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)


def read_vectors(
    batches: Iterable[Sequence[tuple[int, bytes]]],
    expected: int = 0,
    on_batch: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(owner ids (M,) int64, embeddings (M, D) float32) from batches of (owner id, stored vector) rows, filled
    into one matrix sized for `expected` rows (grown or cut when the count was off); ValueError when sizes differ.
    `on_batch(ids, vectors)` sees each batch's rows as they land (read-only views: an IndexFeed).

    A million 256-d embeddings come to 1 GiB: read batch by batch they are never also held as a million bytes
    objects and a joined copy, which more than doubled the peak (docs/benchmarks.md, "Scale")."""
    ids = np.zeros(0, np.int64)
    vectors: np.ndarray | None = None
    n = 0
    for batch in batches:
        if not batch:
            continue
        owners, blobs = zip(*batch, strict=True)  # C-level transposition: unpacking row by row took seconds
        chunk = joined_vectors(blobs)  # copied once, into the matrix below
        if vectors is None:
            vectors = np.empty((max(expected, len(batch)), chunk.shape[1]), np.float32)
            ids = np.zeros(vectors.shape[0], np.int64)
        elif chunk.shape[1] != vectors.shape[1]:
            raise ValueError(f"embeddings of different sizes: {sorted({chunk.shape[1], vectors.shape[1]})}")
        if n + len(batch) > vectors.shape[0]:  # more rows than counted (a write in between): grow
            grown = max(n + len(batch), 2 * vectors.shape[0])
            vectors = np.concatenate([vectors[:n], np.empty((grown - n, vectors.shape[1]), np.float32)])
            ids = np.concatenate([ids[:n], np.zeros(grown - n, np.int64)])
        vectors[n : n + len(batch)] = chunk
        ids[n : n + len(batch)] = np.fromiter(owners, np.int64, count=len(owners))
        if on_batch is not None:
            landed_ids, landed = ids[n : n + len(batch)], vectors[n : n + len(batch)]
            landed_ids.flags.writeable = landed.flags.writeable = False
            on_batch(landed_ids, landed)
        n += len(batch)
    if vectors is None:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    if n < vectors.shape[0]:  # fewer than counted (a delete in between)
        vectors, ids = vectors[:n].copy(), ids[:n].copy()
    return ids[:n], vectors


# -- the unknown-faces review (issue 13): candidates kept for N days, never exported -----------------------------------


class CandidateRow(Base):
    """An Unknown track kept for review: its model, when it was seen, its mean embedding and its merge link."""

    __tablename__ = "review_candidates"
    __table_args__ = (Index("ix_review_candidates_last_seen", "last_seen"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[float] = mapped_column(Float)  # time.time() seconds
    last_seen: Mapped[float] = mapped_column(Float)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32, unit length
    link: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tracks: Mapped[int] = mapped_column(Integer, default=1)  # tracks folded into it (migrations: add_review_tracks)


class CandidateCropRow(Base):
    """One of a candidate's best crops (rank 0 best), in the samples table's format."""

    __tablename__ = "review_crops"
    __table_args__ = (Index("ix_review_crops_candidate_id", "candidate_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("review_candidates.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    quality: Mapped[float] = mapped_column(Float)
    image: Mapped[bytes] = mapped_column(LargeBinary)
    box_x1: Mapped[float] = mapped_column(Float)
    box_y1: Mapped[float] = mapped_column(Float)
    box_x2: Mapped[float] = mapped_column(Float)
    box_y2: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[bytes] = mapped_column(LargeBinary)
    det_score: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text, default="")

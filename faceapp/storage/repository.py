"""The gallery database's public API: people, their face samples and embeddings; one transaction per call.

Every method opens its own session on a pooled connection and returns core types, so a repository may be shared
between threads; writes take the gallery's write lock up front (SQLite's BEGIN IMMEDIATE, or a PostgreSQL advisory
lock) and either all happen or none do. Every write also counts up meta "generation", which other stations on the
same gallery poll (`external_change`) to learn that someone else changed it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
from sqlalchemy import Engine, delete, exc, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from faceapp.core.types import FaceSample, Person
from faceapp.errors import BadInputError, DatabaseError, NameError_, UnknownPersonError
from faceapp.paths import db_label, is_db_url
from faceapp.storage import integrity, migrations, postgres
from faceapp.storage.models import (
    EmbeddingRow,
    MetaRow,
    NegativeEmbeddingRow,
    NegativeRow,
    PersonRow,
    SampleRow,
    decode_sample,
    embedding_dim,
    encode_sample,
    ensure_name_keys,
    lacks_embedding,
    meta_value,
    negative_lacks_embedding,
    person_by_key,
    read_vectors,
    sample_count,
    utcnow,
    vector_bytes,
    vectors_from_bytes,
)
from faceapp.storage.names import name_key, normalize_name

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS = 3000
LOAD_BATCH = 20_000  # embeddings read at a time: a million are never all in memory twice, as rows and as a matrix
PURGE_WAIT_MS = 250


@dataclass(frozen=True)
class StoredSample:
    """A face sample as stored: its id, its person, the sample (image back as RGB uint8) and when it was added."""

    id: int
    person_id: int
    sample: FaceSample
    created_at: datetime


def as_id(value: object) -> int:
    """A database id from an int or numpy integer (an embeddings_for() id, say); TypeError for anything else."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"An id must be an integer, not {type(value).__name__}.")


class ModelChangedError(DatabaseError):
    """The gallery's model changed (at another station) between an embedding and its write."""


class GalleryRepository:
    """The gallery in one SQLite file or on a PostgreSQL server: created or upgraded on open, closed with close().

    `target` is a file path, or a postgresql+psycopg://USER[:PASSWORD]@HOST[:PORT]/DATABASE address (text); the
    password never appears in `label`, messages or logs.
    """

    def __init__(self, target: Path | str, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, create: bool = True) -> None:
        """Open (creating when `create`, or upgrading) the gallery; DatabaseError says why it cannot be used.

        With create=False a missing file (or an empty database) is a DatabaseError and nothing is made.
        """
        self._server = is_db_url(target)
        self._label = db_label(target)
        self._path = None if self._server else Path(target)
        self._password: str | None = None
        self._purge_pending = False
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._generation_lock = threading.Lock()
        self._seen_generation: int | None = None
        self._changed_elsewhere = False
        if self._path is None:
            url = postgres.parse_url(str(target))
            self._password = url.password if isinstance(url.password, str) else None
            self._engine: Engine | None = postgres.make_engine(url, busy_timeout_ms)
        else:
            migrations.check_path(self._path, create)
            self._engine = migrations.make_engine(self._path, busy_timeout_ms)
        writing = self._engine.execution_options(**{migrations.WRITE_OPTION: True})
        self._reader = sessionmaker(self._engine, expire_on_commit=False)
        self._writer = sessionmaker(writing, expire_on_commit=False)
        try:
            if self._path is None:
                postgres.prepare(self._label, self._engine, create)
            else:
                migrations.prepare(self._path, self._engine)
            self._seen_generation = self._read_generation()
        except (exc.DBAPIError, sqlite3.Error) as error:
            self.close()
            raise self._explain(error) from error
        except BaseException:
            self.close()
            raise

    @property
    def path(self) -> Path | None:
        """The database file (None for a gallery on a server)."""
        return self._path

    @property
    def label(self) -> str:
        """The gallery as messages name it: the file, or the server address without its password."""
        return self._label

    @property
    def on_server(self) -> bool:
        """Whether the gallery is on a PostgreSQL server (else a SQLite file)."""
        return self._server

    def _explain(self, error: BaseException) -> DatabaseError:
        if self._path is None:
            return postgres.explain(self._label, error, self._password)
        return migrations.explain(self._path, error)

    def close(self) -> None:
        """Close every connection; the repository cannot be used afterwards."""
        if self._engine is not None:
            if self._purge_pending and self._path is not None:
                self._purge_wal()
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Self:
        """Use the repository in a with block that closes it."""
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        """Close on leaving the with block."""
        self.close()

    @contextmanager
    def _session(self, write: bool = False, counted: bool = True) -> Iterator[Session]:
        """One transaction; committed on success, rolled back on any error, driver errors made DatabaseError.

        A write that is not `counted` (the review's candidates) leaves meta "generation" alone: other stations have
        no gallery to reload for it.
        """
        if self._engine is None:
            raise RuntimeError(f"The gallery {self._path} is closed.")
        factory = self._writer if write else self._reader
        try:
            count: int | None = None
            with factory() as session, session.begin():
                if write and counted:
                    ensure_name_keys(session)
                    count = self._count_write(session)
                yield session
            if count is not None:  # committed: only now is the generation ours (a rolled-back write leaves none)
                self._note_write(count)
        except (exc.DBAPIError, sqlite3.Error) as error:
            raise self._explain(error) from error
        if write and self._purge_pending:  # an earlier deletion's pages are still in the WAL: try again
            self._purge_wal()

    # -- changes by other stations ---------------------------------------------------------------------------------

    def _count_write(self, s: Session) -> int:
        """Count this write in meta "generation" (in its transaction); returns the generation it had before.

        Runs under the write lock, so the stored value is the latest and no other write interleaves.
        """
        stored = meta_value(s, "generation")
        before = int(stored) if stored is not None and stored.isdigit() else 0
        s.merge(MetaRow(key="generation", value=str(before + 1)))
        s.flush()
        return before

    def _note_write(self, before: int) -> None:
        """After the commit of a write counted from `before`: whether another station wrote since we last looked."""
        with self._generation_lock:
            if before != self._seen_generation:
                self._changed_elsewhere = True
            self._seen_generation = before + 1

    def _read_generation(self) -> int:
        with self._session() as s:
            stored = meta_value(s, "generation")
        return int(stored) if stored is not None and stored.isdigit() else 0

    def external_change(self) -> bool:
        """Whether another connection (station) changed the gallery since the last call; one cheap query.

        This repository's own writes do not count.
        """
        generation = self._read_generation()
        with self._generation_lock:
            changed = self._changed_elsewhere or generation != self._seen_generation
            self._changed_elsewhere = False
            # A write of ours may have committed after the read above: keep the newer of the two.
            if self._seen_generation is None or generation > self._seen_generation:
                self._seen_generation = generation
            return changed

    # -- the embedding model -------------------------------------------------------------------------------------

    @property
    def model(self) -> str | None:
        """The embedding model this gallery matches with, or None before the first enrollment."""
        with self._session() as s:
            return meta_value(s, "model")

    def set_model(self, name: str, complete: bool = False) -> bool:
        """Make `name` the gallery's embedding model (after its embeddings are stored); returns whether it did.

        With `complete`, only when every sample has a `name` embedding, checked in the same transaction: a sample
        another station enrolled meanwhile is never left out of the new model's gallery (the caller embeds it first).
        """
        if not isinstance(name, str) or not name.strip():
            raise BadInputError("A model name cannot be empty.")
        with self._session(write=True) as s:
            if complete and s.scalar(select(func.count()).select_from(SampleRow).where(lacks_embedding(name))):
                return False
            if complete and s.scalar(
                select(func.count()).select_from(NegativeRow).where(negative_lacks_embedding(name))
            ):
                return False
            s.merge(MetaRow(key="model", value=name))
            return True

    # -- people --------------------------------------------------------------------------------------------------

    def add_person(self, name: str) -> Person:
        """Enroll a new person without samples; BadInputError when the name (in any case) is taken."""
        clean = normalize_name(name)
        with self._session(write=True) as s:
            self._check_free(s, clean)
            row = PersonRow(name=clean, name_key=name_key(clean))
            s.add(row)
            s.flush()
            return Person(row.id, row.name, 0)

    def get_person(self, name: str) -> Person | None:
        """The person whose stored name equals `name` after normalisation, or None."""
        try:
            clean = normalize_name(name)
        except NameError_:
            return None
        with self._session() as s:
            row = s.scalars(select(PersonRow).where(PersonRow.name == clean)).first()
            return None if row is None else self._to_person(s, row)

    def person(self, who: str | int) -> Person:
        """The person named `who` (exactly, else regardless of case) or with id `who`; UnknownPersonError if none."""
        with self._session() as s:
            return self._to_person(s, self._require(s, who))

    def person_by_id(self, person_id: int) -> Person | None:
        """The person with this id, or None."""
        with self._session() as s:
            row = s.get(PersonRow, as_id(person_id))
            return None if row is None else self._to_person(s, row)

    def list_people(self) -> list[Person]:
        """Everyone, with their sample counts, sorted by name regardless of case."""
        query = (
            select(PersonRow.id, PersonRow.name, func.count(SampleRow.id))
            .outerjoin(SampleRow, SampleRow.person_id == PersonRow.id)
            .group_by(PersonRow.id)
            .order_by(PersonRow.name_key, PersonRow.id)
        )
        with self._session() as s:
            return [Person(pid, name, count) for pid, name, count in s.execute(query)]

    def rename_person(self, old: str | int, new_name: str) -> Person:
        """Rename a person (by name or id); BadInputError when another person has the new name."""
        clean = normalize_name(new_name)
        with self._session(write=True) as s:
            row = self._require(s, old)
            self._check_free(s, clean, except_id=row.id)
            row.name, row.name_key = clean, name_key(clean)
            s.flush()
            return self._to_person(s, row)

    def remove_person(self, who: str | int) -> int:
        """Delete a person (by name or id) with all their samples and embeddings; returns the samples removed."""
        with self._session(write=True) as s:
            row = self._require(s, who)
            removed = sample_count(s, row.id)
            s.execute(delete(PersonRow).where(PersonRow.id == row.id))
        self._purge_wal()
        return removed

    # -- samples -------------------------------------------------------------------------------------------------

    def enroll(
        self,
        name: str,
        samples: Sequence[tuple[FaceSample, np.ndarray]],
        model: str,
        create: bool = True,
        negatives: Sequence[tuple[FaceSample, np.ndarray]] = (),
    ) -> Person:
        """Store samples and their `model` embeddings for `name`, adding the person if new (and `create`).

        An existing person is matched regardless of case. All or nothing, in one transaction (with the person's
        `negatives`, an archive's corrections); the first enrollment also sets the gallery's model.
        """
        if not samples:
            raise BadInputError("Nothing to enroll: no face samples were given.")
        clean = normalize_name(name)
        with self._session(write=True) as s:
            stored = meta_value(s, "model")
            if stored is not None and stored != model:  # another station switched models after we embedded
                raise ModelChangedError(
                    f"The gallery {self._label} now uses the {stored} model (switched at another station); "
                    f"these {model} embeddings were not stored."
                )
            # The exact stored name first: two people enrolled before the name rule may share a key (the later
            # one's was made unique with its id), and each must keep getting its own samples.
            row = s.scalars(select(PersonRow).where(PersonRow.name == clean)).first() or person_by_key(s, clean)
            if row is None:
                if not create:
                    raise UnknownPersonError(f'No one named "{clean}" is enrolled.')
                row = PersonRow(name=clean, name_key=name_key(clean))
                s.add(row)
                s.flush()
            self._insert_samples(s, row.id, samples, model)
            if negatives:
                self._insert_negatives(s, row.id, negatives, model)
            return self._to_person(s, row)

    def remove_sample(self, sample_id: int) -> None:
        """Delete one sample and its embeddings (the person stays, possibly with no samples)."""
        sample_id = as_id(sample_id)
        with self._session(write=True) as s:
            if s.get(SampleRow, sample_id) is None:
                raise BadInputError(f"No sample with id {sample_id} is stored.")
            s.execute(delete(SampleRow).where(SampleRow.id == sample_id))
        self._purge_wal()

    @property
    def purge_pending(self) -> bool:
        """True when a deletion's old pages may still be in the -wal file (another reader held it); retried later."""
        return self._purge_pending

    def upgrade_backups(self) -> list[Path]:
        """The copies made before schema upgrades, beside the gallery file; they hold whoever was enrolled then."""
        return [] if self._path is None else migrations.upgrade_backups(self._path)

    def _purge_wal(self) -> bool:
        """Copy the WAL into the database and empty it, so deleted pages do not linger in the -wal file.

        SQLite reports a checkpoint it could not finish (another connection still reads an older snapshot) in the
        first column of its result, without raising; then the purge stays pending and is retried after the next
        write and on close. Returns whether the WAL is empty now.
        """
        assert self._engine is not None
        if self._path is None:  # a server: deleted rows are gone for every reader; VACUUM reclaims their space
            return True
        try:
            with self._engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                # A reader can hold its snapshot for minutes: do not make the user wait the whole busy timeout.
                raw.execute(f"PRAGMA busy_timeout = {PURGE_WAIT_MS}")
                try:
                    busy, _log, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                finally:
                    raw.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        except (exc.SQLAlchemyError, sqlite3.Error, TypeError, ValueError):
            busy = 1
        self._purge_pending = bool(busy)
        return not self._purge_pending

    def samples_of(self, person_id: int) -> list[StoredSample]:
        """A person's samples, oldest first (empty for an unknown id)."""
        person_id = as_id(person_id)
        with self._session() as s:
            rows = s.scalars(select(SampleRow).where(SampleRow.person_id == person_id).order_by(SampleRow.id))
            return [self._stored(row) for row in rows]

    def thumbnail(self, person_id: int) -> np.ndarray | None:
        """The image (RGB uint8) of the person's first sample, or None."""
        person_id = as_id(person_id)
        with self._session() as s:
            row = s.scalars(select(SampleRow).where(SampleRow.person_id == person_id).order_by(SampleRow.id)).first()
            return None if row is None else self._stored(row).sample.image

    def counts(self) -> tuple[int, int]:
        """(people, samples) in the gallery."""
        with self._session() as s:
            people = s.scalar(select(func.count()).select_from(PersonRow)) or 0
            samples = s.scalar(select(func.count()).select_from(SampleRow)) or 0
            return people, samples

    def integrity_problems(self) -> list[str]:
        """What is wrong with the stored gallery, one line each (empty when it is sound); reads only.

        SQLite's own integrity and foreign-key checks for a file; for both backends: names whose keys collide,
        samples or embeddings whose owner is gone, samples without a vector of the gallery's model, and vectors of
        one model with different lengths; the same for the corrections, whose vectors must also be finite and as
        long as their model's samples' (storage.integrity).
        """
        problems: list[str] = []
        with self._session() as s:
            if self._path is not None:
                checked = [str(row[0]) for row in s.execute(text("PRAGMA integrity_check"))]
                problems += [f"SQLite: {line}" for line in checked if line != "ok"]
                problems += [f"foreign key: {tuple(row)}" for row in s.execute(text("PRAGMA foreign_key_check"))]
            keys = select(PersonRow.name_key, func.count()).group_by(PersonRow.name_key).having(func.count() > 1)
            problems += [f"{count} people share the name key {key!r}" for key, count in s.execute(keys)]
            orphans = select(func.count()).select_from(SampleRow).where(~SampleRow.person_id.in_(select(PersonRow.id)))
            if n := s.scalar(orphans):
                problems.append(f"{n} sample(s) belong to nobody")
            lost = (
                select(func.count()).select_from(EmbeddingRow).where(~EmbeddingRow.sample_id.in_(select(SampleRow.id)))
            )
            if n := s.scalar(lost):
                problems.append(f"{n} embedding(s) belong to no sample")
            model = meta_value(s, "model")
            if model is not None:
                missing = s.scalar(select(func.count()).select_from(SampleRow).where(lacks_embedding(model)))
                if missing:
                    problems.append(f"{missing} sample(s) have no {model} embedding")
                query = select(func.count()).select_from(NegativeRow).where(negative_lacks_embedding(model))
                if missing := s.scalar(query):
                    problems.append(f"{missing} correction(s) have no {model} embedding")
            sizes = select(EmbeddingRow.model, func.count(func.distinct(func.length(EmbeddingRow.vector))))
            for name, count in s.execute(sizes.group_by(EmbeddingRow.model)):
                if count > 1:
                    problems.append(f"the {name} embeddings have {count} different lengths")
            problems += integrity.negative_problems(s)
        return problems

    # -- embeddings ----------------------------------------------------------------------------------------------

    def embeddings_for(
        self,
        model: str,
        people: Collection[int] | None = None,
        on_batch: Callable[[np.ndarray, np.ndarray], None] | None = None,
    ) -> tuple[np.ndarray, dict[int, str], np.ndarray]:
        """(person_ids (M,) int64, everyone's names, embeddings (M, D) float32) of the samples with a `model` vector,
        in person order; with `people`, only theirs (and only their names: a person absent from the names is gone).
        `on_batch` sees each batch of rows as it is read (read_vectors)."""
        query = (
            select(SampleRow.person_id, EmbeddingRow.vector)
            .join(SampleRow, SampleRow.id == EmbeddingRow.sample_id)
            .where(EmbeddingRow.model == model)
            .order_by(SampleRow.person_id, EmbeddingRow.sample_id)  # grouped by person: the index needs no copy
        )
        total = select(func.count()).select_from(EmbeddingRow).where(EmbeddingRow.model == model)
        named = select(PersonRow.id, PersonRow.name)
        if people is not None:
            chosen = [as_id(pid) for pid in people]
            query = query.where(SampleRow.person_id.in_(chosen))
            total = total.join(SampleRow, SampleRow.id == EmbeddingRow.sample_id).where(SampleRow.person_id.in_(chosen))
            named = named.where(PersonRow.id.in_(chosen))
        if people is None and self._engine is not None and self._engine.dialect.name == "sqlite":
            # The same rows in the same order, with samples read first through ix_samples_person_id: SQLite's own
            # plan read the embeddings by model and sorted the whole gallery (1 GB, 2-3 s before the first row at a
            # million); CROSS JOIN keeps that order (SQLite's documented way to fix one), so rows stream at once and
            # the index feed starts with them. 1.9 s instead of 5.4 s for the query alone (docs/benchmarks.md).
            query = text(  # type: ignore[assignment]
                "SELECT samples.person_id, embeddings.vector FROM samples CROSS JOIN embeddings"
                " ON embeddings.sample_id = samples.id WHERE embeddings.model = :model"
                " ORDER BY samples.person_id, samples.id"
            ).bindparams(model=model)
        with self._session() as s:
            expected = s.scalar(total) or 0
            # Core, not the ORM: 6 s instead of 15 s for a million rows (docs/benchmarks.md, "Scale")
            batches = s.connection().execution_options(yield_per=LOAD_BATCH).execute(query).partitions(LOAD_BATCH)
            try:
                ids, vectors = read_vectors(batches, expected, on_batch)
            except ValueError:
                raise DatabaseError(
                    f"{self._label} is damaged (its {model} embeddings differ in size); re-embed them."
                ) from None
            # after the embeddings: a person enrolled in between (PostgreSQL reads each statement afresh) has a name
            names = dict(s.execute(named).all())
        usable = np.isfinite(vectors).all(axis=1) if len(ids) else np.zeros(0, bool)
        if not usable.all():  # one NaN would make its person's nearest distance NaN: never a match, silently
            bad = sorted({names.get(int(pid), str(pid)) for pid in ids[~usable]})
            log.warning("%s: skipped %d non-finite %s embedding(s) of %s", self._path, (~usable).sum(), model, bad)
            ids, vectors = ids[usable], vectors[usable]
        return ids, names, vectors

    def bulk_add(
        self, names: Sequence[str], owners: np.ndarray, vectors: np.ndarray, model: str, sample: FaceSample
    ) -> None:
        """Add many people at once, sample i (one shared face crop) belonging to names[owners[i]] with vectors[i].

        For benchmarks that build galleries of up to millions of samples: rows go in batches inside one
        transaction; names must be new and distinct, vectors unit length (checked as a whole, not one by one).
        """
        clean = [normalize_name(n) for n in names]
        v = np.ascontiguousarray(vectors, dtype="<f4")
        norms = np.linalg.norm(v.astype(np.float64), axis=1)
        if v.ndim != 2 or len(v) != len(owners) or not np.all(np.abs(norms - 1.0) < 1e-3):
            raise BadInputError("bulk_add needs one unit-length vector per sample.")
        columns = encode_sample(sample)
        created = utcnow()
        with self._session(write=True) as s:
            conn = s.connection()
            people = conn.execute(
                insert(PersonRow).returning(PersonRow.id, sort_by_parameter_order=True),
                [{"name": n, "name_key": name_key(n), "created_at": created} for n in clean],
            )
            ids = np.fromiter((row[0] for row in people), np.int64, count=len(clean))
            step = 20_000
            for start in range(0, len(v), step):
                chunk = owners[start : start + step]
                rows = [{**columns, "person_id": int(ids[o]), "created_at": created} for o in chunk]
                result = conn.execute(insert(SampleRow).returning(SampleRow.id, sort_by_parameter_order=True), rows)
                sample_ids = [row[0] for row in result]
                conn.execute(
                    insert(EmbeddingRow),
                    [
                        {"sample_id": i, "model": model, "vector": v[start + k].tobytes()}
                        for k, i in enumerate(sample_ids)
                    ],
                )
            if meta_value(s, "model") is None:
                s.add(MetaRow(key="model", value=model))

    def sample_embeddings(self, person_id: int, model: str) -> dict[int, np.ndarray]:
        """A person's `model` embeddings by sample id (float32 vectors)."""
        query = (
            select(EmbeddingRow.sample_id, EmbeddingRow.vector)
            .join(SampleRow, SampleRow.id == EmbeddingRow.sample_id)
            .where(SampleRow.person_id == as_id(person_id), EmbeddingRow.model == model)
        )
        with self._session() as s:
            return {int(i): np.frombuffer(v, dtype="<f4").astype(np.float32) for i, v in s.execute(query)}

    def embedding_models(self) -> dict[str, int]:
        """How many embeddings each model has in this gallery."""
        query = select(EmbeddingRow.model, func.count()).group_by(EmbeddingRow.model)
        with self._session() as s:
            return dict(s.execute(query).all())

    def count_missing(self, model: str) -> int:
        """How many samples have no `model` embedding yet (a model switch's progress total)."""
        with self._session() as s:
            return s.scalar(select(func.count()).select_from(SampleRow).where(lacks_embedding(model))) or 0

    def samples_missing(self, model: str, limit: int | None = None) -> list[StoredSample]:
        """Samples (oldest first, at most `limit`) with no `model` embedding, to embed and store_embeddings()."""
        query = select(SampleRow).where(lacks_embedding(model)).order_by(SampleRow.id).limit(limit)
        with self._session() as s:
            return [self._stored(row) for row in s.scalars(query)]

    def store_embeddings(self, model: str, items: Sequence[tuple[int, np.ndarray]]) -> int:
        """Store (or replace) `model` embeddings by sample id, all or nothing; returns how many were stored.

        Ids of samples deleted in the meantime are skipped.
        """
        with self._session(write=True) as s:
            dim = embedding_dim(s, model)
            values: dict[int, bytes] = {}
            for sample_id, vector in items:
                values[as_id(sample_id)] = blob = vector_bytes(vector, dim, model)
                dim = len(blob) // 4
            present = set(s.scalars(select(SampleRow.id).where(SampleRow.id.in_(values))))
            rows = [{"sample_id": i, "model": model, "vector": v} for i, v in values.items() if i in present]
            if rows:
                stmt = pg_insert(EmbeddingRow) if self._server else sqlite_insert(EmbeddingRow)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["sample_id", "model"], set_={"vector": stmt.excluded.vector}
                )
                s.connection().execute(stmt, rows)
            return len(rows)

    # -- negatives: "this face is not the person" (corrections) --------------------------------------------------

    def add_negatives(
        self, who: str | int, items: Sequence[tuple[FaceSample, np.ndarray]], model: str, create: bool = False
    ) -> list[int]:
        """Store faces that are not the person `who` (name or id) with their `model` embeddings; returns their ids.

        All or nothing; ModelChangedError when the gallery's model is no longer `model`. With `create`, a name no
        one has is added as a person without samples (an archive's person who had only corrections).
        """
        if not items:
            raise BadInputError("No face was given to record as a correction.")
        with self._session(write=True) as s:
            stored = meta_value(s, "model")
            if stored is not None and stored != model:
                raise ModelChangedError(
                    f"The gallery {self._label} now uses the {stored} model (switched at another station); "
                    f"this {model} correction was not stored."
                )
            try:
                person = self._require(s, who)
            except UnknownPersonError:
                if not (create and isinstance(who, str)):
                    raise
                clean = normalize_name(who)
                person = PersonRow(name=clean, name_key=name_key(clean))
                s.add(person)
                s.flush()
            return self._insert_negatives(s, person.id, items, model)

    def _insert_negatives(
        self, s: Session, person_id: int, items: Sequence[tuple[FaceSample, np.ndarray]], model: str
    ) -> list[int]:
        dim = embedding_dim(s, model)
        rows: list[tuple[NegativeRow, bytes]] = []
        for sample, vector in items:  # check everything before writing anything
            blob = vector_bytes(vector, dim, model)
            dim = len(blob) // 4
            rows.append((NegativeRow(person_id=person_id, **encode_sample(sample)), blob))
        s.add_all([row for row, _ in rows])
        s.flush()
        s.add_all([NegativeEmbeddingRow(negative_id=row.id, model=model, vector=blob) for row, blob in rows])
        s.flush()
        return [row.id for row, _ in rows]

    def sample_to_negative(self, sample_id: int) -> int:
        """Turn a sample into a correction of the same person ("Wrong sample", remembered): its crop and every
        model's embedding move over in one transaction and the sample is gone; returns the correction's id."""
        sample_id = as_id(sample_id)
        with self._session(write=True) as s:
            row = s.get(SampleRow, sample_id)
            if row is None:
                raise BadInputError(f"No sample with id {sample_id} is stored.")
            columns = ("image", "box_x1", "box_y1", "box_x2", "box_y2", "landmarks", "det_score", "source")
            negative = NegativeRow(person_id=row.person_id, **{c: getattr(row, c) for c in columns})
            s.add(negative)
            s.flush()
            vectors = s.execute(select(EmbeddingRow.model, EmbeddingRow.vector).where(EmbeddingRow.sample_id == row.id))
            s.add_all([NegativeEmbeddingRow(negative_id=negative.id, model=m, vector=v) for m, v in vectors])
            s.execute(delete(SampleRow).where(SampleRow.id == sample_id))
            return negative.id

    def remove_negative(self, negative_id: int) -> int:
        """Delete one correction and its embeddings; returns the person it was about."""
        negative_id = as_id(negative_id)
        with self._session(write=True) as s:
            row = s.get(NegativeRow, negative_id)
            if row is None:
                raise BadInputError(f"No correction with id {negative_id} is stored.")
            person_id = row.person_id
            s.execute(delete(NegativeRow).where(NegativeRow.id == negative_id))
        self._purge_wal()
        return person_id

    def negatives_of(self, person_id: int) -> list[StoredSample]:
        """The faces recorded as not this person, oldest first (empty for an unknown id)."""
        query = select(NegativeRow).where(NegativeRow.person_id == as_id(person_id)).order_by(NegativeRow.id)
        with self._session() as s:
            return [self._stored(row) for row in s.scalars(query)]

    def negative_embeddings_for(
        self, model: str, people: Collection[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(person_ids (N,) int64, vectors (N, D) float32) of every correction with a `model` vector, by person;
        with `people`, only theirs."""
        query = (
            select(NegativeRow.person_id, NegativeEmbeddingRow.vector)
            .join(NegativeRow, NegativeRow.id == NegativeEmbeddingRow.negative_id)
            .where(NegativeEmbeddingRow.model == model)
            .order_by(NegativeRow.person_id, NegativeEmbeddingRow.negative_id)
        )
        if people is not None:
            query = query.where(NegativeRow.person_id.in_([as_id(pid) for pid in people]))
        with self._session() as s:
            rows = s.execute(query).all()
        try:
            vectors = vectors_from_bytes([blob for _, blob in rows])
        except ValueError:
            raise DatabaseError(f"{self._label} is damaged (its {model} corrections differ in size).") from None
        ids = np.fromiter((pid for pid, _ in rows), dtype=np.int64, count=len(rows))
        if len(rows):
            usable = np.isfinite(vectors).all(axis=1)
            ids, vectors = ids[usable], vectors[usable]
        return ids, vectors

    def negative_embeddings(self, person_id: int, model: str) -> dict[int, np.ndarray]:
        """A person's corrections' `model` embeddings by correction id."""
        query = (
            select(NegativeEmbeddingRow.negative_id, NegativeEmbeddingRow.vector)
            .join(NegativeRow, NegativeRow.id == NegativeEmbeddingRow.negative_id)
            .where(NegativeRow.person_id == as_id(person_id), NegativeEmbeddingRow.model == model)
        )
        with self._session() as s:
            return {int(i): np.frombuffer(v, dtype="<f4").astype(np.float32) for i, v in s.execute(query)}

    def negatives_missing(self, model: str, limit: int | None = None) -> list[StoredSample]:
        """Corrections (oldest first, at most `limit`) with no `model` embedding, for a model switch."""
        query = select(NegativeRow).where(negative_lacks_embedding(model)).order_by(NegativeRow.id).limit(limit)
        with self._session() as s:
            return [self._stored(row) for row in s.scalars(query)]

    def count_negatives_missing(self, model: str) -> int:
        """How many corrections have no `model` embedding yet."""
        query = select(func.count()).select_from(NegativeRow).where(negative_lacks_embedding(model))
        with self._session() as s:
            return s.scalar(query) or 0

    def store_negative_embeddings(self, model: str, items: Sequence[tuple[int, np.ndarray]]) -> int:
        """Store (or replace) `model` embeddings by correction id, all or nothing; ids deleted meanwhile skipped."""
        with self._session(write=True) as s:
            dim = embedding_dim(s, model)
            values: dict[int, bytes] = {}
            for negative_id, vector in items:
                values[as_id(negative_id)] = blob = vector_bytes(vector, dim, model)
                dim = len(blob) // 4
            present = set(s.scalars(select(NegativeRow.id).where(NegativeRow.id.in_(values))))
            rows = [{"negative_id": i, "model": model, "vector": v} for i, v in values.items() if i in present]
            if rows:
                stmt = pg_insert(NegativeEmbeddingRow) if self._server else sqlite_insert(NegativeEmbeddingRow)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["negative_id", "model"], set_={"vector": stmt.excluded.vector}
                )
                s.connection().execute(stmt, rows)
            return len(rows)

    # -- helpers (inside a session) ------------------------------------------------------------------------------

    def _insert_samples(
        self, s: Session, person_id: int, samples: Sequence[tuple[FaceSample, np.ndarray]], model: str
    ) -> None:
        dim = embedding_dim(s, model)
        rows: list[tuple[SampleRow, bytes]] = []
        for sample, vector in samples:  # check everything before writing anything
            blob = vector_bytes(vector, dim, model)
            dim = len(blob) // 4
            rows.append((SampleRow(person_id=person_id, **encode_sample(sample)), blob))
        s.add_all([row for row, _ in rows])
        s.flush()
        s.add_all([EmbeddingRow(sample_id=row.id, model=model, vector=blob) for row, blob in rows])
        if meta_value(s, "model") is None:
            s.add(MetaRow(key="model", value=model))
        s.flush()

    def _stored(self, row: SampleRow | NegativeRow) -> StoredSample:
        return StoredSample(row.id, row.person_id, decode_sample(row, self._label), row.created_at)

    def _to_person(self, s: Session, row: PersonRow) -> Person:
        return Person(row.id, row.name, sample_count(s, row.id))

    def _require(self, s: Session, who: str | int) -> PersonRow:
        """The person named `who` (exactly, else regardless of case) or with id `who`; UnknownPersonError if none."""
        if not isinstance(who, str):
            row = s.get(PersonRow, as_id(who))
            if row is None:
                raise UnknownPersonError(f"No person with id {who} is enrolled.")
            return row
        try:
            clean = normalize_name(who)
        except NameError_:
            raise UnknownPersonError(f"No one named {who!r} is enrolled.") from None
        row = s.scalars(select(PersonRow).where(PersonRow.name == clean)).first() or person_by_key(s, clean)
        if row is None:
            raise UnknownPersonError(f'No one named "{clean}" is enrolled.')
        return row

    def _check_free(self, s: Session, clean_name: str, except_id: int | None = None) -> None:
        other = person_by_key(s, clean_name)
        if other is not None and other.id != except_id:
            raise BadInputError(f'A person named "{other.name}" already exists.')

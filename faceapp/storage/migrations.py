"""Opening the gallery file: connection settings, error messages, schema versions and the upgrade steps.

`STEPS[i]` turns a version-i database into version i+1; a new, empty file is version 0, so creating a gallery is
the same path as upgrading one. Each step is frozen once released: a later change is a new step appended here
(and the models in models.py follow the newest version).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, exc, text

from faceapp.errors import DatabaseError

Step = Callable[[Connection], None]

_V1_DDL = (
    "CREATE TABLE meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE people (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name VARCHAR(100) NOT NULL UNIQUE,
        name_key VARCHAR(100) NOT NULL UNIQUE,
        created_at DATETIME NOT NULL
    )""",
    """CREATE TABLE samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        image BLOB NOT NULL,
        box_x1 FLOAT NOT NULL,
        box_y1 FLOAT NOT NULL,
        box_x2 FLOAT NOT NULL,
        box_y2 FLOAT NOT NULL,
        landmarks BLOB NOT NULL,
        det_score FLOAT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        created_at DATETIME NOT NULL
    )""",
    "CREATE INDEX ix_samples_person_id ON samples (person_id)",
    """CREATE TABLE embeddings (
        sample_id INTEGER NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (sample_id, model)
    )""",
    "CREATE INDEX ix_embeddings_model ON embeddings (model)",
)


def _create_v1(conn: Connection) -> None:
    """Version 1: meta, people, samples, embeddings."""
    for statement in _V1_DDL:
        conn.exec_driver_sql(statement)


_NEGATIVES_DDL = (
    """CREATE TABLE negatives (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        image BLOB NOT NULL,
        box_x1 FLOAT NOT NULL,
        box_y1 FLOAT NOT NULL,
        box_x2 FLOAT NOT NULL,
        box_y2 FLOAT NOT NULL,
        landmarks BLOB NOT NULL,
        det_score FLOAT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        created_at DATETIME NOT NULL
    )""",
    "CREATE INDEX ix_negatives_person_id ON negatives (person_id)",
    """CREATE TABLE negative_embeddings (
        negative_id INTEGER NOT NULL REFERENCES negatives (id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (negative_id, model)
    )""",
    "CREATE INDEX ix_negative_embeddings_model ON negative_embeddings (model)",
)


def _add_negatives(conn: Connection) -> None:
    """Corrections (issue 13): negatives ("this face is not the person") and their embeddings per model."""
    for statement in _NEGATIVES_DDL:
        conn.exec_driver_sql(statement)


_REVIEW_DDL = (
    """CREATE TABLE review_candidates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model TEXT NOT NULL,
        first_seen FLOAT NOT NULL,
        last_seen FLOAT NOT NULL,
        embedding BLOB NOT NULL,
        link BIGINT
    )""",
    "CREATE INDEX ix_review_candidates_last_seen ON review_candidates (last_seen)",
    """CREATE TABLE review_crops (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        candidate_id INTEGER NOT NULL REFERENCES review_candidates (id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        quality FLOAT NOT NULL,
        image BLOB NOT NULL,
        box_x1 FLOAT NOT NULL,
        box_y1 FLOAT NOT NULL,
        box_x2 FLOAT NOT NULL,
        box_y2 FLOAT NOT NULL,
        landmarks BLOB NOT NULL,
        det_score FLOAT NOT NULL,
        source TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX ix_review_crops_candidate_id ON review_crops (candidate_id)",
)


def _add_review(conn: Connection) -> None:
    """The unknown-faces review (issue 13): candidates kept for N days and their crops."""
    for statement in _REVIEW_DDL:
        conn.exec_driver_sql(statement)


# How many tracks a kept candidate holds ("seen N times"), so that it survives a restart with retention N days.
REVIEW_TRACKS_DDL = "ALTER TABLE review_candidates ADD COLUMN tracks INTEGER NOT NULL DEFAULT 1"


def add_review_tracks(conn: Connection) -> None:
    """How many times an unknown face was seen (issue 13), kept with it."""
    conn.exec_driver_sql(REVIEW_TRACKS_DDL)


STEPS: list[Step] = [_create_v1, _add_negatives, _add_review, add_review_tracks]


def latest_version() -> int:
    """The schema version this faceapp writes: the number of steps."""
    return len(STEPS)


def user_tables(conn: Connection) -> set[str]:
    """Names of the tables in the database, SQLite's own excluded."""
    rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
    return {str(row[0]) for row in rows}


def read_version(conn: Connection) -> int | None:
    """The stored schema version: 0 for an empty database, None when this is not a faceapp gallery."""
    return gallery_version(lambda sql: [tuple(row) for row in conn.exec_driver_sql(sql)])


# What a file must hold to be taken for a gallery (checked before anything is written to it, WAL mode included):
# the version-1 tables with their columns, and an integer schema version in meta.
_V1_COLUMNS = {
    "meta": {"key", "value"},
    "people": {"id", "name", "name_key", "created_at"},
    "samples": {"id", "person_id", "image", "box_x1", "box_y1", "box_x2", "box_y2", "landmarks", "det_score"},
    "embeddings": {"sample_id", "model", "vector"},
}


def gallery_version(query: Callable[[str], list[tuple[Any, ...]]]) -> int | None:
    """The schema version of the SQLite database `query` reads: 0 when empty, None when it is not a faceapp gallery."""
    tables = {str(row[0]) for row in query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables = {t for t in tables if not t.startswith("sqlite_")}
    return classify(tables, query, lambda table: {str(row[1]) for row in query(f"PRAGMA table_info({table})")})


def classify(
    tables: set[str], query: Callable[[str], list[tuple[Any, ...]]], columns: Callable[[str], set[str]]
) -> int | None:
    """The schema version of a database with these user tables: 0 when empty, None when it is not a gallery.

    `query` runs a SELECT on it and `columns(table)` names a table's columns (each backend reads its own catalog).
    """
    if not tables:
        return 0
    if "meta" not in tables:
        return None
    try:
        rows = query("SELECT value FROM meta WHERE key = 'schema_version'")
        version = int(rows[0][0]) if rows else None
    except (sqlite3.Error, exc.DBAPIError, TypeError, ValueError):
        return None
    if version is None or version < 1:
        return None
    if version > latest_version():
        return version  # refused as newer; its tables are the newer faceapp's business
    for table, needed in _V1_COLUMNS.items():
        if table not in tables:
            return None
        if not needed <= columns(table):
            return None
    return version


def upgrade(conn: Connection, current: int, target: int | None = None, steps: list[Step] | None = None) -> int:
    """Run the steps (SQLite's unless `steps`) from `current` to `target` (default: newest) in one transaction."""
    version = latest_version() if target is None else target
    for step in (STEPS if steps is None else steps)[current:version]:
        step(conn)
    conn.execute(
        text("INSERT INTO meta (key, value) VALUES ('schema_version', :v) ON CONFLICT(key) DO UPDATE SET value = :v"),
        {"v": str(version)},
    )
    return version


def backup(path: Path, version: int) -> Path:
    """Copy the database (consistently, through SQLite's backup API) to a new file beside it before an upgrade."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.v{version}-{stamp}.bak")
    counter = 1
    while target.exists():  # never overwrite an earlier backup
        target = path.with_name(f"{path.name}.v{version}-{stamp}-{counter}.bak")
        counter += 1
    source = sqlite3.connect(path)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return target


def upgrade_backups(path: Path) -> list[Path]:
    """The backup copies `backup` made beside the gallery at `path`, oldest first."""
    try:
        return sorted(path.parent.glob(f"{glob_escape(path.name)}.v*.bak"))
    except OSError:
        return []


def glob_escape(name: str) -> str:
    """`name` with glob's special characters quoted."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


# -- connections -------------------------------------------------------------------------------------------------------

WRITE_OPTION = "faceapp_write"


def make_engine(path: Path, busy_timeout_ms: int) -> Engine:
    """An engine whose connections enforce foreign keys, use WAL and wait `busy_timeout_ms` for a lock.

    Transactions on `engine.execution_options(faceapp_write=True)` begin IMMEDIATE: they take the write lock at
    once, so a writer waits (busy_timeout) up front instead of failing half-way.
    """
    engine = create_engine(URL.create("sqlite", database=str(path)), connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own implicit BEGIN is off; _on_begin emits it
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # Deleted people's images and embeddings are overwritten in the file, not left in free pages.
            cursor.execute("PRAGMA secure_delete = ON")
            if _is_gallery_or_empty(cursor):  # WAL is stored in the file: never convert another program's database
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")

    return engine


def _is_gallery_or_empty(cursor: Any) -> bool:
    """Whether a raw connection's database is empty or a faceapp gallery (see gallery_version)."""
    return gallery_version(lambda sql: cursor.execute(sql).fetchall()) is not None


def check_path(path: Path, create: bool = True) -> None:
    """Refuse a folder, a pipe or device, and (unless `create`) a missing file; create a new gallery's folders."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise DatabaseError(f"{path} cannot be used as a gallery ({reason}).") from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise DatabaseError(f"{path} is a folder, not a gallery file; give a file name such as gallery.sqlite3.")
        if not stat.S_ISREG(info.st_mode):
            raise DatabaseError(f"{path} is not a regular file (a pipe, device or socket); choose a gallery file.")
        return
    if not create:
        raise DatabaseError(
            f"No gallery at {path}: nobody is enrolled there yet (check --db, or enroll someone first)."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseError(
            f"Cannot create the folder {path.parent} ({error.strerror}); choose another place."
        ) from None


def explain(path: Path, error: BaseException) -> DatabaseError:
    """A one-line DatabaseError naming `path`, what went wrong and what to do, for a driver or SQLAlchemy error."""
    detail = (str(getattr(error, "orig", None) or error).splitlines() or ["unknown error"])[0]
    low = detail.lower()
    if "not a database" in low:
        return DatabaseError(f"{path} is not a faceapp gallery (file is not a database); choose another file.")
    if "malformed" in low or "corrupt" in low:
        return DatabaseError(f"{path} is damaged ({detail}); restore a backup or choose another file.")
    if "locked" in low or "busy" in low:
        return DatabaseError(f"{path} is locked by another program; close it and try again.")
    if "readonly" in low or "read-only" in low:
        return DatabaseError(f"{path} is read-only; choose a file in a folder you can write to.")
    if "unable to open" in low:
        return DatabaseError(f"{path} cannot be opened ({detail}); check the folder exists and you can write to it.")
    if "disk" in low or "full" in low:
        return DatabaseError(f"{path} could not be written ({detail}); free some disk space and try again.")
    return DatabaseError(f"{path}: database error ({detail}).")


# -- versions ----------------------------------------------------------------------------------------------------------


def checked_version(path: Path | str, version: int | None) -> int:
    """`version`, or DatabaseError when the file is not a gallery or is from a newer faceapp."""
    if version is None:
        raise DatabaseError(f"{path} is not a faceapp gallery (it holds other data); choose another file.")
    latest = latest_version()
    if version > latest:
        raise DatabaseError(
            f"{path} was made by a newer faceapp (schema version {version}, this one reads up to {latest}); "
            "update faceapp to open it."
        )
    return version


def prepare(path: Path, engine: Engine) -> None:
    """Check the schema version; create a new gallery, or back up and upgrade an older one, in one transaction."""
    with engine.connect() as conn, conn.begin():
        version = checked_version(path, read_version(conn))
    if version == latest_version():
        return
    if version > 0:
        try:
            backup(path, version)
        except (OSError, sqlite3.Error) as error:
            raise DatabaseError(f"{path} needs an upgrade but cannot be backed up first ({error}).") from None
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        version = checked_version(path, read_version(conn))  # another program may have upgraded it meanwhile
        if version < latest_version():
            upgrade(conn, version)

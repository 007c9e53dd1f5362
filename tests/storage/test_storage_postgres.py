"""A gallery on a PostgreSQL server: the schema, and one-line errors that never show the password."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from typing import Any

import pytest

from faceapp.errors import DatabaseError
from faceapp.storage import GalleryRepository, migrations, postgres
from faceapp.storage.models import Base
from tests.pg_server import READER, READER_PASSWORD, STATION_PASSWORD
from tests.storage.storage_fakes import count_rows, make_sample, unit


def _one_line_without_password(error: BaseException, password: str = STATION_PASSWORD) -> str:
    message = str(error)
    assert "\n" not in message
    assert password not in message
    return message


def test_the_created_schema_matches_the_models(pg_server: Any, pg_url: str) -> None:
    database = pg_url.split("/")[3].split("?")[0]
    with GalleryRepository(pg_url) as repo:
        assert repo.on_server
        assert repo.path is None
        assert STATION_PASSWORD not in repo.label
        assert "***" in repo.label
    for table in Base.metadata.sorted_tables:
        rows = pg_server.execute(
            database,
            "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = %s",
            (table.name,),
        )
        assert {name: nullable == "NO" for name, nullable in rows} == {c.name: not c.nullable for c in table.columns}
        indexes = pg_server.execute(database, "SELECT indexname FROM pg_indexes WHERE tablename = %s", (table.name,))
        assert {i.name for i in table.indexes} <= {str(row[0]) for row in indexes}
    cascades = pg_server.execute(
        database,
        "SELECT conrelid::regclass::text, confdeltype FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    )
    with_keys = sorted(t.name for t in Base.metadata.sorted_tables for _ in t.foreign_keys)
    assert cascades == [(name, "c") for name in with_keys]  # every foreign key cascades (samples, negatives, ...)
    assert {"embeddings", "samples", "negatives", "negative_embeddings", "review_crops"} <= set(with_keys)
    assert pg_server.execute(database, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(migrations.latest_version()),)
    ]
    assert len(postgres.PG_STEPS) == len(migrations.STEPS)  # every SQLite upgrade has its PostgreSQL twin


def test_deleting_a_person_deletes_their_rows_for_every_connection(pg_url: str) -> None:
    with GalleryRepository(pg_url) as repo:
        gone = repo.enroll("Ada", [(make_sample(1), unit(1)), (make_sample(2), unit(2))], "m")
        repo.enroll("Bo", [(make_sample(3), unit(3))], "m")
        assert count_rows(pg_url, "embeddings") == 3
        assert repo.remove_person(gone.id) == 2
        assert count_rows(pg_url, "samples") == count_rows(pg_url, "embeddings") == 1
        assert count_rows(pg_url, "people") == 1


def test_an_unreachable_server_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"postgresql+psycopg://station:{STATION_PASSWORD}@127.0.0.1:1/gallery"
    with pytest.raises(DatabaseError, match="cannot reach the PostgreSQL server") as caught:
        GalleryRepository(url)
    message = _one_line_without_password(caught.value)
    assert "postgresql+psycopg://station:***@127.0.0.1:1/gallery" in message
    assert STATION_PASSWORD not in caplog.text


def test_a_wrong_password_is_one_line_and_not_shown(
    pg_server: Any, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = pg_url.replace(STATION_PASSWORD, "Not-The-Password-42")
    with pytest.raises(DatabaseError, match="refused the user name or password") as caught:
        GalleryRepository(wrong)
    _one_line_without_password(caught.value, "Not-The-Password-42")
    assert "Not-The-Password-42" not in caplog.text
    nobody = pg_server.url(pg_url.split("/")[3].split("?")[0], user="nobody", password="x")
    with pytest.raises(DatabaseError, match="refused the user name or password"):
        GalleryRepository(nobody)


def test_a_missing_database_is_one_line(pg_server: Any) -> None:
    with pytest.raises(DatabaseError, match="no such database") as caught:
        GalleryRepository(pg_server.url("no_such_gallery"))
    _one_line_without_password(caught.value)


def test_a_user_without_create_privilege_is_told_so(pg_server: Any) -> None:
    name = pg_server.new_database(owner="admin")  # PostgreSQL 15: only the owner may create in schema public
    try:
        with pytest.raises(DatabaseError, match="refused this user a needed privilege") as caught:
            GalleryRepository(pg_server.url(name))
        assert "CREATE" in _one_line_without_password(caught.value)
    finally:
        pg_server.drop_database(name)


def test_a_read_only_user_can_read_but_a_write_is_refused_in_one_line(pg_server: Any, pg_url: str) -> None:
    database = pg_url.split("/")[3].split("?")[0]
    with GalleryRepository(pg_url) as repo:
        repo.enroll("Ada", [(make_sample(1), unit(1))], "m")
    pg_server.execute(database, f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}")
    reader_url = pg_server.url(database, user=READER, password=READER_PASSWORD)
    with GalleryRepository(reader_url, create=False) as reader:
        assert [p.name for p in reader.list_people()] == ["Ada"]
        with pytest.raises(DatabaseError, match="refused this user a needed privilege") as caught:
            reader.add_person("Bo")
        _one_line_without_password(caught.value, READER_PASSWORD)
    with GalleryRepository(pg_url) as repo:
        assert [p.name for p in repo.list_people()] == ["Ada"]


def test_opening_an_empty_database_without_create_makes_nothing(pg_server: Any, pg_url: str) -> None:
    database = pg_url.split("/")[3].split("?")[0]
    with pytest.raises(DatabaseError, match="No gallery in"):
        GalleryRepository(pg_url, create=False)
    tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    assert pg_server.execute(database, tables) == [(0,)]


def test_another_programs_database_is_refused(pg_server: Any, pg_url: str) -> None:
    database = pg_url.split("/")[3].split("?")[0]
    pg_server.execute(database, "CREATE TABLE invoices (id int)")
    pg_server.execute(database, f"ALTER TABLE invoices OWNER TO {pg_url.split('//')[1].split(':')[0]}")
    with pytest.raises(DatabaseError, match="not a faceapp gallery"):
        GalleryRepository(pg_url)


def test_a_gallery_from_a_newer_faceapp_is_refused(pg_server: Any, pg_url: str) -> None:
    database = pg_url.split("/")[3].split("?")[0]
    GalleryRepository(pg_url).close()
    pg_server.execute(database, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(DatabaseError, match="newer faceapp"):
        GalleryRepository(pg_url)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("mysql://u:Secret-1@h/db", "a SQLite file or a PostgreSQL server"),
        ("postgresql+psycopg://u:Secret-1@h", "names no database"),
        ("postgresql+psycopg2://u:Secret-1@h/db", "a SQLite file or a PostgreSQL server"),
    ],
)
def test_unusable_addresses_are_refused_without_the_password(address: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message) as caught:
        GalleryRepository(address)
    _one_line_without_password(caught.value, "Secret-1")


def test_the_cli_names_the_server_without_its_password(pg_url: str) -> None:
    wrong = pg_url.replace(STATION_PASSWORD, "Cli-Wrong-Pw-7")
    done = subprocess.run(
        [sys.executable, "-m", "faceapp", "people", "list", "--db", wrong], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: ")
    assert "refused the user name or password" in done.stderr
    assert "Cli-Wrong-Pw-7" not in done.stderr + done.stdout


def test_a_write_waits_for_another_stations_write_and_fails_in_one_line_past_the_timeout(
    pg_server: Any, pg_url: str
) -> None:
    database = pg_url.split("/")[3].split("?")[0]
    locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted"
    with GalleryRepository(pg_url) as holder, GalleryRepository(pg_url, busy_timeout_ms=300) as other:
        with holder._session(write=True):  # another station is in the middle of a write
            assert pg_server.execute(database, locks, (postgres.WRITE_LOCK_KEY,)) == [(1,)]  # the gallery's lock
            started = time.monotonic()
            with pytest.raises(DatabaseError, match="another station kept the gallery busy") as caught:
                other.add_person("Bo")
            assert 0.25 < time.monotonic() - started < 3
            _one_line_without_password(caught.value)
        assert other.add_person("Bo").name == "Bo"
        assert [p.name for p in holder.list_people()] == ["Bo"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://ann:pa/ss@db.example/gallery",
        "postgresql+psycopg://ann:p?ss@db.example/gallery",
        "postgresql+psycopg://ann:pass@db.example/gallery?sslpassword=pass&application_name=x",
    ],
)
def test_a_gallery_address_is_labelled_without_its_password_however_it_is_spelt(url: str) -> None:
    """Review of issue 15: urlsplit and SQLAlchemy split 'pa/ss' differently; the label showed the whole address."""
    from faceapp.paths import db_label

    label = db_label(url)
    assert "pass" not in label.replace("sslpassword", "")
    assert "pa/ss" not in label
    assert "p?ss" not in label
    assert label.startswith("postgresql+psycopg://ann:***@db.example")

"""A throw-away PostgreSQL cluster for the tests (initdb + pg_ctl on a Unix socket), or the one .ci/run started.

FACEAPP_TEST_PG_URL, when set, is a libpq address of a role that may create roles and databases (.ci/run sets it);
otherwise `PgServer.start` makes a cluster in a temporary folder (as the `postgres` user when run as root, since
PostgreSQL refuses to run as root) and `stop` removes it. Each test gets a fresh database owned by a password
role, `station`, so that credentials, privileges and password hiding are tested the way a real server checks them.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ENV_URL = "FACEAPP_TEST_PG_URL"
STATION, STATION_PASSWORD = "station", "Sesame-4711-pw"
READER, READER_PASSWORD = "reader", "Reader-0815-pw"


class Unavailable(Exception):
    """No PostgreSQL server can be started or reached here; the message says why."""


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A server the tests may create databases on; `url(db)` is a station's SQLAlchemy address for one of them."""

    admin: str  # libpq URI of a role with CREATEDB and CREATEROLE
    host: str  # socket folder or host name, as libpq's host parameter
    port: int
    base: Path | None = None  # the folder of a cluster we started (removed by stop)
    run_as: list[str] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls) -> PgServer:
        """The server named by FACEAPP_TEST_PG_URL, else a new cluster; Unavailable says why neither works."""
        given = os.environ.get(ENV_URL)
        server = cls.from_url(given) if given else cls._new_cluster()
        try:
            server._ensure_roles()
        except Exception as error:
            server.stop()
            raise Unavailable(f"cannot prepare the PostgreSQL server: {error}") from None
        return server

    @classmethod
    def from_url(cls, given: str) -> PgServer:
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(given)
        query = parse_qs(parts.query)
        host = query.get("host", [parts.hostname or "localhost"])[0]
        port = int(query.get("port", [parts.port or 5432])[0])
        return cls(given, host, port)

    @classmethod
    def _new_cluster(cls) -> PgServer:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise Unavailable("PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql)")
        run_as: list[str] = []
        base = Path(tempfile.mkdtemp(prefix="faceapp-pg-"))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(base, ignore_errors=True)
                raise Unavailable("running as root and there is no postgres user to run the server as") from None
            os.chown(base, user.pw_uid, user.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        data, port = base / "data", _free_port()
        server = cls(f"postgresql://admin@/postgres?host={base}&port={port}", str(base), port, base, run_as)
        try:
            server._run([initdb, "-D", str(data), "-U", "admin", "--auth=trust", "-E", "UTF8", "--no-sync"])
            (data / "pg_hba.conf").write_text(
                "local all admin trust\nlocal all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"
            )
            options = f"-k {base} -p {port} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
            server._run([pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-o", options, "-w", "start"])
        except (OSError, subprocess.CalledProcessError) as error:
            log = base / "server.log"
            tail = log.read_text(errors="replace")[-300:] if log.exists() else ""
            server.stop()
            raise Unavailable(f"cannot start a PostgreSQL cluster ({error}) {tail}") from None
        return server

    def _run(self, command: list[str]) -> None:
        subprocess.run([*self.run_as, *command], check=True, capture_output=True, timeout=120, cwd=self.base or None)

    def admin_connect(self):  # type: ignore[no-untyped-def]
        """An autocommit psycopg connection as the admin role."""
        import psycopg

        return psycopg.connect(self.admin, autocommit=True, connect_timeout=5)

    def _ensure_roles(self) -> None:
        with self.admin_connect() as conn:
            for role, password in ((STATION, STATION_PASSWORD), (READER, READER_PASSWORD)):
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                if not exists:
                    conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")

    def url(self, database: str, user: str = STATION, password: str | None = STATION_PASSWORD) -> str:
        """A SQLAlchemy postgresql+psycopg address of `database` for `user`."""
        who = quote(user) + (f":{quote(password)}" if password is not None else "")
        return f"postgresql+psycopg://{who}@/{database}?host={quote(self.host)}&port={self.port}"

    def new_database(self, owner: str = STATION) -> str:
        """A new empty database owned by `owner`; returns its name."""
        name = f"gallery_{os.getpid()}_{next(self.counter)}"
        with self.admin_connect() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
        return name

    def drop_database(self, name: str) -> None:
        """Remove a test's database (its connections are ended first)."""
        with contextlib.suppress(Exception), self.admin_connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def execute(self, database: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run one statement as the admin on `database` (outside faceapp); returns its rows, if any."""
        import psycopg

        with psycopg.connect(self.admin, dbname=database, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []

    def stop(self) -> None:
        """Stop and remove a cluster we started (a server from FACEAPP_TEST_PG_URL is left running)."""
        if self.base is None:
            return
        pg_ctl = _binary("pg_ctl")
        if pg_ctl and (self.base / "data" / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run([pg_ctl, "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

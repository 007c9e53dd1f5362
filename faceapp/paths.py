"""Where faceapp keeps its files: the user's data and config directories (platformdirs), overridable by env."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "faceapp"


def data_dir() -> Path:
    """The gallery database, imported model weights and logs live here (FACEAPP_DATA_DIR overrides)."""
    override = os.environ.get("FACEAPP_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def config_dir() -> Path:
    """settings.json lives here (FACEAPP_CONFIG_DIR overrides)."""
    override = os.environ.get("FACEAPP_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    """Benchmark embedding caches live here (FACEAPP_CACHE_DIR overrides)."""
    override = os.environ.get("FACEAPP_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME, appauthor=False)


def default_db_path() -> Path:
    """The gallery used when no --db is given."""
    return data_dir() / "gallery.sqlite3"


def models_dir() -> Path:
    """Model weights imported with `faceapp models import` are copied here."""
    return data_dir() / "models"


def log_path() -> Path:
    """The app's rotating log file."""
    return data_dir() / "logs" / "faceapp.log"


# A gallery is a SQLite file (a path) or a PostgreSQL server (a URL such as postgresql+psycopg://USER@HOST/DB).
DB_URL_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")


def is_db_url(value: str | Path) -> bool:
    """Whether a --db value names a database server (`SCHEME://...`) rather than a gallery file."""
    if isinstance(value, Path):
        return False
    scheme, sep, _ = value.partition("://")
    return bool(sep) and scheme.replace("+", "").isalnum()


def db_target(value: str | Path) -> str | Path:
    """A --db or settings value as the repository takes it: a URL stays text, anything else is a file path."""
    return value if is_db_url(value) else Path(value)


def db_label(value: str | Path) -> str:
    """How a gallery is named in messages and logs: the path, or the URL with any password replaced by ***.

    The user and password are split off as SQLAlchemy splits them, not as urllib does (a '/' or '?' in a password
    stays in it), to the last '@'; the query's password-like values are masked too.
    """
    if not is_db_url(value):
        return str(value)
    import re

    text = str(value)
    scheme, _, rest = text.partition("://")
    # To the last '@': more than SQLAlchemy reads as the password when one holds an unencoded '@', never less.
    found = re.match(r"(?P<user>[^:/@]*)(?::(?P<password>.*))?@(?P<rest>[^@]*)$", rest, re.S)
    if found is not None:
        secret = ":***" if found.group("password") is not None else ""
        who, rest = f"{found.group('user')}{secret}@", found.group("rest")
    else:
        who = ""
    where, sep, query = rest.partition("?")
    masked = "&".join(
        f"{k}=***" if k.lower() in ("password", "passfile", "sslpassword") else f"{k}={v}" if eq else k
        for k, eq, v in (item.partition("=") for item in query.split("&") if item)
    )
    return f"{scheme}://{who}{where}" + (f"?{masked}" if sep else "")

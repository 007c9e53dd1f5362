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
    """How a gallery is named in messages and logs: the path, or the URL with any password replaced by ***."""
    if not is_db_url(value):
        return str(value)
    from urllib.parse import urlsplit, urlunsplit

    text = str(value)
    try:  # as SQLAlchemy itself reads the address (a '/' or '?' in a password splits differently in urlsplit)
        from sqlalchemy.engine import make_url

        url = make_url(text)
        hidden = {k: "***" for k in url.query if k.lower() in ("password", "passfile", "sslpassword")}
        return url.update_query_dict(hidden).render_as_string(hide_password=True)
    except Exception:  # an address SQLAlchemy cannot read: the conservative split below
        pass
    try:
        parts = urlsplit(text)
        netloc = parts.netloc
    except ValueError:
        return text.partition("://")[0] + "://(unreadable address)"
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = "&".join(
        f"{k}=***" if k.lower() in ("password", "passfile", "sslpassword") else f"{k}={v}" if sep else k
        for k, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))

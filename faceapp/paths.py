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

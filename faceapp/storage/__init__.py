"""The gallery database (SQLite through SQLAlchemy); it returns core types, never ORM objects."""

from faceapp.storage.names import normalize_name
from faceapp.storage.repository import GalleryRepository, StoredSample

__all__ = ["GalleryRepository", "StoredSample", "normalize_name"]

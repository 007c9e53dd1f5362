"""Fakes that record who calls them and on which thread (napari's habit of thread-asserting fakes)."""

from __future__ import annotations

import sys
import threading
from typing import Any

from faceapp.storage.repository import GalleryRepository

WRITES = (
    "set_model",
    "add_person",
    "rename_person",
    "remove_person",
    "enroll",
    "remove_sample",
    "sample_to_negative",
    "store_embeddings",
    "add_negatives",
    "remove_negative",
    "store_negative_embeddings",
)


class SpyRepository(GalleryRepository):
    """A real repository that records, for every write, the calling module and the thread."""

    writes: list[tuple[str, str, threading.Thread]]  # (method, calling module, thread)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.writes = []
        super().__init__(*args, **kwargs)


def _spy(name: str) -> Any:
    real = getattr(GalleryRepository, name)

    def method(self: SpyRepository, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "?")
        self.writes.append((name, caller, threading.current_thread()))
        return real(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in WRITES:
    setattr(SpyRepository, _name, _spy(_name))

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


class OneAtATime:
    """A resource that serves one thread at a time (the shared analyzer): records every thread that enters it, in
    order, and every overlap, as (the thread inside, the thread that came in).

    `use(linger)`: the thread inside stays up to `linger` seconds, leaving early when another thread comes in, so an
    overlap the code allows shows up in a test instead of depending on luck. `block` holds whoever enters until
    `release` is set (at most 10 s), to keep a thread inside while the test acts.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.inside: list[threading.Thread] = []
        self.entries: list[str] = []
        self.overlaps: list[tuple[str, str]] = []
        self.block = False
        self.release = threading.Event()

    def enter(self) -> None:
        """The calling thread comes in."""
        me = threading.current_thread()
        with self._cond:
            self.overlaps.extend((t.name, me.name) for t in self.inside if t is not me)
            self.inside.append(me)
            self.entries.append(me.name)
            self._cond.notify_all()

    def leave(self) -> None:
        """The calling thread goes out."""
        with self._cond:
            self.inside.remove(threading.current_thread())

    def use(self, linger: float = 0.0) -> Any:
        """A context manager: enter, stay (linger, block), leave."""
        from contextlib import contextmanager

        @contextmanager
        def inside() -> Any:
            self.enter()
            try:
                if self.block:
                    self.release.wait(10.0)
                if linger:
                    with self._cond:
                        self._cond.wait_for(lambda: len(self.inside) > 1, linger)
                yield
            finally:
                self.leave()

        return inside()

    def holder(self) -> list[str]:
        """The names of the threads inside now."""
        with self._cond:
            return [t.name for t in self.inside]

"""Who is this? The faces of tracks that stayed Unknown, kept as candidates and grouped by person for the user to name.

A `ReviewStore` takes `TrackSummary`s from the live workers (`add_track`, any thread, quick: memory only), keeps a
few best crops of each Unknown track and groups them (core.grouping) per model: embeddings of two models cannot be
compared, so a candidate is grouped only with candidates of its own model, and groups of another model stay listed
(and can be named: naming embeds their crops again with the gallery's model) until they expire or are forgotten.

Retention is the user's: off (nothing kept), this session (memory only, gone when the app closes) or N days (also
written to the gallery database through a `CandidateBackend`, on the gallery runner's thread by `flush`; expired
candidates are deleted by `expire`). Forgetting deletes a group's crops and embeddings from memory and database.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np

from faceapp.core import catalog
from faceapp.core.evidence import TrackSummary
from faceapp.core.grouping import GROUP_FACTOR, average_link, track_mean
from faceapp.core.types import FaceSample
from faceapp.errors import BadInputError

KEEP_CROPS = 3  # best crops kept per Unknown track
MAX_CANDIDATES = 1000  # the oldest go first beyond this (about 0.7 MB each with 3 crops): memory stays bounded
THUMBNAILS = 4  # crops a group shows
DAY_S = 86400.0
RETENTIONS = ("off", "session", "days")
RetentionMode = Literal["off", "session", "days"]


class ReviewError(BadInputError):
    """A review operation named a group that does not exist (any more), or asked something impossible."""


@dataclass(frozen=True)
class Retention:
    """How long unknown faces are kept: off, this session (memory only) or `days` days (in the gallery database)."""

    mode: RetentionMode = "session"
    days: int = 7

    def __post_init__(self) -> None:
        if self.mode not in RETENTIONS:
            raise ValueError(f"retention must be one of {', '.join(RETENTIONS)}, not {self.mode!r}")
        if not 1 <= self.days <= 365:
            raise ValueError(f"retention days must be 1 to 365, not {self.days}")

    @classmethod
    def of(cls, mode: str, days: int) -> Retention:
        """The retention the settings name (ValueError for one that does not exist)."""
        if mode not in RETENTIONS:
            raise ValueError(f"retention must be one of {', '.join(RETENTIONS)}, not {mode!r}")
        return cls(mode, days)  # type: ignore[arg-type]  # checked above

    @property
    def persistent(self) -> bool:
        """Whether candidates are written to the database."""
        return self.mode == "days"

    def cutoff(self, now: float) -> float | None:
        """The last-seen time before which a candidate is expired (None: nothing expires by age)."""
        return now - self.days * DAY_S if self.persistent else None


@dataclass(frozen=True)
class Candidate:
    """One Unknown track: its mean embedding, its best crops (best first), when it was seen, and its merge link."""

    id: int  # this store's id
    model: str
    first_seen: float
    last_seen: float
    embedding: np.ndarray = field(compare=False, repr=False)  # (dim,) unit float32: the track's mean
    samples: tuple[FaceSample, ...] = field(compare=False, repr=False)
    qualities: tuple[float, ...] = ()
    link: int | None = None  # candidates with the same link were merged by the user
    stored_id: int | None = None  # its row in the gallery database, once written


@dataclass(frozen=True)
class Group:
    """Candidates that look like one person: shown as one entry of the panel."""

    id: int  # the smallest candidate id in it: stable while its candidates stay
    model: str
    candidates: tuple[Candidate, ...]

    @property
    def times_seen(self) -> int:
        """How many tracks (appearances) it holds."""
        return len(self.candidates)

    @property
    def last_seen(self) -> float:
        """When any of its tracks was last seen (time.time())."""
        return max(c.last_seen for c in self.candidates)

    @property
    def samples(self) -> list[FaceSample]:
        """All its crops, best first: what naming enrolls."""
        ranked = sorted(
            ((q, i, s) for i, c in enumerate(self.candidates) for q, s in zip(c.qualities, c.samples, strict=True)),
            key=lambda t: (-t[0], t[1]),
        )
        return [s for _, _, s in ranked]

    @property
    def thumbnails(self) -> list[np.ndarray]:
        """Up to THUMBNAILS crops (RGB uint8), one per track first, best first."""
        firsts = sorted(self.candidates, key=lambda c: -(c.qualities[0] if c.qualities else 0.0))
        return [c.samples[0].image for c in firsts[:THUMBNAILS]]


class CandidateBackend(Protocol):
    """Where persistent candidates live (the gallery database); called on the gallery runner's thread only."""

    def save_candidates(self, candidates: Sequence[Candidate]) -> list[int]:
        """Store new candidates; their row ids, in order."""
        ...

    def load_candidates(self) -> list[Candidate]:
        """Every stored candidate, `id` and `stored_id` both set to its row id."""
        ...

    def delete_candidates(self, stored_ids: Sequence[int]) -> int:
        """Delete these rows (crops and embeddings); how many went."""
        ...

    def link_candidates(self, stored_ids: Sequence[int], link: int) -> None:
        """Record that these rows were merged into one group."""
        ...

    def expire_candidates(self, before: float) -> int:
        """Delete every row last seen before `before` (time.time()); how many went."""
        ...


def candidate_of(summary: TrackSummary, candidate_id: int) -> Candidate:
    """The candidate an Unknown track leaves: its mean embedding and its KEEP_CROPS best crops."""
    order = sorted(range(len(summary.samples)), key=lambda i: -summary.qualities[i])[:KEEP_CROPS]
    return Candidate(
        id=candidate_id,
        model=summary.model,
        first_seen=summary.first_seen,
        last_seen=summary.last_seen,
        embedding=track_mean(summary.embeddings),
        samples=tuple(summary.samples[i] for i in order),
        qualities=tuple(float(summary.qualities[i]) for i in order),
    )


def group_threshold(model: str) -> float:
    """The average-link distance under which two tracks of `model` count as one person."""
    try:
        tau = catalog.spec(model).default_threshold
    except Exception:  # a model no longer in the catalog (a deleted trained model): the strictest built-in
        tau = min(s.default_threshold for s in catalog.BUILTIN.values())
    return GROUP_FACTOR * tau


def make_groups(candidates: Sequence[Candidate]) -> list[Group]:
    """The candidates grouped per model, most recently seen group first."""
    groups: list[Group] = []
    for model in sorted({c.model for c in candidates}):
        mine = [c for c in candidates if c.model == model]
        rows = average_link(np.stack([c.embedding for c in mine]), group_threshold(model), [c.link for c in mine])
        for members in rows:
            chosen = tuple(mine[i] for i in members)
            groups.append(Group(min(c.id for c in chosen), model, chosen))
    return sorted(groups, key=lambda g: (-g.last_seen, g.id))


class ReviewStore:
    """The unknown candidates of one gallery, thread-safe: the workers add, the panel and CLI read and change.

    `add_track` is the live workers' track sink (any thread; memory only, microseconds). Everything touching the
    backend (`open`, `flush`, `expire`, `forget`, `merge`, `remove`) runs where database work runs: the gallery
    runner in the app, the caller in the CLI.
    """

    def __init__(self, retention: Retention | None = None, backend: CandidateBackend | None = None) -> None:
        """An empty store; call `open` to load (and expire) the persistent candidates of `backend`."""
        self._lock = threading.RLock()
        self._retention = retention or Retention()
        self._backend = backend
        self._candidates: dict[int, Candidate] = {}
        self._ids = itertools.count(1)
        self._groups: list[Group] | None = None
        self._version = 0
        self._doomed: list[int] = []  # stored rows pushed out of memory by MAX_CANDIDATES

    # -- reading ----------------------------------------------------------------------------------------------
    @property
    def retention(self) -> Retention:
        """The retention in force."""
        return self._retention

    @property
    def version(self) -> int:
        """Counts every change: a panel refreshes when it moved."""
        return self._version

    def __len__(self) -> int:
        """How many candidates (tracks) it holds."""
        with self._lock:
            return len(self._candidates)

    def groups(self) -> list[Group]:
        """The groups, most recently seen first (computed again only after a change)."""
        with self._lock:
            if self._groups is not None:
                return list(self._groups)
            candidates, version = list(self._candidates.values()), self._version
        groups = make_groups(candidates)  # outside the lock: the workers' add_track never waits for a grouping
        with self._lock:
            if self._version == version:
                self._groups = groups
        return list(groups)

    def group(self, group_id: int) -> Group:
        """The group with this id; ReviewError when there is none (forgotten, named or merged meanwhile)."""
        found = next((g for g in self.groups() if g.id == group_id), None)
        if found is None:
            raise ReviewError(f"No unknown-face group {group_id} (it may have been named, merged or forgotten).")
        return found

    # -- feeding ----------------------------------------------------------------------------------------------
    def add_track(self, summary: TrackSummary) -> None:
        """The track sink: keep an Unknown track as a candidate (named tracks and retention "off" keep nothing)."""
        if summary.person_id is not None or self._retention.mode == "off":
            return
        try:
            candidate = candidate_of(summary, next(self._ids))
        except ValueError:
            return  # a degenerate track (its embeddings cancel out): nothing worth showing
        with self._lock:
            self._candidates[candidate.id] = candidate
            while len(self._candidates) > MAX_CANDIDATES:
                oldest = min(self._candidates.values(), key=lambda c: c.last_seen)
                if oldest.stored_id is not None:
                    self._doomed.append(oldest.stored_id)  # deleted from the database at the next flush
                self._drop([oldest.id])
            self._changed()

    def open(self, now: float | None = None) -> int:
        """Load the backend's candidates (after deleting the expired ones); how many were expired."""
        if self._backend is None:
            return 0
        expired = self.expire(now)
        if not self._retention.persistent:
            return expired
        loaded = self._backend.load_candidates()
        with self._lock:
            for c in loaded:
                self._candidates[c.id] = c
            top = max((c.id for c in self._candidates.values()), default=0)
            self._ids = itertools.count(top + 1)
            self._changed()
        return expired

    def flush(self) -> int:
        """Write the candidates not yet stored to the backend (retention N days only); how many were written."""
        if self._backend is None or not self._retention.persistent:
            return 0
        with self._lock:
            pending = [c for c in self._candidates.values() if c.stored_id is None]
            doomed, self._doomed = self._doomed, []
        if doomed:
            self._backend.delete_candidates(doomed)
        if not pending:
            return 0
        stored = self._backend.save_candidates(pending)
        with self._lock:
            for c, row in zip(pending, stored, strict=True):
                if c.id in self._candidates:  # not forgotten meanwhile
                    self._candidates[c.id] = replace(c, stored_id=row)
                else:
                    self._backend.delete_candidates([row])
            self._changed()
        return len(pending)

    def expire(self, now: float | None = None) -> int:
        """Delete candidates past retention (everything stored when retention is not N days); how many went."""
        now = time.time() if now is None else now
        cutoff = self._retention.cutoff(now)
        removed = 0
        if self._backend is not None:
            removed = self._backend.expire_candidates(cutoff if cutoff is not None else float("inf"))
        if cutoff is not None:
            with self._lock:
                old = [c.id for c in self._candidates.values() if c.last_seen < cutoff]
                removed = max(removed, len(old))
                if old:  # a panel regroups on a change: not every minute for nothing
                    self._drop(old)
                    self._changed()
        return removed

    def set_retention(self, retention: Retention) -> None:
        """Change the retention (the settings dialog); "off" forgets everything at once, memory included.

        Leaving N days deletes the stored rows at the next `expire`, which the caller runs on the runner.
        """
        with self._lock:
            self._retention = retention
            if retention.mode == "off":
                self._drop(list(self._candidates))
            elif not retention.persistent:
                self._candidates = {k: replace(c, stored_id=None) for k, c in self._candidates.items()}
            self._changed()

    # -- the user's operations --------------------------------------------------------------------------------
    def merge(self, group_id: int, other_id: int) -> Group:
        """Join two groups for good (the user says they are one person); the merged group."""
        if group_id == other_id:
            raise ReviewError("A group cannot be merged with itself; choose another group.")
        first, second = self.group(group_id), self.group(other_id)
        if first.model != second.model:
            raise ReviewError(f"Group {group_id} was seen with {first.model} and {other_id} with {second.model}.")
        link = secrets.randbits(62)
        members = [*first.candidates, *second.candidates]
        stored = [c.stored_id for c in members if c.stored_id is not None]
        if stored and self._backend is not None:
            self._backend.link_candidates(stored, link)
        with self._lock:
            for c in members:
                if c.id in self._candidates:
                    self._candidates[c.id] = replace(self._candidates[c.id], link=link)
            self._changed()
        return self.group(min(first.id, second.id))

    def forget(self, group_id: int) -> int:
        """Delete a group: its crops and embeddings, from memory and the database; how many tracks went."""
        return self.remove(self.group(group_id))

    def remove(self, group: Group) -> int:
        """Delete these candidates (a group forgotten, or named: its crops are samples now); how many went."""
        stored = [c.stored_id for c in group.candidates if c.stored_id is not None]
        if stored and self._backend is not None:
            self._backend.delete_candidates(stored)
        with self._lock:
            gone = self._drop([c.id for c in group.candidates])
            self._changed()
        return gone

    def _drop(self, ids: Sequence[int]) -> int:
        gone = 0
        for i in ids:
            gone += self._candidates.pop(i, None) is not None
        return gone

    def _changed(self) -> None:
        self._groups = None
        self._version += 1

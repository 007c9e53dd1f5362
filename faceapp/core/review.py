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

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import cv2
import numpy as np

from faceapp.core import catalog
from faceapp.core.evidence import TrackSummary
from faceapp.core.grouping import FOLD_FACTOR, GROUP_FACTOR, average_link, fold_mean, nearest_within, track_mean
from faceapp.core.types import Detection, FaceSample
from faceapp.errors import BadInputError

KEEP_CROPS = 3  # best crops kept per candidate
# A kept crop is at most CROP_SIDE pixels on its longer side: the crop is twice the face box (align.sample_crop), so
# the face keeps up to 128 px, what the most demanding embedder uses (FaceNet's 160 px crop less its 32 px margin;
# dlib's face spans 100 px of its 150 px chip, SFace's about 80 of 112). It is kept as JPEG at CROP_QUALITY: on 34
# faces of the shared clips the embedding moved by at most 2% of tau (dlib-resnet and SFace), at 11 KB a crop
# instead of 144 KB of pixels.
CROP_SIDE = 256
CROP_QUALITY = 95
THUMB_SIDE = 64  # the panel's thumbnail of a candidate, kept decoded so the GUI thread never decodes a JPEG
MAX_CANDIDATES = 1000  # at most this many in memory (grouping is quadratic in them) ...
MEMORY_BUDGET = 64 * 2**20  # ... and at most these bytes (Candidate.nbytes): the oldest leave memory first
CANDIDATE_OVERHEAD = 2048  # bytes a candidate costs beyond its crops, thumbnail and embedding (Python objects)
THUMBNAILS = 4  # crops a group shows
DAY_S = 86400.0
RETENTIONS = ("off", "session", "days")
RetentionMode = Literal["off", "session", "days"]


class ReviewError(BadInputError):
    """A review operation named faces that are not kept (any more), or asked something impossible."""


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
class Crop:
    """One kept face crop, compact: encoded image bytes (JPEG, or PNG from older galleries) and the face in it."""

    data: bytes = field(repr=False)
    detection: Detection
    quality: float
    source: str = ""

    def sample(self) -> FaceSample:
        """The crop decoded to a gallery sample (RGB uint8); ReviewError when the bytes are not an image."""
        try:
            bgr = cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_COLOR) if self.data else None
        except cv2.error:  # OpenCV raises on some damaged bytes instead of returning None
            bgr = None
        if bgr is None:
            raise ReviewError("A kept face crop cannot be read; forget that group.")
        return FaceSample(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.detection, self.source)


def shrink(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """`image` scaled down (never up) so its longer side is at most `side`, and the scale used."""
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w, 1))
    if scale >= 1.0:
        return np.ascontiguousarray(image), 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def compact(sample: FaceSample, quality: float) -> Crop:
    """A sample as a kept crop: at most CROP_SIDE pixels, JPEG; ValueError for an image that is not RGB uint8."""
    small, scale = shrink(_rgb(sample.image), CROP_SIDE)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, CROP_QUALITY])
    if not ok:
        raise ValueError("a face crop cannot be encoded")
    return Crop(data.tobytes(), sample.detection.shifted(0, 0, scale), float(quality), sample.source)


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] < 3 or 0 in image.shape:
        raise ValueError(f"a face crop must be RGB uint8, not {image.dtype} {image.shape}")
    return image[..., :3]


def thumbnail_of(crop: Crop) -> np.ndarray:
    """The crop decoded and scaled into THUMB_SIDE (RGB uint8)."""
    return shrink(crop.sample().image, THUMB_SIDE)[0]


@dataclass(frozen=True)
class Candidate:
    """One Unknown face: the mean embedding of its tracks, its best crops (best first), when it was seen, its link."""

    id: int  # this store's id: never reused while the store lives
    model: str
    first_seen: float
    last_seen: float
    embedding: np.ndarray = field(compare=False, repr=False)  # (dim,) unit float32: the mean of its tracks' means
    crops: tuple[Crop, ...] = field(compare=False, repr=False)
    thumbnail: np.ndarray = field(compare=False, repr=False)  # its best crop, at most THUMB_SIDE (RGB uint8)
    link: int | None = None  # candidates with the same link were merged by the user
    stored_id: int | None = None  # its row in the gallery database, once written
    tracks: int = 1  # tracks folded into it: how many times it was seen

    @classmethod
    def of(
        cls,
        candidate_id: int,
        model: str,
        first_seen: float,
        last_seen: float,
        embedding: np.ndarray,
        samples: Sequence[FaceSample],
        qualities: Sequence[float],
        **rest: Any,
    ) -> Candidate:
        """A candidate from full samples (compacted here), best first as given."""
        crops = tuple(compact(s, q) for s, q in zip(samples, qualities, strict=True))
        if not crops:
            raise ValueError("a candidate needs at least one crop")
        thumbnail = shrink(_rgb(samples[0].image), THUMB_SIDE)[0]  # from the pixels: no JPEG decoded
        embedding = np.asarray(embedding, np.float32)
        return cls(candidate_id, model, first_seen, last_seen, embedding, crops, thumbnail, **rest)

    @property
    def samples(self) -> tuple[FaceSample, ...]:
        """Its crops decoded, best first (what naming enrolls; decoding is for the runner, not the GUI thread)."""
        return tuple(c.sample() for c in self.crops)

    @property
    def qualities(self) -> tuple[float, ...]:
        """Its crops' qualities, best first."""
        return tuple(c.quality for c in self.crops)

    @property
    def nbytes(self) -> int:
        """What it costs in memory, about: crops, thumbnail, embedding and a fixed overhead."""
        held = sum(len(c.data) for c in self.crops) + self.thumbnail.nbytes + self.embedding.nbytes
        return held + CANDIDATE_OVERHEAD


@dataclass(frozen=True)
class Group:
    """Candidates that look like one person: shown as one entry of the panel."""

    id: int  # the smallest candidate id in it: stable while its candidates stay
    model: str
    candidates: tuple[Candidate, ...]

    @property
    def ids(self) -> tuple[int, ...]:
        """Its candidates' ids: what the panel hands back to act on exactly the faces it showed."""
        return tuple(c.id for c in self.candidates)

    @property
    def times_seen(self) -> int:
        """How many tracks (appearances) it holds."""
        return sum(c.tracks for c in self.candidates)

    @property
    def last_seen(self) -> float:
        """When any of its tracks was last seen (time.time())."""
        return max(c.last_seen for c in self.candidates)

    @property
    def crop_count(self) -> int:
        """How many crops it holds (no decoding)."""
        return sum(len(c.crops) for c in self.candidates)

    @property
    def samples(self) -> list[FaceSample]:
        """All its crops decoded, best first: what naming enrolls (on the runner: it decodes)."""
        ranked = sorted(
            ((k.quality, i, k) for i, c in enumerate(self.candidates) for k in c.crops),
            key=lambda t: (-t[0], t[1]),
        )
        return [k.sample() for _, _, k in ranked]

    @property
    def thumbnails(self) -> list[np.ndarray]:
        """Up to THUMBNAILS crops (RGB uint8, at most THUMB_SIDE), one per candidate, best first."""
        firsts = sorted(self.candidates, key=lambda c: -(c.qualities[0] if c.crops else 0.0))
        return [c.thumbnail for c in firsts[:THUMBNAILS]]


class CandidateBackend(Protocol):
    """Where persistent candidates live (the gallery database); called on the gallery runner's thread only."""

    def save_candidates(self, candidates: Sequence[Candidate]) -> list[int]:
        """Store new candidates; their row ids, in order."""
        ...

    def load_candidates(self, newest: int | None = None) -> list[Candidate]:
        """The `newest` stored candidates by last seen (all when None), oldest first; `id` and `stored_id` its row."""
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

    def delete_linked(self, links: Sequence[int]) -> int:
        """Delete every row merged under one of these links (also rows no longer in memory); how many went."""
        ...


def candidate_of(summary: TrackSummary, candidate_id: int) -> Candidate:
    """The candidate an Unknown track leaves: its mean embedding and its KEEP_CROPS best crops (compacted)."""
    order = sorted(range(len(summary.samples)), key=lambda i: -summary.qualities[i])[:KEEP_CROPS]
    return Candidate.of(
        candidate_id,
        summary.model,
        summary.first_seen,
        summary.last_seen,
        track_mean(summary.embeddings),
        [summary.samples[i] for i in order],
        [float(summary.qualities[i]) for i in order],
    )


def folded(kept: Candidate, new: Candidate) -> Candidate:
    """`kept` seen again as `new`: one more track in its mean, the best KEEP_CROPS of both, the seen times spanned.

    It needs writing again (stored_id None): the caller deletes the old row.
    """
    crops = sorted([*kept.crops, *new.crops], key=lambda c: -c.quality)[:KEEP_CROPS]
    return replace(
        kept,
        first_seen=min(kept.first_seen, new.first_seen),
        last_seen=max(kept.last_seen, new.last_seen),
        embedding=fold_mean(kept.embedding, kept.tracks, new.embedding),
        crops=tuple(crops),
        thumbnail=new.thumbnail if crops[0] is new.crops[0] else kept.thumbnail,
        stored_id=None,
        tracks=kept.tracks + new.tracks,
    )


def group_threshold(model: str) -> float:
    """The average-link distance under which two tracks of `model` count as one person."""
    return GROUP_FACTOR * _tau(model)


def fold_threshold(model: str) -> float:
    """The distance under which a new track of `model` is a kept candidate seen again."""
    return FOLD_FACTOR * _tau(model)


def _tau(model: str) -> float:
    try:
        return catalog.spec(model).default_threshold
    except Exception:  # a model no longer in the catalog (a deleted trained model): the strictest built-in
        return min(s.default_threshold for s in catalog.BUILTIN.values())


def make_groups(candidates: Sequence[Candidate]) -> list[Group]:
    """The candidates grouped per model (each weighted by its tracks), most recently seen group first."""
    groups: list[Group] = []
    for model in sorted({c.model for c in candidates}):
        mine = [c for c in candidates if c.model == model]
        rows = average_link(
            np.stack([c.embedding for c in mine]),
            group_threshold(model),
            [c.link for c in mine],
            [c.tracks for c in mine],
        )
        for members in rows:
            chosen = tuple(mine[i] for i in members)
            groups.append(Group(min(c.id for c in chosen), model, chosen))
    return sorted(groups, key=lambda g: (-g.last_seen, g.id))


class _Rows:
    """The kept embeddings of one model (and size) as rows of one matrix: the fold's nearest search copies nothing."""

    def __init__(self, dim: int) -> None:
        self.matrix = np.empty((64, dim), np.float32)
        self.ids: list[int] = []
        self.row: dict[int, int] = {}

    def put(self, candidate_id: int, vector: np.ndarray) -> None:
        r = self.row.get(candidate_id)
        if r is None:
            if len(self.ids) == len(self.matrix):
                self.matrix = np.concatenate([self.matrix, np.empty_like(self.matrix)])
            r = len(self.ids)
            self.ids.append(candidate_id)
            self.row[candidate_id] = r
        self.matrix[r] = vector

    def drop(self, candidate_id: int) -> None:
        r = self.row.pop(candidate_id, None)
        if r is None:
            return
        last = len(self.ids) - 1
        if r != last:  # the last row fills the hole
            moved = self.ids[last]
            self.matrix[r] = self.matrix[last]
            self.ids[r] = moved
            self.row[moved] = r
        self.ids.pop()

    def nearest(self, vector: np.ndarray, threshold: float) -> int | None:
        k = nearest_within(self.matrix[: len(self.ids)], vector, threshold)
        return None if k is None else self.ids[k]


class ReviewStore:
    """The unknown candidates of one gallery, thread-safe: the workers add, the panel and CLI read and change.

    `add_track` is the live workers' track sink (any thread; memory only, a few milliseconds to compact the crops).
    Everything touching the backend (`open`, `flush`, `expire`, `forget`, `merge`, `remove`) runs where database
    work runs: the gallery runner in the app, the caller in the CLI; none calls the backend holding the lock that
    `add_track` takes. Memory holds at most MAX_CANDIDATES candidates and MEMORY_BUDGET bytes: beyond, the least
    recently seen leave memory; their stored rows, if any, stay until the retention deletes them.
    """

    def __init__(
        self,
        retention: Retention | None = None,
        backend: CandidateBackend | None = None,
        memory_budget: int | None = None,
    ) -> None:
        """An empty store; call `open` to load (and expire) the persistent candidates of `backend`."""
        self._lock = threading.RLock()
        self._retention = retention or Retention()
        self._backend = backend
        self._budget = MEMORY_BUDGET if memory_budget is None else memory_budget
        self._candidates: dict[int, Candidate] = {}
        self._rows: dict[tuple[str, int], _Rows] = {}  # the embeddings per (model, size), for folding
        self._bytes = 0
        self._next_id = 1  # ids are never reused: a panel holding an old id must not reach another face
        self._groups: list[Group] | None = None
        self._version = 0
        self._stale: list[int] = []  # stored rows of candidates folded since (written again, then deleted)
        self._successor: ReviewStore | None = None  # the store of the gallery switched to (`hand_over`)
        self.unloaded = 0  # stored candidates `open` left in the database to stay within memory

    # -- reading ----------------------------------------------------------------------------------------------
    @property
    def retention(self) -> Retention:
        """The retention in force."""
        return self._retention

    @property
    def version(self) -> int:
        """Counts every change: a panel refreshes when it moved."""
        return self._version

    @property
    def nbytes(self) -> int:
        """The memory its candidates hold (Candidate.nbytes summed): at most the budget after every change."""
        return self._bytes

    @property
    def has_backend(self) -> bool:
        """Whether it can write to a gallery database."""
        return self._backend is not None

    def __len__(self) -> int:
        """How many candidates it holds."""
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
        """The group with this id now; ReviewError when there is none (forgotten, named or merged meanwhile)."""
        found = next((g for g in self.groups() if g.id == group_id), None)
        if found is None:
            raise ReviewError(f"No unknown-face group {group_id} (it may have been named, merged or forgotten).")
        return found

    def pick(self, ids: Sequence[int]) -> Group:
        """Exactly these candidates (the faces a panel showed as one group), whatever the grouping says now.

        ReviewError when any of them is gone (named, forgotten, expired or pushed out of memory meanwhile).
        """
        with self._lock:
            chosen = [self._candidates.get(i) for i in dict.fromkeys(ids)]
        found = tuple(c for c in chosen if c is not None)
        if not found or len(found) < len(chosen):
            raise ReviewError("Some of these faces are no longer kept (named, forgotten or expired meanwhile).")
        models = {c.model for c in found}
        if len(models) > 1:
            raise ReviewError(f"These faces were seen with different models ({', '.join(sorted(models))}).")
        return Group(min(c.id for c in found), found[0].model, found)

    # -- feeding ----------------------------------------------------------------------------------------------
    def add_track(self, summary: TrackSummary) -> None:
        """The track sink: keep an Unknown track as a candidate, or fold it into the one it clearly is.

        Named tracks and retention "off" keep nothing; after `hand_over` the track goes to the next store.
        """
        if summary.person_id is not None or self._retention.mode == "off":
            return
        try:
            fresh = candidate_of(summary, 0)  # compacted outside the lock; the id is given under it
        except ValueError:
            return  # a degenerate track (its embeddings cancel out, or no usable crop): nothing worth showing
        with self._lock:
            successor = self._successor
            if successor is None and self._retention.mode != "off":  # again: "off" may have come while compacting
                self._keep(fresh)
                self._changed()
        if successor is not None:
            successor.add_track(summary)

    def _keep(self, fresh: Candidate) -> None:
        """Fold `fresh` into the nearest kept candidate of its model within the fold distance, or keep it (locked)."""
        rows = self._rows.get((fresh.model, fresh.embedding.size))
        near = rows.nearest(fresh.embedding, fold_threshold(fresh.model)) if rows is not None else None
        if near is None:
            self._put(replace(fresh, id=self._take_id()))
        else:
            kept = self._candidates[near]
            if kept.stored_id is not None:
                self._stale.append(kept.stored_id)  # written again at the next flush, the old row deleted then
            self._put(folded(kept, fresh))
        self._evict()

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _put(self, candidate: Candidate) -> None:
        old = self._candidates.get(candidate.id)
        if old is not None:
            self._bytes -= old.nbytes
        self._candidates[candidate.id] = candidate
        self._bytes += candidate.nbytes
        key = (candidate.model, candidate.embedding.size)
        self._rows.setdefault(key, _Rows(candidate.embedding.size)).put(candidate.id, candidate.embedding)

    def _evict(self) -> None:
        """The least recently seen leave memory while over MAX_CANDIDATES or the byte budget (locked)."""
        while self._candidates and (len(self._candidates) > MAX_CANDIDATES or self._bytes > self._budget):
            oldest = min(self._candidates.values(), key=lambda c: (c.last_seen, c.id))
            self._drop([oldest.id])

    def adopt(self, candidates: Sequence[Candidate]) -> None:
        """Take candidates of another store (a gallery switch) as not yet stored, with ids of this store."""
        with self._lock:
            for c in candidates:
                self._put(replace(c, id=self._take_id(), stored_id=None))
            self._evict()
            self._changed()

    def hand_over(self, successor: ReviewStore) -> int:
        """A gallery opened: later tracks go to `successor`; the candidates of a store with no gallery move too.

        The faces seen while another gallery was open stay that gallery's: its store keeps them for a last `flush`
        (retention N days), or they end with it (retention session), as they would at exit. How many moved.
        """
        with self._lock:
            self._successor = successor
            if self._backend is not None:
                return 0
            moving = [c for c in self._candidates.values() if c.stored_id is None]
            self._drop([c.id for c in moving])
            self._changed()
        successor.adopt(moving)
        return len(moving)

    def open(self, now: float | None = None) -> int:
        """Load the backend's candidates (after deleting the expired ones); how many were expired.

        Loaded candidates keep their row id as their id unless this store ever gave that id out (candidates kept
        before it opened): then they get a fresh one, so no id means two faces.
        """
        if self._backend is None:
            return 0
        expired = self.expire(now)
        if not self._retention.persistent:
            return expired
        loaded = self._backend.load_candidates(newest=MAX_CANDIDATES)
        with self._lock:
            held = {c.stored_id for c in self._candidates.values() if c.stored_id is not None}
            loaded = [c for c in loaded if c.stored_id not in held]
            keep = [c for c in loaded if c.id >= self._next_id]
            renumber = [c for c in loaded if c.id < self._next_id]
            for c in keep:
                self._put(c)
            self._next_id = max([self._next_id, *(c.id + 1 for c in keep)])
            for c in renumber:
                self._put(replace(c, id=self._take_id()))
            before = len(self._candidates)
            self._evict()
            self.unloaded = before - len(self._candidates)
            self._changed()
        return expired

    def flush(self) -> int:
        """Write the candidates not yet stored to the backend (retention N days only); how many were written."""
        if self._backend is None or not self._retention.persistent:
            return 0
        with self._lock:
            pending = [c for c in self._candidates.values() if c.stored_id is None]
            stale, self._stale = self._stale, []
        if stale:
            try:
                self._backend.delete_candidates(stale)
            except BaseException:  # a locked or lost database: they are deleted at the next flush
                with self._lock:
                    self._stale = [*stale, *self._stale]
                raise
        if not pending:
            return 0
        stored = self._backend.save_candidates(pending)
        orphans: list[int] = []
        with self._lock:
            for c, row in zip(pending, stored, strict=True):
                if self._candidates.get(c.id) is c:
                    self._put(replace(c, stored_id=row))
                else:  # forgotten, folded or merged while it was written: that row is not what is kept now
                    orphans.append(row)
            self._changed()
        if orphans:
            try:
                self._backend.delete_candidates(orphans)  # outside the lock: add_track never waits on the database
            except BaseException:
                with self._lock:
                    self._stale = [*orphans, *self._stale]
                raise
        return len(pending)

    def expire(self, now: float | None = None) -> int:
        """Delete candidates past retention (everything stored when retention is not N days); how many went."""
        now = time.time() if now is None else now
        cutoff = self._retention.cutoff(now)
        removed = 0
        if self._backend is not None:  # the database first, outside the lock
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
                for c in list(self._candidates.values()):
                    self._put(replace(c, stored_id=None))
                self._stale = []
            self._changed()

    # -- the user's operations --------------------------------------------------------------------------------
    def merge(self, ids: Sequence[int], other_ids: Sequence[int]) -> Group:
        """Join two sets of candidates for good (the user says they are one person); the merged set.

        ReviewError when either is gone, when they overlap (one group), or when they were seen with other models.
        """
        first, second = self.pick(ids), self.pick(other_ids)
        if set(first.ids) & set(second.ids):
            raise ReviewError("A group cannot be merged with itself; choose another group.")
        if first.model != second.model:
            raise ReviewError(f"These groups were seen with different models ({first.model}, {second.model}).")
        link = secrets.randbits(62)
        members = [*first.candidates, *second.candidates]
        stored = [c.stored_id for c in members if c.stored_id is not None]
        if stored and self._backend is not None:
            self._backend.link_candidates(stored, link)
        with self._lock:
            for c in members:
                if c.id in self._candidates:
                    self._put(replace(self._candidates[c.id], link=link))
            self._changed()
        return self.pick([*first.ids, *second.ids])

    def forget(self, ids: Sequence[int]) -> int:
        """Delete these candidates (a group as shown): crops and embeddings, from memory and database; how many."""
        return self.remove(self.pick(ids))

    def remove(self, group: Group) -> int:
        """Delete these candidates (a group forgotten, or named: its crops are samples now); how many went."""
        with self._lock:
            now = [self._candidates.get(c.id) for c in group.candidates]
        stored = {c.stored_id for c in [*group.candidates, *now] if c is not None and c.stored_id is not None}
        links = sorted({c.link for c in [*group.candidates, *now] if c is not None and c.link is not None})
        if self._backend is not None:  # the database first (outside the lock): a failure keeps them
            if stored:
                self._backend.delete_candidates(sorted(stored))
            if links:  # merged members that left memory (the budget) are this group too
                self._backend.delete_linked(links)
        with self._lock:
            gone = self._drop([c.id for c in group.candidates])
            self._changed()
        return gone

    def _drop(self, ids: Sequence[int]) -> int:
        gone = 0
        for i in ids:
            c = self._candidates.pop(i, None)
            if c is not None:
                self._bytes -= c.nbytes
                self._rows[(c.model, c.embedding.size)].drop(i)
                gone += 1
        return gone

    def _changed(self) -> None:
        self._groups = None
        self._version += 1

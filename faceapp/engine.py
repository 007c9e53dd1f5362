"""The recognition service the command line and the GUI share: a gallery, a detector, and the gallery's model."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from faceapp.core import catalog, weights
from faceapp.core.align import sample_crop
from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.distance import distances
from faceapp.core.embedders.base import Embedder
from faceapp.core.embedders.registry import create_embedder
from faceapp.core.gallery_index import INDEX_MIN_ROWS, IndexFeed
from faceapp.core.image_io import load_image, to_rgb
from faceapp.core.matching import GallerySnapshot, LayeredSnapshot
from faceapp.core.types import Detection, Face, FaceSample, Match, MatchRule, Person
from faceapp.errors import (
    BadInputError,
    DatabaseError,
    FaceAppError,
    ModelError,
    MultipleFacesError,
    NoFaceError,
    UnknownPersonError,
)
from faceapp.storage.candidates import CandidateRepository
from faceapp.storage.names import normalize_name
from faceapp.storage.repository import GalleryRepository, ModelChangedError, StoredSample

log = logging.getLogger(__name__)

ImageInput = str | Path | np.ndarray
ProgressFn = Callable[[int, int], None]
EMBED_CHUNK = 16  # chips per embed_chips call, and stored crops decoded at a time by a model switch (0.24 MB each)
# A face this near (d) to a sample its person already has is the same picture again and is not stored twice.
# Measured with dlib-resnet: the same photo embeds at d = 0; the same photo at another resolution is 0.002-0.01
# away and consecutive frames of a still talking head 0.0018 or more, and those are kept as samples.
REPEAT_D = 1e-4
WATCH_INTERVAL_S = 0.25  # how often a watching engine asks whether another station changed the gallery


class GalleryChange(Enum):
    """What a gallery write changed (Anki's OpChanges, in one word)."""

    PEOPLE = "people"  # a person, a sample or a correction ("not this person") was added, renamed or removed
    MODEL = "model"  # the gallery was re-embedded with another model
    MODEL_ELSEWHERE = "model-elsewhere"  # another station switched the model: this one now uses it too


GalleryListener = Callable[[GalleryChange], None]


@dataclass(frozen=True)
class EnrollResult:
    """What an enrollment did: the person, how many samples were added, and notes for the user."""

    person: Person
    added: int
    notes: tuple[str, ...] = ()
    skipped: int = 0
    corrections: int = 0  # corrections ("not this person") added with the samples (an import)


@dataclass(frozen=True)
class Recognition:
    """One face found in an image and its match in the gallery."""

    face: Face
    match: Match


# A change known person by person (an enrollment, a rename, a removal) updates a large, indexed gallery's snapshot
# by a layer of those people's rows (matching.LayeredSnapshot) instead of reloading and re-indexing every row; past
# these sizes the next snapshot is a full reload again.
LAYER_MAX_ROWS = 5_000  # the layer's own rows are read in full for every face identified (~0.5 ms per 1,000)
LAYER_MAX_PEOPLE = 500  # people the layer holds (a removed person stays in it, with no rows)


@dataclass
class _Cache:
    snapshot: GallerySnapshot | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # guards these fields; held briefly
    building: threading.Lock = field(default_factory=threading.Lock)  # one build at a time; writes never wait
    generation: int = 0  # counts changes: a build that began before the latest one is not kept as current
    stale: GallerySnapshot | None = None  # the snapshot before the pending changes, when all were person by person
    changed: set[int] = field(default_factory=set)  # the people those changes touched


def unexpected(image: ImageInput, exc: Exception) -> BadInputError:
    """A one-line error for one input that failed in an unforeseen way; the traceback goes to the log."""
    label = str(image) if not isinstance(image, np.ndarray) else "the image"
    log.error("unexpected failure on %s", label, exc_info=exc)
    detail = (str(exc).splitlines() or [""])[0][:200]
    return BadInputError(f"{label}: could not be processed ({type(exc).__name__}: {detail}).")


def default_model() -> str:
    """The first of the catalog's DEFAULT_ORDER whose weights are on this machine (best measured first,
    docs/benchmarks.md); existing galleries keep their own model."""
    order = catalog.DEFAULT_ORDER
    return next((m for m in order if weights.is_available(m)), order[-1])


class Engine:
    """Enroll, identify and verify against one gallery; the only writer of its repository.

    Database writes happen on the caller's thread, one at a time (the write lock); each write drops the cached
    snapshot once and announces the change to subscribers, on the writing thread.
    """

    def __init__(
        self,
        repo: GalleryRepository,
        model: str | None = None,
        detector: Detector | None = None,
        embedder_factory: Callable[[str], Embedder] = create_embedder,
        adopt_model: bool = True,
    ) -> None:
        """An engine on `repo`. A gallery without a model adopts `model` (or the default) unless adopt_model is False
        (the `people` commands: listing or renaming never records a model)."""
        self._repo = repo
        self._listeners: list[GalleryListener] = []
        self.notes: list[str] = []
        self._factory = embedder_factory
        self.detector = detector or Detector(DetectorConfig())
        self._embedder: Embedder | None = None
        self._cache = _Cache()
        self.index_min_rows = INDEX_MIN_ROWS  # galleries from this many rows on are searched through an index
        self._watcher: threading.Thread | None = None
        self._stop_watching = threading.Event()
        # Enrollments and model switches may run on background threads: one at a time, so an enrollment never
        # stores one model's vectors under another model's name, nor commits between a switch's list and its end.
        self._writing = threading.RLock()
        stored = repo.model
        if stored is None and not adopt_model:
            stored = model or default_model()
        elif stored is None:
            chosen = model or default_model()
            catalog.spec(chosen)
            if not weights.is_available(chosen) and embedder_factory is create_embedder:
                raise ModelError(weights.missing_message(chosen))  # before the gallery records a model it cannot use
            repo.set_model(chosen)
            self.notes.append(f"New gallery: using the {chosen} model.")
            stored = chosen
        self.model = stored

    @classmethod
    def open(cls, db_path: Path | str, model: str | None = None, **kwargs: object) -> Engine:
        """An engine on the gallery at `db_path`, a file or a server address (created when absent)."""
        return cls(GalleryRepository(db_path), model, **kwargs)  # type: ignore[arg-type]

    @property
    def purge_pending(self) -> bool:
        """Whether a deletion's data still waits in the -wal file (another reader held it); erased at the next write."""
        return self._repo.purge_pending

    @property
    def gallery_path(self) -> Path | None:
        """The gallery's database file (None for a gallery on a server)."""
        return self._repo.path

    @property
    def gallery_label(self) -> str:
        """The gallery as messages name it: its file, or its server address without the password."""
        return self._repo.label

    def upgrade_backups(self) -> list[Path]:
        """Copies made before schema upgrades, beside the gallery (they may still hold removed people)."""
        return self._repo.upgrade_backups()

    def close(self) -> None:
        """Stop watching and release the database."""
        self.stop_watching()
        self._repo.close()

    def stop_watching(self) -> None:
        """End the watch thread (if any), waiting for its current poll; announces nothing more."""
        self._stop_watching.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    # -- other stations -----------------------------------------------------------------------------------------
    def watch(self, interval_s: float = WATCH_INTERVAL_S) -> None:
        """Poll the gallery every `interval_s` on a daemon thread for changes other stations (engines) made.

        Each one is announced like a local write (GalleryChange.PEOPLE, or MODEL_ELSEWHERE after another station's
        model switch: load the new embedder), on the watch thread; close() stops it.
        """
        if self._watcher is not None:
            return
        self._stop_watching.clear()
        self._watcher = threading.Thread(target=self._watch, args=(interval_s,), name="gallery-watch", daemon=True)
        self._watcher.start()

    def _watch(self, interval_s: float) -> None:
        failing = False
        while not self._stop_watching.wait(interval_s):
            try:
                self.check_for_changes()
            except FaceAppError as exc:  # the server is away: say so once, keep trying
                if not failing:
                    log.warning("cannot check the gallery for other stations' changes: %s", exc)
                failing = True
            except Exception:
                log.exception("the gallery watch failed")
                failing = True
            else:
                if failing:
                    log.info("the gallery is reachable again")
                failing = False

    def check_for_changes(self) -> GalleryChange | None:
        """Any thread: announce (and return) a change another station made since the last look, else None.

        Skipped while this engine writes (a switch or enrollment holds the write lock): the next look sees it.
        """
        if not self._writing.acquire(blocking=False):
            return None
        try:
            if not self._repo.external_change():
                return None
            stored = self._repo.model
            change = GalleryChange.PEOPLE
            if stored is not None and stored != self.model:  # switched elsewhere: follow, never mix two models
                log.info("another station switched the gallery from %s to %s", self.model, stored)
                self.model = stored
                change = GalleryChange.MODEL_ELSEWHERE
        finally:
            self._writing.release()
        self._changed(change)
        return change

    # -- models -------------------------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The gallery model's embedder, loaded on first use (raises ModelError when weights are missing)."""
        if self._embedder is None or self._embedder.name != self.model:
            self._embedder = self._factory(self.model)
        return self._embedder

    @property
    def analyzer(self) -> FaceAnalyzer:
        """Detector and embedder together."""
        return FaceAnalyzer(self.detector, self.embedder)

    @property
    def default_threshold(self) -> float:
        """tau for the gallery's model when the user has not set one."""
        return catalog.spec(self.model).default_threshold

    @property
    def default_margin(self) -> float:
        """The 1:K ambiguity margin for the gallery's model when the user has not set one."""
        return catalog.spec(self.model).default_margin

    def switch_model(
        self, model: str, progress: ProgressFn | None = None, cancelled: Callable[[], bool] | None = None
    ) -> bool:
        """Re-embed every stored sample with `model` and make it the gallery's model; False when cancelled."""
        with self._writing:
            return self._switch_model(model, progress, cancelled)

    def _switch_model(self, model: str, progress: ProgressFn | None, cancelled: Callable[[], bool] | None) -> bool:
        catalog.spec(model)
        embedder = self._factory(model)
        total = self._repo.count_missing(model) + self._repo.count_negatives_missing(model)
        done, previous = 0, None
        while True:  # 16 stored crops decoded at a time, not the whole gallery at once
            if cancelled is not None and cancelled():
                return False
            chunk, negatives = self._repo.samples_missing(model, limit=EMBED_CHUNK), False
            if not chunk:  # then the corrections, which follow every model the samples do
                chunk, negatives = self._repo.negatives_missing(model, limit=EMBED_CHUNK), True
            ids = [(negatives, s.id) for s in chunk]
            # Done only when no sample lacks a `model` vector in the same transaction that records the model: a
            # sample another station enrolled meanwhile is embedded in the next round.
            if not chunk and self._repo.set_model(model, complete=True):
                break
            if not chunk:
                continue
            if ids == previous:  # the last batch was not stored: stop rather than loop on it
                raise DatabaseError(f"{self._repo.label}: re-embedding with {model} stored nothing; try again.")
            embedded = self._embedded([s.sample for s in chunk], embedder)
            items = [(s.id, v) for s, (_, v) in zip(chunk, embedded, strict=True)]
            store = self._repo.store_negative_embeddings if negatives else self._repo.store_embeddings
            store(model, items)
            done, previous = done + len(chunk), ids
            total = max(total, done)  # samples enrolled during the switch are embedded too
            if progress is not None:
                progress(done, total)
        self.model = model
        self._embedder = embedder
        self._changed(GalleryChange.MODEL)
        return True

    # -- gallery ------------------------------------------------------------------------------------------------
    def subscribe(self, listener: GalleryListener) -> Callable[[], None]:
        """Call `listener(change)` after every committed gallery write, on the writing thread; returns unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def invalidate(self, people: set[int] | None = None) -> None:
        """Forget the cached snapshot after the people changed, and tell the subscribers; `people` names everyone
        the change touched, when known (then a large gallery's next snapshot re-reads only them)."""
        self._changed(GalleryChange.PEOPLE, people)

    def _changed(self, change: GalleryChange, people: set[int] | None = None) -> None:
        with self._cache.lock:
            cache = self._cache
            previous = cache.snapshot if cache.snapshot is not None else cache.stale
            if people is not None and change is GalleryChange.PEOPLE and previous is not None and previous.indexed:
                cache.changed = set(people) if cache.snapshot is not None else cache.changed | people
                cache.stale = previous
            else:  # a model switch, another station's change, or anything not known person by person: reload all
                cache.stale, cache.changed = None, set()
            cache.snapshot = None
            cache.generation += 1
        for listener in list(self._listeners):
            listener(change)

    @property
    def stored_model(self) -> str | None:
        """The model the gallery file records (None for a gallery opened with adopt_model=False and never used)."""
        return self._repo.model

    def rename(self, who: str | int, new_name: str) -> Person:
        """Rename a person (by name, regardless of case, or id); BadInputError when the new name is taken."""
        with self._writing:
            person = self._repo.rename_person(who, new_name)
            self.invalidate({person.id})
            return person

    def remove_person(self, who: str | int) -> int:
        """Delete a person (by name or id) with their samples and embeddings; returns how many samples went."""
        with self._writing:
            gone = self._repo.person(who).id
            removed = self._repo.remove_person(gone)
            self.invalidate({gone})
            return removed

    def remove_sample(self, sample_id: int) -> None:
        """Delete one sample and its embeddings (the person stays)."""
        with self._writing:
            self._repo.remove_sample(sample_id)
            self.invalidate()

    def forget_sample(
        self, sample_id: int, person: str | int | None = None, remember_as_not: bool = False
    ) -> int | None:
        """The user's "Wrong sample": remove a sample added to the wrong person; with `person`, BadInputError unless
        the sample is theirs.

        With `remember_as_not` the face is kept as a correction of that person instead ("this face is not them",
        its vectors of every model moving with it), so it is not named them again; returns the correction's id.
        """
        with self._writing:
            if person is not None:
                self._check_owner(person, sample_id, self._repo.samples_of, "sample")
            if not remember_as_not:
                self.remove_sample(sample_id)
                return None
            negative_id = self._repo.sample_to_negative(sample_id)
            self.invalidate()
            return negative_id

    def _check_owner(
        self, person: str | int, item_id: int, items: Callable[[int], list[StoredSample]], what: str
    ) -> None:
        owner = self._repo.person(person)
        if item_id not in {s.id for s in items(owner.id)}:
            raise BadInputError(f"{owner.name} has no {what} with id {item_id}.")

    # -- corrections: "this face is not X" ---------------------------------------------------------------------
    def add_negative(self, person: str | int, sample: FaceSample) -> int:
        """Record `sample` as not the person (name or id), embedded with the gallery's model; returns its id.

        From then on the matching refuses that person for faces nearer to this one than to their own samples.
        """
        with self._writing:
            try:
                ids = self._repo.add_negatives(person, self._embedded([sample]), self.model)
            except ModelChangedError:
                stored = self._repo.model
                if stored is None or stored == self.model:
                    raise
                self.model = stored
                self._changed(GalleryChange.MODEL_ELSEWHERE)
                ids = self._repo.add_negatives(person, self._embedded([sample]), self.model)
            self.invalidate()
            return ids[0]

    def add_negative_from_image(self, person: str | int, image: ImageInput) -> tuple[int, str | None]:
        """The CLI's `people not NAME IMAGE`: the (largest) face in `image` as a correction; (its id, a note)."""
        if isinstance(person, str):
            self.person(person)  # an unknown name fails before any model work
        try:
            rgb, detection, note = self.one_detection(image, "record")
            crop, moved = sample_crop(rgb, detection)
        except FaceAppError:
            raise
        except Exception as exc:
            raise unexpected(image, exc) from exc
        source = "" if isinstance(image, np.ndarray) else str(image)
        return self.add_negative(person, FaceSample(crop, moved, source)), note

    def remove_negative(self, negative_id: int, person: str | int | None = None) -> None:
        """Delete one correction and its embeddings; with `person`, BadInputError unless it is about them."""
        with self._writing:
            if person is not None:
                self._check_owner(person, negative_id, self._repo.negatives_of, "correction")
            self._repo.remove_negative(negative_id)
            self.invalidate()

    def negatives_of(self, person_id: int) -> list[StoredSample]:
        """The faces recorded as not this person, oldest first."""
        return self._repo.negatives_of(person_id)

    def negative_embeddings(self, person_id: int) -> dict[int, np.ndarray]:
        """A person's corrections' embeddings under the gallery's model, by correction id."""
        return self._repo.negative_embeddings(person_id, self.model)

    def samples_of(self, person_id: int) -> list[StoredSample]:
        """A person's samples, oldest first."""
        return self._repo.samples_of(person_id)

    def thumbnail(self, person_id: int) -> np.ndarray | None:
        """The image of a person's first sample (RGB uint8), or None."""
        return self._repo.thumbnail(person_id)

    def sample_embeddings(self, person_id: int) -> dict[int, np.ndarray]:
        """A person's embeddings under the gallery's model, by sample id."""
        return self._repo.sample_embeddings(person_id, self.model)

    def import_samples(
        self,
        name: str,
        samples: Sequence[tuple[FaceSample, np.ndarray | None]],
        model: str | None,
        negatives: Sequence[tuple[FaceSample, np.ndarray | None]] = (),
    ) -> EnrollResult:
        """Store samples (and corrections) brought from another gallery (an archive or a copy) for `name`, in one
        transaction; a person with corrections but no samples is added with just those.

        Their vectors are kept when they are this gallery's model's (`model` names theirs) and complete; otherwise
        every crop is embedded again with this gallery's model.
        """
        with self._writing:
            vectors = [v for _, v in [*samples, *negatives]]
            for attempt in (1, 2):
                if model == self.model and all(v is not None for v in vectors):
                    pairs = [(sample, v) for sample, v in samples if v is not None]
                    kept = [(sample, v) for sample, v in negatives if v is not None]
                else:
                    pairs = self._embedded([sample for sample, _ in samples])
                    kept = self._embedded([sample for sample, _ in negatives]) if negatives else []
                fresh, notes = self._new_faces(name, pairs)
                kept = self._new_negatives(name, kept)
                try:
                    if fresh:
                        person = self._repo.enroll(name, fresh, self.model, negatives=kept)
                    elif kept:  # no new sample (an import done before, or a person who had only corrections)
                        self._repo.add_negatives(name, kept, self.model, create=True)
                        person = self.person(name)
                    else:
                        person = self.person(name)
                    break
                except ModelChangedError:  # another station switched models after we embedded: once more
                    stored = self._repo.model
                    if attempt == 2 or stored is None or stored == self.model:
                        raise
                    self.model = stored
                    self._changed(GalleryChange.MODEL_ELSEWHERE)
            self.invalidate({person.id})
            return EnrollResult(person, len(fresh), notes, len(notes), len(kept))

    def _new_negatives(
        self, name: str, items: list[tuple[FaceSample, np.ndarray]]
    ) -> list[tuple[FaceSample, np.ndarray]]:
        """The corrections `name` does not have already (REPEAT_D), so importing twice records each once."""
        try:
            known = list(self.negative_embeddings(self.person(name).id).values())
        except UnknownPersonError:
            known = []
        fresh = []
        for sample, vector in items:
            if known and float(distances(vector[None, :], np.stack(known)).min()) <= REPEAT_D:
                continue
            known.append(vector)
            fresh.append((sample, vector))
        return fresh

    def bulk_add(self, names: Sequence[str], owners: np.ndarray, vectors: np.ndarray, sample: FaceSample) -> None:
        """Benchmarks: add many people whose samples share one crop and carry given vectors of the gallery's model."""
        with self._writing:
            self._repo.bulk_add(names, owners, vectors, self.model, sample)
            self.invalidate()

    def review_backend(self) -> CandidateRepository:
        """Where the unknown-faces review keeps candidates for N days: this gallery's database (not its people)."""
        return CandidateRepository(self._repo)

    def integrity_problems(self) -> list[str]:
        """What is wrong with the stored gallery, one line each; empty when it is sound."""
        return self._repo.integrity_problems()

    def embedding_models(self) -> dict[str, int]:
        """How many embeddings each model has in the gallery."""
        return self._repo.embedding_models()

    def snapshot(self) -> GallerySnapshot:
        """An immutable view of every sample's embedding for the gallery's model, rebuilt after changes.

        Built on the calling thread (the gallery runner, never the live thread), outside the lock that writes take,
        so an enrollment never waits for a large gallery's index; a change during the build makes it one more.
        """
        cache = self._cache
        with cache.building:
            with cache.lock:
                if cache.snapshot is not None:
                    return cache.snapshot
                generation, stale, changed = cache.generation, cache.stale, set(cache.changed)
            snapshot = self._layered(stale, changed) if stale is not None else None
            if snapshot is None:
                snapshot = self._loaded()
            with cache.lock:
                if cache.generation == generation:
                    cache.snapshot, cache.stale, cache.changed = snapshot, None, set()
                elif cache.stale is not None:  # changed again, person by person, meanwhile: update this one next
                    cache.stale = snapshot
            return snapshot

    def _loaded(self) -> GallerySnapshot:
        """Every sample and correction of the gallery's model, read from the database, with the index built."""
        model = self.model
        scoring = catalog.spec(model).scoring
        feed = IndexFeed(average=scoring == "average", min_rows=self.index_min_rows)  # the graph, while reading
        try:
            ids, names, vectors = self._repo.embeddings_for(model, on_batch=feed.add)
        except BaseException:
            feed.cancel()  # the read failed: do not wait for a graph nobody will use
            raise
        fed = feed.finish()
        negative_ids, negatives = self._repo.negative_embeddings_for(model)
        snapshot = GallerySnapshot(
            model,
            ids,
            names,
            vectors,
            scoring,  # type: ignore[arg-type]
            negative_ids,
            negatives,
            index_min_rows=self.index_min_rows,
        )
        return snapshot.adopt(fed).build_index()

    def _layered(self, stale: GallerySnapshot, changed: set[int]) -> GallerySnapshot | None:
        """`stale` with the current rows of the `changed` people (re-read), or None when a full reload is due."""
        model = self.model  # once: a switch sets it before its change is announced, and must not mix two models
        held = set(stale.hidden) if isinstance(stale, LayeredSnapshot) else set()
        if stale.model != model or not changed or len(held | changed) > LAYER_MAX_PEOPLE:
            return None
        ids, names_now, vectors = self._repo.embeddings_for(model, people=changed)
        negative_ids, negatives = self._repo.negative_embeddings_for(model, people=changed)
        names = {pid: name for pid, name in stale.names.items() if pid not in changed}
        names.update(names_now)
        rows = {pid: (vectors[ids == pid], negatives[negative_ids == pid]) for pid in changed}
        snapshot = stale.updated(rows, names)
        return snapshot if snapshot.layer_rows <= LAYER_MAX_ROWS else None

    def people(self) -> list[Person]:
        """Everyone enrolled, by name."""
        return self._repo.list_people()

    def person(self, name: str) -> Person:
        """The enrolled person called `name` (exactly, else regardless of case), or UnknownPersonError."""
        return self._repo.person(name)

    # -- faces --------------------------------------------------------------------------------------------------
    @staticmethod
    def load(image: ImageInput) -> np.ndarray:
        """An RGB array from a path, or from a grey, RGB or RGBA array (BGR arrays: convert with to_rgb first)."""
        return to_rgb(image) if isinstance(image, np.ndarray) else load_image(image)

    def faces(self, image: np.ndarray) -> list[Face]:
        """Every face in `image`, embedded, largest first."""
        return self.analyzer.analyze(image)

    def one_detection(
        self, image: ImageInput, what: str, largest: bool = True
    ) -> tuple[np.ndarray, Detection, str | None]:
        """The single face an operation needs, with a note when the largest of several was taken."""
        rgb = self.load(image)
        detections = self.detector.detect(rgb)
        label = str(image) if not isinstance(image, np.ndarray) else "the image"
        if not detections:
            config = getattr(self.detector, "config", None)  # a stand-in detector may have none
            smallest = int(getattr(config, "min_face_size", 0))
            if min(rgb.shape[:2]) < smallest:
                h, w = rgb.shape[:2]
                raise NoFaceError(f"{label}: no face found ({w}x{h} px is too small for a {smallest} px face).")
            raise NoFaceError(f"{label}: no face found to {what}.")
        note = None
        if len(detections) > 1:
            if not largest:
                raise MultipleFacesError(f"{label}: {len(detections)} faces found; use a photo of one person.")
            note = f"{label}: {len(detections)} faces found; used the largest."
        return rgb, detections[0], note

    def one_face(self, image: ImageInput, what: str, largest: bool = True) -> tuple[np.ndarray, Face, str | None]:
        """one_detection, embedded."""
        rgb, detection, note = self.one_detection(image, what, largest)
        return rgb, self.analyzer.embed(rgb, [detection])[0], note

    def _embedded(
        self, samples: Sequence[FaceSample], embedder: Embedder | None = None
    ) -> list[tuple[FaceSample, np.ndarray]]:
        """Each sample with its embedding, computed from the stored crop, as enrollment and re-embedding both do.

        The chips go through the network EMBED_CHUNK at a time (batched, about half the per-face cost).
        """
        model = embedder or self.embedder
        vectors: list[np.ndarray] = []
        for start in range(0, len(samples), EMBED_CHUNK):
            chunk = samples[start : start + EMBED_CHUNK]
            vectors.extend(model.embed_faces([s.image for s in chunk], [s.detection for s in chunk]))  # any model
        return list(zip(samples, vectors, strict=True))

    def enroll(self, name: str, images: Sequence[ImageInput], largest: bool = True) -> EnrollResult:
        """Add a person (or samples to an existing one) from photos; unusable photos are skipped and reported.

        Each photo is read and searched on its own, before the write lock is taken: one that fails (whatever the
        reason) is reported in `notes` and counted in `skipped`, and the others are still enrolled.
        """
        normalize_name(name)  # a bad name fails before any model work
        samples: list[FaceSample] = []
        notes: list[str] = []
        for image in images:
            try:
                sample, note = self._enroll_sample(image, largest)
            except BadInputError as exc:
                notes.append(f"skipped: {exc}")
                continue
            if note:
                notes.append(note)
            samples.append(sample)
        skipped = len(images) - len(samples)
        if not samples:
            raise BadInputError("Nothing enrolled. " + ("; ".join(notes) if notes else "No images were given."))
        with self._writing:
            person, repeats = self._store(name, samples)
        return EnrollResult(person, len(samples) - len(repeats), tuple(notes) + repeats, skipped + len(repeats))

    def _enroll_sample(self, image: ImageInput, largest: bool) -> tuple[FaceSample, str | None]:
        """The face sample of one enrollment photo; BadInputError for anything wrong with this one photo."""
        try:
            rgb, detection, note = self.one_detection(image, "enroll", largest)
            crop, moved = sample_crop(rgb, detection)
        except FaceAppError:  # a bad photo (BadInputError) is skipped by the caller; missing weights stop it all
            raise
        except Exception as exc:  # a decoder, detector or crop bug on one odd photo must not cost the others
            raise unexpected(image, exc) from exc
        return FaceSample(crop, moved, "" if isinstance(image, np.ndarray) else str(image)), note

    def enroll_samples(self, name: str, samples: Sequence[FaceSample]) -> EnrollResult:
        """Enroll faces already detected (the GUI's click-to-enroll, on the gallery runner): embedded from their crops.

        Waits for a model switch or another enrollment in progress (the write lock).
        """
        with self._writing:
            person, repeats = self._store(name, samples)
            return EnrollResult(person, len(samples) - len(repeats), repeats, len(repeats))

    def _store(
        self, name: str, samples: Sequence[FaceSample], allow_none: bool = False
    ) -> tuple[Person, tuple[str, ...]]:
        """Embed and store samples under the write lock; once more with the new model if another station switched.

        Faces that are a sample of the person already (REPEAT_D) are left out, with a note each; BadInputError when
        nothing is left, unless `allow_none` (an import of what is there already adds nothing, quietly).
        """
        try:
            person, repeats = self._store_new(name, self._embedded(samples), allow_none)
        except ModelChangedError:
            stored = self._repo.model
            if stored is None or stored == self.model:
                raise
            self.model = stored
            self._changed(GalleryChange.MODEL_ELSEWHERE)
            person, repeats = self._store_new(name, self._embedded(samples), allow_none)
        self.invalidate({person.id})
        return person, repeats

    def _store_new(
        self, name: str, pairs: list[tuple[FaceSample, np.ndarray]], allow_none: bool
    ) -> tuple[Person, tuple[str, ...]]:
        fresh, repeats = self._new_faces(name, pairs)
        if fresh:
            return self._repo.enroll(name, fresh, self.model), repeats
        if allow_none:
            return self.person(name), repeats
        raise BadInputError(f"Nothing added: {'; '.join(repeats)}.")

    def _new_faces(
        self, name: str, pairs: list[tuple[FaceSample, np.ndarray]]
    ) -> tuple[list[tuple[FaceSample, np.ndarray]], tuple[str, ...]]:
        """The faces that are not already samples of `name` (nor repeats within `pairs`), and a note per repeat."""
        try:
            known = list(self.sample_embeddings(self.person(name).id).values())
        except UnknownPersonError:  # a new person
            known = []
        fresh: list[tuple[FaceSample, np.ndarray]] = []
        notes: list[str] = []
        for sample, vector in pairs:
            if known and float(distances(vector[None, :], np.stack(known)).min()) <= REPEAT_D:
                notes.append(f"skipped {sample.source or 'a face'}: already a sample of {name!r}")
                continue
            known.append(vector)
            fresh.append((sample, vector))
        return fresh, tuple(notes)

    def identify(self, image: ImageInput, rule: MatchRule | float) -> list[Recognition]:
        """Every face in the image with the nearest enrolled person, or Unknown unless `rule` accepts them.

        Anything wrong with this one image is a one-line BadInputError, so a caller looping over images goes on.
        """
        try:
            faces = self.faces(self.load(image))
        except FaceAppError:
            raise
        except Exception as exc:
            raise unexpected(image, exc) from exc
        if not faces:
            return []
        matches = self.snapshot().identify(np.stack([f.embedding for f in faces]), rule)
        return [Recognition(f, m) for f, m in zip(faces, matches, strict=True)]

    def verify(self, image: ImageInput, name: str, threshold: float) -> tuple[Recognition, str | None]:
        """1:1: is the (largest) face in `image` the enrolled person `name`?"""
        person = self.person(name)
        _, face, note = self.one_face(image, "verify")
        return Recognition(face, self.snapshot().verify(face.embedding, person.id, threshold)), note

    def compare(self, first: ImageInput, second: ImageInput) -> tuple[float, list[str]]:
        """d between the largest faces of two images, with notes when a photo had several faces."""
        from faceapp.core.distance import distance

        _, a, note_a = self.one_face(first, "compare")
        _, b, note_b = self.one_face(second, "compare")
        return distance(a.embedding, b.embedding), [n for n in (note_a, note_b) if n]

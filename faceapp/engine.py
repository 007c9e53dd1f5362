"""The recognition service the command line and the GUI share: a gallery, a detector, and the gallery's model."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceapp.core import weights
from faceapp.core.align import sample_crop
from faceapp.core.analyzer import FaceAnalyzer
from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.embedders.base import Embedder, create_embedder, model_info
from faceapp.core.image_io import load_image, to_rgb
from faceapp.core.matching import GallerySnapshot
from faceapp.core.types import Detection, Face, FaceSample, Match, MatchRule, Person
from faceapp.errors import BadInputError, ModelError, MultipleFacesError, NoFaceError, UnknownPersonError
from faceapp.storage.names import normalize_name
from faceapp.storage.repository import GalleryRepository

ImageInput = str | Path | np.ndarray
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class EnrollResult:
    """What an enrollment did: the person, how many samples were added, and notes for the user."""

    person: Person
    added: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recognition:
    """One face found in an image and its match in the gallery."""

    face: Face
    match: Match


@dataclass
class _Cache:
    snapshot: GallerySnapshot | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


# For new galleries, best measured first (docs/benchmarks.md); FaceNet is not measurable here (no weights offline).
DEFAULT_MODELS = ("dlib+sface", "facenet-vggface2", "dlib-resnet")


def default_model() -> str:
    """The first of DEFAULT_MODELS whose weights are on this machine; existing galleries keep their own model."""
    return next((m for m in DEFAULT_MODELS if weights.is_available(m)), DEFAULT_MODELS[-1])


class Engine:
    """Enroll, identify and verify against one gallery. Database writes happen on the caller's thread."""

    def __init__(
        self,
        repo: GalleryRepository,
        model: str | None = None,
        detector: Detector | None = None,
        embedder_factory: Callable[[str], Embedder] = create_embedder,
    ) -> None:
        self.repo = repo
        self.notes: list[str] = []
        self._factory = embedder_factory
        self.detector = detector or Detector(DetectorConfig())
        self._embedder: Embedder | None = None
        self._cache = _Cache()
        # Enrollments and model switches may run on background threads: one at a time, so an enrollment never
        # stores one model's vectors under another model's name, nor commits between a switch's list and its end.
        self._writing = threading.RLock()
        stored = repo.model
        if stored is None:
            chosen = model or default_model()
            model_info(chosen)
            if not weights.is_available(chosen) and embedder_factory is create_embedder:
                raise ModelError(weights.missing_message(chosen))  # before the gallery records a model it cannot use
            repo.set_model(chosen)
            self.notes.append(f"New gallery: using the {chosen} model.")
            stored = chosen
        self.model = stored

    @classmethod
    def open(cls, db_path: Path, model: str | None = None, **kwargs: object) -> Engine:
        """An engine on the gallery at `db_path` (created when absent)."""
        return cls(GalleryRepository(db_path), model, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        """Release the database."""
        self.repo.close()

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
        return model_info(self.model).default_threshold

    @property
    def default_margin(self) -> float:
        """The 1:K ambiguity margin for the gallery's model when the user has not set one."""
        return model_info(self.model).default_margin

    def switch_model(
        self, model: str, progress: ProgressFn | None = None, cancelled: Callable[[], bool] | None = None
    ) -> bool:
        """Re-embed every stored sample with `model` and make it the gallery's model; False when cancelled."""
        with self._writing:
            return self._switch_model(model, progress, cancelled)

    def _switch_model(self, model: str, progress: ProgressFn | None, cancelled: Callable[[], bool] | None) -> bool:
        model_info(model)
        embedder = self._factory(model)
        missing = self.repo.samples_missing(model)
        total = len(missing)
        for start in range(0, total, 16):
            if cancelled is not None and cancelled():
                return False
            chunk = missing[start : start + 16]
            embedded = self._embedded([s.sample for s in chunk], embedder)
            self.repo.store_embeddings(model, [(s.id, v) for s, (_, v) in zip(chunk, embedded, strict=True)])
            if progress is not None:
                progress(min(start + 16, total), total)
        self.repo.set_model(model)
        self.model = model
        self._embedder = embedder
        self.invalidate()
        return True

    # -- gallery ------------------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget the cached snapshot after the gallery changed."""
        with self._cache.lock:
            self._cache.snapshot = None

    def snapshot(self) -> GallerySnapshot:
        """An immutable view of every sample's embedding for the gallery's model, rebuilt after changes."""
        with self._cache.lock:
            if self._cache.snapshot is None:
                ids, names, vectors = self.repo.embeddings_for(self.model)
                scoring = model_info(self.model).scoring
                self._cache.snapshot = GallerySnapshot(self.model, ids, names, vectors, scoring)  # type: ignore[arg-type]
            return self._cache.snapshot

    def people(self) -> list[Person]:
        """Everyone enrolled, by name."""
        return self.repo.list_people()

    def person(self, name: str) -> Person:
        """The enrolled person called `name`, or UnknownPersonError."""
        found = self.repo.get_person(name)
        if found is None:  # names are unique regardless of case, so a case-insensitive match is unambiguous
            key = name.strip().casefold()
            found = next((p for p in self.repo.list_people() if p.name.casefold() == key), None)
        if found is None:
            raise UnknownPersonError(f"Nobody named {name!r} is enrolled.")
        return found

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
        """Each sample with its embedding, computed from the stored crop, as enrollment and re-embedding both do."""
        model = embedder or self.embedder
        return [(s, model.embed(s.image, [s.detection])[1][0]) for s in samples]

    def enroll(self, name: str, images: Sequence[ImageInput], largest: bool = True) -> EnrollResult:
        """Add a person (or samples to an existing one) from photos; unusable photos are skipped and reported."""
        normalize_name(name)  # a bad name fails before any model work
        with self._writing:
            return self._enroll(name, images, largest)

    def _enroll(self, name: str, images: Sequence[ImageInput], largest: bool) -> EnrollResult:
        samples: list[FaceSample] = []
        notes: list[str] = []
        for image in images:
            try:
                rgb, detection, note = self.one_detection(image, "enroll", largest)
            except BadInputError as exc:
                notes.append(f"skipped: {exc}")
                continue
            if note:
                notes.append(note)
            crop, moved = sample_crop(rgb, detection)
            samples.append(FaceSample(crop, moved, "" if isinstance(image, np.ndarray) else str(image)))
        if not samples:
            raise BadInputError("Nothing enrolled. " + ("; ".join(notes) if notes else "No images were given."))
        person = self.repo.enroll(name, self._embedded(samples), self.model)
        self.invalidate()
        return EnrollResult(person, len(samples), tuple(notes))

    def enroll_samples(self, name: str, samples: Sequence[FaceSample], wait: bool = True) -> EnrollResult:
        """Enroll faces already detected (the GUI's click-to-enroll): each embedded from its crop.

        With wait=False (the GUI thread) a gallery busy with a model switch or another enrollment is reported at once
        instead of blocking the caller.
        """
        if not self._writing.acquire(blocking=wait):
            raise BadInputError("The gallery is busy with a model change or an enrollment; save again in a moment.")
        try:
            person = self.repo.enroll(name, self._embedded(samples), self.model)
            self.invalidate()
            return EnrollResult(person, len(samples))
        finally:
            self._writing.release()

    def identify(self, image: ImageInput, rule: MatchRule | float) -> list[Recognition]:
        """Every face in the image with the nearest enrolled person, or Unknown unless `rule` accepts them."""
        faces = self.faces(self.load(image))
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

"""Portable gallery archives and copies between galleries: `faceapp gallery export / import / copy`.

An archive is a zip: `manifest.json` (format, version, model, and per person their samples: box, landmarks,
score, source, and the row of their vector in `embeddings.npy` when embeddings are included; since version 2 also
their "negatives", the corrections "this face is not them", in the same form) and one lossless PNG per face crop
under `crops/` (`negatives/` for the corrections). Version 1 archives (no negatives) are still read. Names are
stored as UTF-8 text, exactly as the gallery holds them. Reading goes through the engine, the gallery's only
writer: vectors of the same model are kept, others are re-embedded.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceapp.core.types import Detection, FaceSample
from faceapp.engine import Engine
from faceapp.errors import BadInputError, UnknownPersonError

FORMAT = "faceapp-gallery"
VERSION = 2  # the archive layout this faceapp writes and the newest it reads (2: per-person "negatives")
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # a crop larger than this is not from faceapp
# The manifest grows with the gallery (about 300 bytes a sample): it may be this much plus MANIFEST_BYTES_PER_MEMBER
# for each member the zip really holds (a crop each), so a large gallery's archive imports and a small zip cannot
# declare a huge manifest.
MAX_MANIFEST_BASE = 64 * 1024 * 1024
MANIFEST_BYTES_PER_MEMBER = 4096
MAX_DIM = 4096  # the widest embedding an archive may hold; embeddings.npy is read by its header's shape
MAX_CROP_PIXELS = 4_000_000  # faceapp stores crops of at most 400 pixels a side (core.align.sample_crop)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, or None when `data` is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@dataclass(frozen=True)
class PersonRecord:
    """One person as moved between galleries: their name, samples and corrections, each with its vector or None."""

    name: str
    samples: list[tuple[FaceSample, np.ndarray | None]]
    negatives: list[tuple[FaceSample, np.ndarray | None]] = field(default_factory=list)


def people_of(engine: Engine, embeddings: bool = True) -> Iterator[PersonRecord]:
    """Everyone in the engine's gallery, one person at a time (with vectors of its model when `embeddings`)."""
    for person in engine.people():
        vectors = engine.sample_embeddings(person.id) if embeddings else {}
        stored = engine.samples_of(person.id)
        negative_vectors = engine.negative_embeddings(person.id) if embeddings else {}
        negatives = [(n.sample, negative_vectors.get(n.id)) for n in engine.negatives_of(person.id)]
        yield PersonRecord(person.name, [(s.sample, vectors.get(s.id)) for s in stored], negatives)


@dataclass(frozen=True)
class Moved:
    """What an export, import or copy moved: people, samples and corrections; for an import or copy also the people
    it skipped, one line each saying why."""

    people: int
    samples: int
    corrections: int = 0
    skipped: tuple[str, ...] = ()


def load_into(engine: Engine, records: Iterator[PersonRecord], model: str | None) -> Moved:
    """Add every record to the engine's gallery (their vectors are `model`'s); returns what was added.

    Samples and corrections a person has already (the same face, engine.REPEAT_D) are not added again, so importing
    or copying the same gallery twice adds nothing the second time. A person with corrections but no samples is
    added with their corrections; a new person with neither is skipped, and said so in `skipped`.
    """
    people = samples = corrections = 0
    skipped: list[str] = []
    for record in records:
        if not record.samples and not record.negatives:
            try:
                engine.person(record.name)
            except UnknownPersonError:
                skipped.append(f"{record.name!r} was not added: no samples and no corrections to bring")
            continue
        result = engine.import_samples(record.name, record.samples, model, record.negatives)
        if result.added or result.corrections:
            people += 1
            samples, corrections = samples + result.added, corrections + result.corrections
    return Moved(people, samples, corrections, tuple(skipped))


def export(engine: Engine, path: Path, embeddings: bool = True) -> Moved:
    """Write the engine's gallery (everyone, also a person with only corrections or nothing) to the archive `path`
    (replaced only once complete); returns what it holds."""
    people: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []
    partial = path.with_name(path.name + ".partial")
    count = corrections = 0
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
            for record in people_of(engine, embeddings):
                entries = []
                for sample, vector in record.samples:
                    entries.append(_write_crop(archive, f"crops/{count:07d}.png", record.name, sample, vector, vectors))
                    count += 1
                negatives = []
                for k, (sample, vector) in enumerate(record.negatives):
                    crop = f"negatives/{len(people):07d}-{k:04d}.png"
                    negatives.append(_write_crop(archive, crop, record.name, sample, vector, vectors))
                    corrections += 1
                people.append({"name": record.name, "samples": entries, "negatives": negatives})
            if vectors:
                buffer = io.BytesIO()
                np.save(buffer, np.stack(vectors).astype("<f4"), allow_pickle=False)
                archive.writestr("embeddings.npy", buffer.getvalue())
            manifest = {"format": FORMAT, "version": VERSION, "model": engine.model, "people": people}
            archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise BadInputError(f"Cannot write the archive {path} ({error.strerror or error}).") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Moved(len(people), count, corrections)


def _write_crop(
    archive: zipfile.ZipFile,
    crop: str,
    name: str,
    sample: FaceSample,
    vector: np.ndarray | None,
    vectors: list[np.ndarray],
) -> dict[str, Any]:
    """Write one face crop as PNG and return its manifest entry (its vector appended to `vectors`)."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise BadInputError(f"A face crop of {name} cannot be encoded as PNG.")
    archive.writestr(crop, png.tobytes())
    det = sample.detection
    entry = {
        "image": crop,
        "box": [float(v) for v in det.box],
        "landmarks": np.asarray(det.landmarks, np.float64).reshape(5, 2).tolist(),
        "score": float(det.score),
        "source": sample.source,
        "embedding": None if vector is None else len(vectors),
    }
    if vector is not None:
        vectors.append(np.asarray(vector, np.float32))
    return entry


class Archive:
    """An archive opened for reading: its model and its people; BadInputError for anything not a faceapp archive."""

    def __init__(self, path: Path) -> None:
        """Open and check `path`; a newer archive version is refused with a message."""
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile, ValueError) as error:
            raise BadInputError(f"{path} is not a faceapp gallery archive ({error}).") from None
        manifest = self._json("manifest.json")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            self.close()
            raise BadInputError(f"{path} is not a faceapp gallery archive (no faceapp manifest).")
        version = manifest.get("version")
        if not isinstance(version, int) or version > VERSION:
            self.close()
            raise BadInputError(
                f"{path} was written by a newer faceapp (archive version {version}, this one reads up to {VERSION});"
                " update faceapp to import it."
            )
        self.model: str | None = manifest.get("model") if isinstance(manifest.get("model"), str) else None
        people = manifest.get("people")
        if not isinstance(people, list):
            self.close()
            raise BadInputError(f"{path} is damaged (its manifest lists no people).")
        self._people: list[Any] = people
        self._vectors: np.ndarray | None = None

    def close(self) -> None:
        """Close the file."""
        self._zip.close()

    def _read(self, name: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
        try:
            info = self._zip.getinfo(name)
            if info.file_size > limit:
                raise BadInputError(f"{self.path} is damaged ({name} is {info.file_size} bytes).")
            return self._zip.read(info)
        except (KeyError, zipfile.BadZipFile, OSError, ValueError) as error:
            raise BadInputError(f"{self.path} is damaged ({name}: {error}).") from None

    def _json(self, name: str) -> Any:
        def refuse(constant: str) -> Any:
            raise ValueError(f"{constant} is not a number faceapp writes")

        try:
            limit = MAX_MANIFEST_BASE + MANIFEST_BYTES_PER_MEMBER * len(self._zip.infolist())
            return json.loads(self._read(name, limit).decode("utf-8"), parse_constant=refuse)
        except (UnicodeDecodeError, ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
            raise BadInputError(f"{self.path} is damaged ({name}: {str(error)[:120]}).") from None

    def _vector(self, row: object) -> np.ndarray | None:
        if row is None:
            return None
        if self._vectors is None:
            self._vectors = self._read_vectors()
        if not isinstance(row, int) or not 0 <= row < len(self._vectors):
            raise BadInputError(f"{self.path} is damaged (an embedding row {row!r} is out of range).")
        return np.asarray(self._vectors[row], np.float32)

    def _read_vectors(self) -> np.ndarray:
        """embeddings.npy: float32 rows, no more than the archive has crops, each at most MAX_DIM wide, and exactly
        as many bytes as its header says (so its size is bounded by what the zip really holds, not a fixed limit)."""
        name = "embeddings.npy"
        try:
            info = self._zip.getinfo(name)
            with self._zip.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(stream)
                header = stream.tell()
                rows, cols = shape if len(shape) == 2 else (-1, -1)
                if fortran or dtype != np.dtype("<f4") or not (0 <= rows <= len(self._zip.infolist())):
                    raise ValueError(f"not the float32 rows faceapp writes ({dtype}, shape {shape})")
                if not 0 < cols <= MAX_DIM or info.file_size != header + rows * cols * 4:
                    raise ValueError(f"shape {shape} does not fit its {info.file_size} bytes")
                data = stream.read(rows * cols * 4)
            return np.frombuffer(data, "<f4").reshape(rows, cols)
        except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise BadInputError(f"{self.path} is damaged ({name}: {str(error)[:160]}).") from None

    def _sample(self, entry: dict[str, Any]) -> tuple[FaceSample, np.ndarray | None]:
        data = self._read(str(entry["image"]))
        size = png_size(data)  # only PNG crops, of a crop's size, are decoded (never what the name claims)
        if size is None or size[0] * size[1] > MAX_CROP_PIXELS:
            what = "not a PNG image" if size is None else f"{size[0]}x{size[1]} pixels, more than a face crop"
            raise BadInputError(f"{self.path} is damaged ({entry['image']} is {what}).")
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise BadInputError(f"{self.path} is damaged ({entry['image']} is not an image).")
        box = tuple(float(v) for v in entry["box"])
        landmarks = np.asarray(entry["landmarks"], np.float64).reshape(5, 2)
        if not (np.isfinite(box).all() and np.isfinite(landmarks).all() and np.isfinite(float(entry["score"]))):
            raise BadInputError(f"{self.path} is damaged ({entry['image']}: a box or landmark is not finite).")
        detection = Detection(box, float(entry["score"]), landmarks)  # type: ignore[arg-type]
        sample = FaceSample(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), detection, str(entry.get("source", "")))
        return sample, self._vector(entry.get("embedding"))

    def people(self) -> Iterator[PersonRecord]:
        """The archive's people, one at a time (crops decoded as they are read)."""
        for person in self._people:
            try:
                name = person["name"]
                samples = [self._sample(entry) for entry in person["samples"]]
                negatives = [self._sample(entry) for entry in person.get("negatives") or []]  # version 1: none
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise BadInputError(f"{self.path} is damaged (a person's entry: {error!r}).") from None
            if not isinstance(name, str):
                raise BadInputError(f"{self.path} is damaged (a name is not text).")
            yield PersonRecord(name, samples, negatives)


def import_archive(engine: Engine, path: Path) -> Moved:
    """Read the archive `path` into the engine's gallery; returns what was added (and who was skipped, why)."""
    archive = Archive(path)
    try:
        return load_into(engine, archive.people(), archive.model)
    finally:
        archive.close()


def archive_model(path: Path) -> str | None:
    """The model an archive's vectors belong to (None when it names none); BadInputError when unreadable."""
    archive = Archive(path)
    archive.close()
    return archive.model

"""Recognition on real faces with the real dlib-resnet weights (skipped without ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceapp.core.detect import Detector
from faceapp.core.distance import distance
from faceapp.core.embedders.base import Embedder
from faceapp.core.image_io import load_image
from faceapp.engine import Engine
from faceapp.storage.repository import GalleryRepository

# facenet_pytorch's angelina_jolie is deepface_unit's id01, so she is no stranger.
STRANGERS = ("paul_rudd", "shea_whigham")
# dlib-resnet puts Kate Siegel 0.14-0.17 from every photo of Angelina Jolie (id01), inside the LFW-calibrated
# default tau 0.178: a false accept we measure and report rather than hide. The FAR 0.1% tau (0.150) rejects her.
LOOKALIKE = "kate_siegel"


def people(shared: Path) -> dict[str, list[Path]]:
    """Every person of the two photo sets with their photos, sorted."""
    found = {}
    for root in ("deepface_unit", "face_recognition_examples"):
        for folder in sorted((shared / "photos" / root).iterdir()):
            if folder.is_dir() and not folder.name.startswith("_"):
                found[f"{root}/{folder.name}"] = sorted(folder.iterdir())
    return found


@pytest.fixture(scope="module")
def engine(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory, detector: Detector, dlib_embedder: Embedder
) -> Engine:
    repo = GalleryRepository(tmp_path_factory.mktemp("real") / "g.sqlite3")
    engine = Engine(repo, "dlib-resnet", detector=detector, embedder_factory=lambda name: dlib_embedder)
    for name, photos in people(shared_data).items():
        engine.enroll(name, [photos[0]])
    return engine


def test_every_other_photo_of_an_enrolled_person_is_named(engine: Engine, shared_data: Path) -> None:
    tau = engine.default_threshold
    wrong = []
    total = 0
    for name, photos in people(shared_data).items():
        for photo in photos[1:]:
            found = engine.identify(photo, tau)
            total += 1
            label = found[0].match.label if found else "(no face)"
            if label != name:
                wrong.append(f"{photo.name}: {label} d={found[0].match.distance:.3f}" if found else photo.name)
    assert total > 50
    assert wrong == []


def test_people_never_enrolled_are_unknown(engine: Engine, shared_data: Path) -> None:
    tau = engine.default_threshold
    for stranger in STRANGERS:
        found = engine.identify(shared_data / "photos/facenet_pytorch" / stranger / "1.jpg", tau)
        assert len(found) == 1
        assert found[0].match.label == "Unknown", f"{stranger} taken for {found[0].match.name}"


@pytest.mark.xfail(strict=True, reason="dlib-resnet: Kate Siegel is within tau 0.178 of Angelina Jolie (id01)")
def test_a_lookalike_stranger_is_unknown_at_the_default_threshold(engine: Engine, shared_data: Path) -> None:
    found = engine.identify(shared_data / "photos/facenet_pytorch" / LOOKALIKE / "1.jpg", engine.default_threshold)
    assert found[0].match.label == "Unknown", f"taken for {found[0].match.name} at d={found[0].match.distance:.3f}"


def test_the_lookalike_is_rejected_at_the_far_01_threshold(engine: Engine, shared_data: Path) -> None:
    found = engine.identify(shared_data / "photos/facenet_pytorch" / LOOKALIKE / "1.jpg", 0.150)
    assert found[0].match.label == "Unknown"
    assert found[0].match.name == "deepface_unit/id01"  # the nearest is the lookalike, just beyond tau


def test_lfw_fold_one_verification(shared_data: Path, detector: Detector, dlib_embedder: Embedder) -> None:
    """100 pairs of LFW fold 1 (50 same, 50 different) at the model's default threshold: >= 95% correct."""
    from faceapp.core.catalog import spec as model_spec

    lines = (shared_data / "lfw" / "pairs.txt").read_text().splitlines()[1:601]
    pairs = lines[:50] + lines[300:350]
    tau = model_spec("dlib-resnet").default_threshold

    def embed(name: str, index: str) -> np.ndarray:
        image = load_image(shared_data / "lfw" / name / f"{name}_{int(index):04d}.jpg")
        faces = detector.detect(image)
        assert faces, f"no face in {name} {index}"
        centre = np.array(image.shape[1::-1]) / 2
        nearest = min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - centre))
        return dlib_embedder.embed(image, [nearest])[1][0]

    correct = 0
    for line in pairs:
        parts = line.split("\t")
        if len(parts) == 3:
            same, a, b = True, embed(parts[0], parts[1]), embed(parts[0], parts[2])
        else:
            same, a, b = False, embed(parts[0], parts[1]), embed(parts[2], parts[3])
        correct += (distance(a, b) <= tau) == same
    assert correct >= 95

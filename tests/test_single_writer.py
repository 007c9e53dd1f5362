"""The engine is the gallery's only writer: its verbs take the write lock, invalidate once and announce the change."""

from __future__ import annotations

from pathlib import Path

import pytest

import faceapp.storage.repository
from faceapp.cli import main
from faceapp.engine import Engine, GalleryChange
from faceapp.errors import UnknownPersonError
from faceapp.storage.repository import GalleryRepository
from tests.fakes import FakeDetector, FakeEmbedder
from tests.spies import SpyRepository
from tests.test_engine import FACE, face_image


def spied_engine(tmp_path: Path, embedder: FakeEmbedder | None = None) -> tuple[Engine, SpyRepository]:
    repo = SpyRepository(tmp_path / "g.sqlite3")
    fake = embedder or FakeEmbedder()
    engine = Engine(repo, "dlib-resnet", detector=FakeDetector([FACE]), embedder_factory=lambda name: fake)  # type: ignore[arg-type]
    return engine, repo


def test_every_verb_announces_one_change_and_drops_the_snapshot(tmp_path: Path) -> None:
    engine, repo = spied_engine(tmp_path)
    seen: list[GalleryChange] = []
    unsubscribe = engine.subscribe(seen.append)
    ada = engine.enroll("Ada", [face_image(1), face_image(2)]).person
    assert seen == [GalleryChange.PEOPLE]
    assert engine.snapshot().sample_count == 2
    assert engine.rename("ada", "Ada Lovelace").name == "Ada Lovelace"  # one case-insensitive lookup
    assert engine.snapshot().names[ada.id] == "Ada Lovelace"  # the cached snapshot was dropped
    first = engine.samples_of(ada.id)[0]
    assert engine.thumbnail(ada.id) is not None
    engine.remove_sample(first.id)
    assert engine.snapshot().sample_count == 1
    assert engine.remove_person("ADA LOVELACE") == 1
    assert engine.snapshot().sample_count == 0
    assert seen == [GalleryChange.PEOPLE] * 4
    unsubscribe()
    engine.enroll("Bob", [face_image(3)])
    assert len(seen) == 4
    assert {caller for _, caller, _ in repo.writes} == {"faceapp.engine"}
    engine.close()


def test_person_is_found_regardless_of_case_or_reported(tmp_path: Path) -> None:
    engine, _ = spied_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    assert engine.person("ADA").name == "Ada"
    with pytest.raises(UnknownPersonError):
        engine.person("Nobody")
    engine.close()


def test_enrollment_embeds_its_chips_in_batches(tmp_path: Path) -> None:
    fake = FakeEmbedder()
    engine, _ = spied_engine(tmp_path, fake)
    engine.enroll("Ada", [face_image(i) for i in range(20)])
    assert fake.calls == 2  # 16 + 4, not 20 single-chip calls
    engine.close()


def test_people_commands_write_through_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "g.sqlite3"
    engine, _ = spied_engine(tmp_path)
    engine.enroll("Ada", [face_image(1)])
    engine.close()
    spies: list[SpyRepository] = []

    def spy(*args: object, **kwargs: object) -> SpyRepository:
        spies.append(SpyRepository(*args, **kwargs))  # type: ignore[arg-type]
        return spies[-1]

    monkeypatch.setattr(faceapp.storage.repository, "GalleryRepository", spy)
    assert main(["--db", str(db), "people", "rename", "ada", "Ada L"]) == 0
    assert main(["--db", str(db), "people", "list"]) == 0
    assert main(["--db", str(db), "people", "remove", "Ada L"]) == 0
    writes = [w for s in spies for w in s.writes]
    assert [name for name, _, _ in writes] == ["rename_person", "remove_person"]
    assert {caller for _, caller, _ in writes} == {"faceapp.engine"}


def test_people_list_on_a_new_gallery_records_no_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "new.sqlite3"
    assert main(["--db", str(db), "people", "list"]) == 2  # a read-only command creates no gallery
    assert not db.exists()
    GalleryRepository(db).close()  # an empty gallery, as `enroll` would start one, before any model is chosen
    capsys.readouterr()
    assert main(["--db", str(db), "people", "list"]) == 0
    assert "model (none yet)" in capsys.readouterr().err
    assert main(["--db", str(db), "people", "list"]) == 0
    assert "model (none yet)" in capsys.readouterr().err


def test_identify_on_a_gallery_without_a_model_records_none(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite3"
    GalleryRepository(db).close()
    photo = tmp_path / "face.png"
    from PIL import Image

    Image.fromarray(face_image(1)).save(photo)
    main(["--db", str(db), "identify", str(photo)])
    with GalleryRepository(db, create=False) as repo:
        assert repo.model is None  # identify is read-only

"""Corrections through the engine, the archive and the CLI: "not X" is recorded, embedded with the gallery's model,
re-embedded on a model switch, moved by export / import / copy, and removed with the person."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceapp import archive
from faceapp.cli import main
from faceapp.engine import Engine, GalleryChange
from faceapp.errors import BadInputError
from tests.storage.storage_fakes import count_rows
from tests.test_engine import FACE, face_image
from tests.test_stations import station

TAU = 0.6


def blend(a: int, b: int, weight: float) -> np.ndarray:
    """face_image(a) with `weight` of face_image(b) mixed into the face: a look-alike of `a`."""
    mixed = (1 - weight) * face_image(a).astype(np.float32) + weight * face_image(b).astype(np.float32)
    return mixed.round().astype(np.uint8)


STRANGER = blend(1, 2, 0.35)  # not Ada, but near her
STRANGER_AGAIN = blend(1, 2, 0.4)  # another photo of the stranger
ADA_AGAIN = blend(1, 3, 0.1)  # Ada herself


def crop_sample(engine: Engine, image: np.ndarray) -> object:
    from faceapp.core.align import sample_crop
    from faceapp.core.types import FaceSample

    crop, moved = sample_crop(image, FACE)
    return FaceSample(crop, moved, "frame")


def labels(engine: Engine, *images: np.ndarray) -> list[str]:
    return [engine.identify(image, TAU)[0].match.label for image in images]


def test_not_ada_refuses_her_for_that_face_and_its_look_alikes_but_keeps_ada(tmp_path: Path) -> None:
    engine = station(tmp_path / "g.sqlite3")
    ada = engine.enroll("Ada", [face_image(1)]).person
    engine.enroll("Bob", [face_image(5)])
    assert labels(engine, STRANGER, STRANGER_AGAIN, ADA_AGAIN) == ["Ada", "Ada", "Ada"]  # the stranger is named
    seen: list[GalleryChange] = []
    engine.subscribe(seen.append)

    negative = engine.add_negative("Ada", crop_sample(engine, STRANGER))  # type: ignore[arg-type]
    assert seen == [GalleryChange.PEOPLE]  # announced: the live view reloads its snapshot
    assert engine.snapshot().negative_count == 1
    assert labels(engine, STRANGER, STRANGER_AGAIN, ADA_AGAIN) == ["Unknown", "Unknown", "Ada"]
    assert [n.id for n in engine.negatives_of(ada.id)] == [negative]
    recognition, _ = engine.verify(STRANGER_AGAIN, "Ada", TAU)
    assert not recognition.match.accepted
    assert recognition.match.refused

    engine.remove_negative(negative)
    assert labels(engine, STRANGER, STRANGER_AGAIN) == ["Ada", "Ada"]
    assert engine.negatives_of(ada.id) == []
    engine.close()


def test_a_model_switch_reembeds_the_negatives_and_keeps_refusing(tmp_path: Path) -> None:
    engine = station(tmp_path / "g.sqlite3")
    ada = engine.enroll("Ada", [face_image(1)]).person
    engine.add_negative(ada.id, crop_sample(engine, STRANGER))  # type: ignore[arg-type]
    assert engine.switch_model("facenet-casia")
    assert set(engine.negative_embeddings(ada.id)) == {n.id for n in engine.negatives_of(ada.id)}
    assert engine.snapshot().negative_count == 1
    assert labels(engine, STRANGER_AGAIN, ADA_AGAIN) == ["Unknown", "Ada"]
    assert engine.integrity_problems() == []
    engine.close()


def test_removing_a_person_removes_their_corrections(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    engine = station(db)
    ada = engine.enroll("Ada", [face_image(1)]).person
    engine.add_negative(ada.id, crop_sample(engine, STRANGER))  # type: ignore[arg-type]
    assert count_rows(db, "negatives") == count_rows(db, "negative_embeddings") == 1
    engine.remove_person("Ada")
    assert count_rows(db, "negatives") == count_rows(db, "negative_embeddings") == 0
    engine.close()


def test_a_wrong_sample_remembered_as_not_her_keeps_the_stranger_from_being_named_again(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    engine = station(db)
    ada = engine.enroll("Ada", [face_image(1), STRANGER]).person  # the stranger added to Ada by mistake
    plain = engine.enroll("Eve", [face_image(7), STRANGER]).person  # the same mistake, only removed
    wrong_ada, wrong_eve = engine.samples_of(ada.id)[1], engine.samples_of(plain.id)[1]
    vector = engine.sample_embeddings(ada.id)[wrong_ada.id]

    assert engine.forget_sample(wrong_eve.id, "Eve") is None
    assert engine.negatives_of(plain.id) == []
    negative = engine.forget_sample(wrong_ada.id, "Ada", remember_as_not=True)
    assert [s.id for s in engine.samples_of(ada.id)] == [engine.samples_of(ada.id)[0].id]
    [stored] = engine.negatives_of(ada.id)
    assert stored.id == negative
    np.testing.assert_array_equal(stored.sample.image, wrong_ada.sample.image)
    np.testing.assert_array_equal(engine.negative_embeddings(ada.id)[stored.id], vector)
    recognition, _ = engine.verify(STRANGER_AGAIN, "Ada", TAU)
    assert recognition.match.refused  # not Ada: the remembered face refuses her for its look-alikes
    assert labels(engine, STRANGER_AGAIN, ADA_AGAIN) == ["Unknown", "Ada"]

    engine.remove_person("Ada")  # deleting the person deletes what was remembered about them
    assert count_rows(db, "negatives") == count_rows(db, "negative_embeddings") == 0
    engine.close()


def _corrected(path: Path) -> Engine:
    engine = station(path)
    engine.enroll("Ada", [face_image(1), face_image(11)])
    engine.add_negative("Ada", crop_sample(engine, STRANGER))  # type: ignore[arg-type]
    engine.enroll("Bob", [face_image(5)])
    return engine


def test_export_import_and_copy_carry_the_corrections(tmp_path: Path) -> None:
    source = _corrected(tmp_path / "source.sqlite3")
    file = tmp_path / "b.zip"
    assert archive.export(source, file) == archive.Moved(2, 3, 1)
    restored = station(tmp_path / "restored.sqlite3")
    assert archive.import_archive(restored, file) == archive.Moved(2, 3, 1)
    ada = restored.person("Ada")
    [negative] = restored.negatives_of(ada.id)
    [original] = source.negatives_of(source.person("Ada").id)
    np.testing.assert_array_equal(negative.sample.image, original.sample.image)
    np.testing.assert_array_equal(
        restored.negative_embeddings(ada.id)[negative.id], source.negative_embeddings(original.person_id)[original.id]
    )
    assert labels(restored, STRANGER_AGAIN, ADA_AGAIN) == ["Unknown", "Ada"]

    other = station(tmp_path / "other.sqlite3")
    other.switch_model("facenet-casia")
    archive.load_into(other, archive.people_of(source), source.model)  # a copy into another model: re-embedded
    assert len(other.negative_embeddings(other.person("Ada").id)) == 1
    assert labels(other, STRANGER_AGAIN, ADA_AGAIN) == ["Unknown", "Ada"]
    for engine in (source, restored, other):
        engine.close()


def test_a_person_with_only_corrections_survives_export_and_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _corrected(tmp_path / "source.sqlite3")
    ada = source.person("Ada")
    for sample in source.samples_of(ada.id):  # every sample was wrong: all remembered as not Ada
        source.forget_sample(sample.id, ada.id, remember_as_not=True)
    assert source.person("Ada").sample_count == 0
    assert len(source.negatives_of(ada.id)) == 3
    file = tmp_path / "b.zip"
    assert archive.export(source, file) == archive.Moved(2, 1, 3)

    restored = station(tmp_path / "restored.sqlite3")
    assert archive.import_archive(restored, file) == archive.Moved(2, 1, 3)
    kept = restored.person("Ada")
    assert kept.sample_count == 0
    assert len(restored.negatives_of(kept.id)) == 3
    assert restored.integrity_problems() == []
    restored.close()

    db = tmp_path / "cli.sqlite3"
    station(db).close()
    assert main(["--db", str(db), "gallery", "import", str(file)]) == 0
    assert "Imported 2 people with 1 new sample(s) and 3 new correction(s)" in capsys.readouterr().out
    source.close()


def test_an_import_that_adds_only_corrections_counts_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _corrected(tmp_path / "source.sqlite3")
    first, later = tmp_path / "first.zip", tmp_path / "later.zip"
    archive.export(source, first)
    target = tmp_path / "target.sqlite3"
    restored = station(target)
    assert archive.import_archive(restored, first) == archive.Moved(2, 3, 1)
    source.add_negative("Bob", crop_sample(source, STRANGER))  # type: ignore[arg-type]
    archive.export(source, later)

    assert archive.import_archive(restored, later) == archive.Moved(1, 0, 1)  # Bob's new correction, nothing else
    assert len(restored.negatives_of(restored.person("Bob").id)) == 1
    assert archive.import_archive(restored, later) == archive.Moved(0, 0, 0)  # the same again: nothing
    restored.close()
    assert main(["--db", str(target), "gallery", "import", str(later)]) == 0
    assert "Imported 0 people with 0 new sample(s) and 0 new correction(s)" in capsys.readouterr().out
    source.close()


def test_an_archive_person_with_nothing_is_skipped_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _corrected(tmp_path / "source.sqlite3")
    bob = source.person("Bob")
    source.forget_sample(source.samples_of(bob.id)[0].id, bob.id)  # Bob keeps no sample and no correction
    file = tmp_path / "b.zip"
    assert archive.export(source, file) == archive.Moved(2, 2, 1)
    source.close()
    db = tmp_path / "target.sqlite3"
    station(db).close()
    assert main(["--db", str(db), "gallery", "import", str(file)]) == 0
    captured = capsys.readouterr()
    assert "note: 'Bob' was not added: no samples and no corrections to bring" in captured.err
    assert "Imported 1 people with 2 new sample(s) and 1 new correction(s)" in captured.out


def test_a_first_version_archive_without_negatives_still_imports(tmp_path: Path) -> None:
    source = _corrected(tmp_path / "source.sqlite3")
    file, old = tmp_path / "b.zip", tmp_path / "v1.zip"
    archive.export(source, file)
    with zipfile.ZipFile(file) as new, zipfile.ZipFile(old, "w") as v1:
        for item in new.infolist():
            data = new.read(item)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["version"] = 1
                for person in manifest["people"]:
                    del person["negatives"]
                data = json.dumps(manifest).encode()
            if not item.filename.startswith("negatives/"):
                v1.writestr(item, data)
    restored = station(tmp_path / "restored.sqlite3")
    assert archive.import_archive(restored, old) == archive.Moved(2, 3)
    assert restored.negatives_of(restored.person("Ada").id) == []
    assert labels(restored, STRANGER_AGAIN) == ["Ada"]
    source.close()
    restored.close()


def test_the_cli_records_lists_and_removes_corrections_and_forgets_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "g.sqlite3"
    engine = station(db)
    ada = engine.enroll("Ada", [face_image(1), face_image(11)]).person
    engine.close()
    import faceapp.cli

    monkeypatch.setattr(faceapp.cli, "open_engine", lambda args, **kw: station(db))
    photo = tmp_path / "stranger.png"
    cv2.imwrite(str(photo), cv2.cvtColor(STRANGER, cv2.COLOR_RGB2BGR))

    assert main(["--db", str(db), "people", "not", "ada", str(photo)]) == 0
    out = capsys.readouterr().out
    assert "Recorded" in out
    assert "not 'Ada'" in out
    again = tmp_path / "stranger-again.png"
    cv2.imwrite(str(again), cv2.cvtColor(STRANGER_AGAIN, cv2.COLOR_RGB2BGR))
    assert main(["--db", str(db), "identify", "--json", "--threshold", str(TAU), str(again)]) == 1
    [face] = json.loads(capsys.readouterr().out)["results"][0]["faces"]
    assert face["name"] == "Unknown"
    assert face["refused"] is True
    assert main(["--db", str(db), "verify", str(again), "--as", "Ada", "--threshold", str(TAU)]) == 1
    verdict = capsys.readouterr()
    assert verdict.out.startswith("REJECT")
    assert "nearer to a correction of 'Ada'" in verdict.err
    assert main(["--db", str(db), "people", "negatives", "Ada"]) == 0
    listed = capsys.readouterr().out
    negative_id = int(listed.split()[0])
    assert str(photo) in listed
    assert main(["--db", str(db), "people", "show", "Ada"]) == 0
    shown = capsys.readouterr().out
    samples = station(db).samples_of(ada.id)
    assert all(f"sample {s.id}" in shown for s in samples)
    assert "1 correction" in shown

    assert main(["--db", str(db), "people", "remove-negative", "Ada", str(negative_id)]) == 0
    assert main(["--db", str(db), "people", "remove-negative", "Ada", str(negative_id)]) == 2
    assert "Ada has no correction with id" in capsys.readouterr().err
    assert main(["--db", str(db), "people", "forget-sample", "Ada", str(samples[0].id)]) == 0
    assert main(["--db", str(db), "people", "forget-sample", "Bob", str(samples[1].id)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Bob" in err
    with pytest.raises(SystemExit):  # argparse: the usage and one line naming the bad id
        main(["--db", str(db), "people", "forget-sample", "Ada", "x1"])
    assert "'x1' is not an id" in capsys.readouterr().err
    assert main(["--db", str(db), "people", "not", "Ada", str(tmp_path / "missing.jpg")]) == 2
    assert "missing.jpg" in capsys.readouterr().err
    assert [s.id for s in station(db).samples_of(ada.id)] == [samples[1].id]


def test_the_cli_forgets_a_sample_and_remembers_it_as_not_the_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "g.sqlite3"
    engine = station(db)
    ada = engine.enroll("Ada", [face_image(1), STRANGER]).person
    wrong = engine.samples_of(ada.id)[1]
    engine.close()

    assert main(["--db", str(db), "people", "forget-sample", "ada", str(wrong.id), "--remember-as-not"]) == 0
    out = capsys.readouterr().out
    engine = station(db)
    [negative] = engine.negatives_of(ada.id)
    assert out.strip() == (
        f"Removed sample {wrong.id} of 'Ada' and recorded it as correction {negative.id}: that face is not 'Ada'."
    )
    assert [s.id for s in engine.samples_of(ada.id)] != [wrong.id]
    assert len(engine.samples_of(ada.id)) == 1
    assert engine.verify(STRANGER_AGAIN, "Ada", TAU)[0].match.refused
    engine.close()
    assert main(["--db", str(db), "people", "negatives", "Ada"]) == 0
    assert capsys.readouterr().out.startswith(f"{negative.id}\t")
    assert main(["--db", str(db), "people", "remove", "Ada"]) == 0
    assert "their corrections" in capsys.readouterr().out
    assert count_rows(db, "negatives") == count_rows(db, "negative_embeddings") == 0


def test_a_correction_needs_an_enrolled_person(tmp_path: Path) -> None:
    engine = station(tmp_path / "g.sqlite3")
    engine.enroll("Ada", [face_image(1)])
    with pytest.raises(BadInputError, match="Nobody"):
        engine.add_negative_from_image("Nobody", STRANGER)
    engine.close()

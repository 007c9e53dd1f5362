"""Gallery archives and copies: export -> import gives the same people, samples and answers; newer archives are
refused; a gallery of another model re-embeds the crops; copies move galleries between SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from faceapp import archive
from faceapp.engine import Engine
from faceapp.errors import BadInputError
from tests.test_engine import face_image
from tests.test_stations import station

MAX_DIM_PLUS = archive.MAX_DIM + 1
NAMES = ["Zoë Ångström", "李小龍", "O'Brien", "مریم"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """An empty gallery to import into."""
    if request.param == "sqlite":
        return tmp_path / "restored.sqlite3"
    return str(request.getfixturevalue("pg_url"))


def _filled(path: Path) -> Engine:
    engine = station(path)
    for i, name in enumerate(NAMES):
        engine.enroll(name, [face_image(10 * i + k) for k in range(i + 1)])
    return engine


def _answers(engine: Engine) -> list[tuple[str, float]]:
    found = [engine.identify(face_image(seed), 0.1)[0].match for seed in (0, 10, 11, 21, 30, 33, 99)]
    return [(m.label, round(m.distance, 5)) for m in found]


def _people(engine: Engine) -> list[tuple[str, int]]:
    return [(p.name, p.sample_count) for p in engine.people()]


def test_export_then_import_into_an_empty_gallery_gives_the_same_people_samples_and_answers(
    tmp_path: Path, empty_target: Path | str
) -> None:
    source = _filled(tmp_path / "source.sqlite3")
    file = tmp_path / "backup.faceapp.zip"
    assert archive.export(source, file) == archive.Moved(4, 10)
    restored = station(empty_target)
    try:
        assert archive.import_archive(restored, file) == archive.Moved(4, 10)
        assert _people(restored) == _people(source)
        assert _answers(restored) == _answers(source)
        for person, twin in zip(source.people(), restored.people(), strict=True):
            crops = [s.sample for s in source.samples_of(person.id)]
            back = [s.sample for s in restored.samples_of(twin.id)]
            for a, b in zip(crops, back, strict=True):
                np.testing.assert_array_equal(a.image, b.image)
                assert a.detection == b.detection
                np.testing.assert_allclose(a.detection.landmarks, b.detection.landmarks)
                assert a.source == b.source
            np.testing.assert_array_equal(
                np.stack(list(source.sample_embeddings(person.id).values())),
                np.stack(list(restored.sample_embeddings(twin.id).values())),
            )
        assert restored.integrity_problems() == []
    finally:
        source.close()
        restored.close()


def test_an_import_into_a_gallery_of_another_model_reembeds_every_crop(tmp_path: Path) -> None:
    source = _filled(tmp_path / "source.sqlite3")
    file = tmp_path / "backup.zip"
    archive.export(source, file)
    other = station(tmp_path / "other.sqlite3")
    other.switch_model("facenet-casia")
    assert archive.import_archive(other, file) == archive.Moved(4, 10)
    assert other.embedding_models() == {"facenet-casia": 10}
    assert _people(other) == _people(source)
    assert [m[0] for m in _answers(other)] == [m[0] for m in _answers(source)]


def test_an_archive_without_embeddings_is_embedded_on_import(tmp_path: Path) -> None:
    source = _filled(tmp_path / "source.sqlite3")
    file = tmp_path / "crops-only.zip"
    archive.export(source, file, embeddings=False)
    assert "embeddings.npy" not in zipfile.ZipFile(file).namelist()
    restored = station(tmp_path / "restored.sqlite3")
    archive.import_archive(restored, file)
    assert _answers(restored) == _answers(source)


def test_an_archive_from_a_newer_faceapp_is_refused_and_nothing_is_added(tmp_path: Path) -> None:
    def newer(name: str, data: bytes) -> bytes:
        return (
            json.dumps({**json.loads(data), "version": archive.VERSION + 1}).encode()
            if name == "manifest.json"
            else data
        )

    newer_file = _tampered(tmp_path, newer)
    restored = station(tmp_path / "restored.sqlite3")
    with pytest.raises(BadInputError, match="newer faceapp") as caught:
        archive.import_archive(restored, newer_file)
    assert "\n" not in str(caught.value)
    assert restored.people() == []


@pytest.mark.parametrize("content", [b"not a zip", b"PK\x03\x04broken"])
def test_a_file_that_is_not_an_archive_is_refused_in_one_line(tmp_path: Path, content: bytes) -> None:
    file = tmp_path / "x.zip"
    file.write_bytes(content)
    with pytest.raises(BadInputError, match="not a faceapp gallery archive"):
        archive.Archive(file)


def test_copy_moves_a_gallery_between_backends_and_back(tmp_path: Path, pg_url: str) -> None:
    source = _filled(tmp_path / "source.sqlite3")
    on_server = station(pg_url)
    assert archive.load_into(on_server, archive.people_of(source), source.model) == archive.Moved(4, 10)
    back = station(tmp_path / "back.sqlite3")
    archive.load_into(back, archive.people_of(on_server), on_server.model)
    assert _people(back) == _people(on_server) == _people(source)
    assert _answers(back) == _answers(source)
    on_server.close()


def test_the_cli_exports_imports_copies_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from faceapp.cli import main

    source = _filled(tmp_path / "source.sqlite3")
    source.close()
    file = tmp_path / "b.zip"
    assert main(["gallery", "export", str(file), "--db", str(tmp_path / "source.sqlite3")]) == 0
    assert "Exported 4 people with 10 sample(s)" in capsys.readouterr().out
    copy = tmp_path / "copy.sqlite3"
    assert main(["gallery", "copy", str(tmp_path / "source.sqlite3"), str(copy)]) == 0
    assert main(["gallery", "check", "--db", str(copy)]) == 0
    assert main(["people", "list", "--db", str(copy)]) == 0
    listed = capsys.readouterr().out
    for name in NAMES:
        assert name in listed
    assert main(["gallery", "import", str(tmp_path / "missing.zip"), "--db", str(copy)]) == 2
    assert "not a faceapp gallery archive" in capsys.readouterr().err


def _tampered(tmp_path: Path, change: Any) -> Path:
    """An export of a small gallery with `change(name, data) -> data` applied to each member."""
    source = _filled(tmp_path / "source.sqlite3")
    file = tmp_path / "backup.zip"
    archive.export(source, file)
    out = tmp_path / "tampered.zip"
    with zipfile.ZipFile(file) as old, zipfile.ZipFile(out, "w") as new:
        for item in old.infolist():
            new.writestr(item, change(item.filename, old.read(item)))
    return out


def _big_png() -> bytes:
    ok, data = cv2.imencode(".png", np.zeros((3000, 3000, 3), np.uint8))  # 9 MP of black: a few KB compressed
    assert ok
    return data.tobytes()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _tiff() -> bytes:
    ok, data = cv2.imencode(".tiff", np.zeros((50, 50, 3), np.uint8))
    assert ok
    return data.tobytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda name, data: _big_png() if name.startswith("crops/") else data, "more than a face crop"),
        (lambda name, data: _tiff() if name.startswith("crops/") else data, "not a PNG image"),
        # embeddings.npy is read by its header's shape: more rows than crops, other types or a short file are refused
        (
            lambda name, data: _npy(np.zeros((500, 16), "<f4")) if name == "embeddings.npy" else data,
            r"embeddings.npy: not the float32 rows faceapp writes .*500, 16",
        ),
        (
            lambda name, data: _npy(np.zeros((10, 16), "<f8")) if name == "embeddings.npy" else data,
            "embeddings.npy: not the float32 rows",
        ),
        (lambda name, data: data[:-8] if name == "embeddings.npy" else data, "does not fit its"),
        (
            lambda name, data: _npy(np.zeros((10, MAX_DIM_PLUS), "<f4")) if name == "embeddings.npy" else data,
            "does not fit its",
        ),
        (lambda name, data: b"[" * 50_000 + b"]" * 50_000 if name == "manifest.json" else data, "damaged"),
        (
            lambda name, data: data.replace(b'"score": ', b'"score": NaN, "x": ') if name == "manifest.json" else data,
            "NaN is not a number",
        ),
    ],
)
def test_a_hostile_archive_is_refused_in_one_line_and_nothing_is_added(
    tmp_path: Path, change: Any, message: str
) -> None:
    """Review of issue 15: crops skipped the image allow-list and size limit; deep or NaN JSON escaped."""
    restored = station(tmp_path / "restored.sqlite3")
    with pytest.raises(BadInputError, match=message) as caught:
        archive.import_archive(restored, _tampered(tmp_path, change))
    assert "\n" not in str(caught.value)
    assert restored.people() == []


def test_importing_the_same_archive_twice_adds_nothing_the_second_time(tmp_path: Path) -> None:
    source = _filled(tmp_path / "source.sqlite3")
    file = tmp_path / "backup.zip"
    archive.export(source, file)
    restored = station(tmp_path / "restored.sqlite3")
    assert archive.import_archive(restored, file) == archive.Moved(4, 10)
    assert archive.import_archive(restored, file) == archive.Moved(0, 0)
    assert _people(restored) == _people(source)
    restored.enroll("Extra", [face_image(77)])
    assert archive.load_into(restored, archive.people_of(source), source.model) == archive.Moved(
        0, 0
    )  # a copy, the same
    assert restored.embedding_models() == {restored.model: 11}


def test_an_import_adds_only_the_samples_a_person_lacks(tmp_path: Path) -> None:
    source = _filled(tmp_path / "source.sqlite3")
    file = tmp_path / "backup.zip"
    archive.export(source, file)
    partial = station(tmp_path / "partial.sqlite3")
    partial.enroll(NAMES[3], [face_image(30), face_image(31)])  # two of the four in the archive
    partial.switch_model("facenet-casia")  # so the import re-embeds the crops instead of keeping the vectors
    assert archive.import_archive(partial, file) == archive.Moved(4, 8)
    assert _people(partial) == _people(source)

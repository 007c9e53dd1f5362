"""`faceapp gallery export-faces DIR`: one folder of PNG crops per person, the layout `faceapp train` reads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceapp.cli import main
from faceapp.errors import BadInputError
from faceapp.face_folders import export_faces, folder_name
from faceapp.train.data import scan
from tests.test_engine import face_image
from tests.test_stations import station


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("Zoë Ångström", "Zoë Ångström"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("a/b\\c:d", "a_b_c_d"),
        ("...", "_"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("x" * 300, "x" * 100),
    ],
)
def test_a_name_becomes_a_folder_name_that_stays_inside_the_folder(name: str, folder: str) -> None:
    assert folder_name(name) == folder


def test_every_persons_crops_go_to_their_own_folder_and_train_reads_them(tmp_path: Path) -> None:
    engine = station(tmp_path / "g.sqlite3")
    engine.enroll("Ann", [face_image(1), face_image(2)])
    engine.enroll("ann/2", [face_image(3)])
    engine.enroll("Bo", [face_image(4), face_image(5), face_image(6)])
    out = tmp_path / "faces"
    assert export_faces(engine, out) == (3, 6)
    people = scan(out)
    assert {k: len(v) for k, v in people.items()} == {"Ann": 2, "ann_2": 1, "Bo": 3}
    ann = engine.samples_of(engine.person("Ann").id)
    written = cv2.cvtColor(cv2.imread(str(people["Ann"][0])), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(written, ann[0].sample.image)  # the stored crop itself, losslessly


def test_two_names_that_make_the_same_folder_get_numbered_folders(tmp_path: Path) -> None:
    engine = station(tmp_path / "g.sqlite3")
    engine.enroll("a/b", [face_image(1)])
    engine.enroll("a:b", [face_image(2)])
    export_faces(engine, tmp_path / "faces")
    assert sorted(p.name for p in (tmp_path / "faces").iterdir()) == ["a_b", "a_b (2)"]


def test_a_folder_that_is_not_empty_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    engine = station(tmp_path / "g.sqlite3")
    engine.enroll("Ann", [face_image(1)])
    out = tmp_path / "faces"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(BadInputError, match="not an empty folder"):
        export_faces(engine, out)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_the_cli_writes_the_folders_and_says_how_many(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "g.sqlite3"
    engine = station(db)
    engine.enroll("Ann", [face_image(1), face_image(2)])
    engine.close()
    assert main(["gallery", "export-faces", str(tmp_path / "faces"), "--db", str(db)]) == 0
    assert "Wrote 2 face image(s) of 1 people" in capsys.readouterr().out
    assert main(["gallery", "export-faces", str(tmp_path / "faces"), "--db", str(db)]) == 2
    assert "not an empty folder" in capsys.readouterr().err

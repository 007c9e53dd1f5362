"""The command line: exit codes, messages for bad input, and the real pipeline on shared photos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faceapp.cli import main

EXAMPLES = Path("photos/face_recognition_examples")


def test_help_does_not_import_torch_or_qt() -> None:
    code = (
        "import sys; from faceapp.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('torch', 'cv2', 'PySide6', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("faceapp ")


def test_a_corrupt_database_is_reported_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "g.sqlite3"
    db.write_bytes(b"garbage" * 100)
    assert main(["--db", str(db), "people", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert db.read_bytes() == b"garbage" * 100


def test_unknown_people_and_models_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "g.sqlite3"
    assert main(["--db", str(db), "people", "remove", "Nobody"]) == 2
    assert main(["--db", str(db), "--model", "arcface", "identify", "x.jpg"]) == 2
    assert "known models" in capsys.readouterr().err


def test_verify_needs_a_claim_or_two_images(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "a.jpg"]) == 2
    assert "two images" in capsys.readouterr().err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "gallery.sqlite3"


def test_enroll_identify_verify_and_remove(shared_data: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = shared_data / EXAMPLES
    base = ["--db", str(db), "--model", "dlib-resnet"]
    assert main([*base, "enroll", "Kit O'Harington", str(photos / "kit_harington/john1.jpeg")]) == 0
    assert main([*base, "enroll", 'Rose "R" Leslie', str(photos / "rose_leslie/img1.jpg")]) == 0
    capsys.readouterr()

    assert main([*base, "identify", "--json", str(photos / "_multi_face/kit_with_rose.jpg")]) == 0
    report = json.loads(capsys.readouterr().out)
    names = sorted(face["name"] for face in report["results"][0]["faces"])
    assert names == ["Kit O'Harington", 'Rose "R" Leslie']

    assert main([*base, "identify", str(photos / "biden/biden.jpg")]) == 1  # nobody known: exit 1
    assert "Unknown" in capsys.readouterr().out
    assert main([*base, "identify", "--json", "--margin", "0", str(photos / "kit_harington/john2.jpeg")]) == 0
    report = json.loads(capsys.readouterr().out)
    (face,) = report["results"][0]["faces"]
    assert report["margin"] == 0.0
    assert face["name"] == "Kit O'Harington"
    assert face["runner_up"] == 'Rose "R" Leslie'
    assert face["runner_up_distance"] > face["distance"]
    assert face["ambiguous"] is False
    assert main([*base, "identify", "--margin", "3", str(photos / "kit_harington/john2.jpeg")]) == 2
    assert "--margin 3.0 is out of range" in capsys.readouterr().err

    assert main([*base, "verify", str(photos / "kit_harington/john2.jpeg"), "--as", "kit o'harington"]) == 0
    assert capsys.readouterr().out.startswith("ACCEPT")
    assert main([*base, "verify", str(photos / "kit_harington/john2.jpeg"), "--as", 'Rose "R" Leslie']) == 1
    assert capsys.readouterr().out.startswith("REJECT")
    assert main([*base, "verify", str(photos / "obama/obama1.jpg"), str(photos / "obama/obama2.jpg")]) == 0

    assert main([*base, "identify", str(db.parent / "missing.jpg")]) == 2
    assert "no such file" in capsys.readouterr().err

    assert main(["--db", str(db), "people", "remove", "Kit O'Harington"]) == 0
    capsys.readouterr()
    assert main(["--db", str(db), "people", "list"]) == 0
    assert capsys.readouterr().out.strip() == 'Rose "R" Leslie\t1 sample(s)'


def test_enroll_refuses_bad_names_and_faceless_images(
    shared_data: Path, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = str(shared_data / EXAMPLES / "biden/biden.jpg")
    assert main(["--db", str(db), "enroll", "   ", photo]) == 2
    assert "empty" in capsys.readouterr().err.lower()
    assert main(["--db", str(db), "enroll", "x" * 101, photo]) == 2
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    assert main(["--db", str(db), "enroll", "Joe", str(blank)]) == 2
    assert "no face" in capsys.readouterr().err
    assert main(["--db", str(db), "people", "list"]) == 0
    assert capsys.readouterr().out == ""


def test_an_unexpected_failure_is_one_line_and_logged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import faceapp.cli

    def broken(args: object) -> int:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(faceapp.cli, "cmd_people", broken)
    assert main(["people", "list"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "ZeroDivisionError: boom" in err
    log = Path(err.split("details in ")[1].rstrip(")\n"))
    assert "Traceback" in log.read_text()


def test_identify_says_when_a_face_is_too_close_to_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    import faceapp.cli
    from faceapp.core.types import Face, Match, MatchRule
    from faceapp.engine import Recognition
    from tests.fakes import detection

    rules: list[MatchRule] = []

    class StubEngine:
        model, default_threshold, default_margin = "dlib-resnet", 0.178, 0.35

        def identify(self, image: object, rule: MatchRule) -> list[Recognition]:
            rules.append(rule)
            face = Face(detection(10, 10, 90, 90), np.zeros(128, np.float32))
            return [Recognition(face, Match(1, "Ada", 0.1, False, 0.12, "Bob", ambiguous=True))]

        def close(self) -> None:
            pass

    monkeypatch.setattr(faceapp.cli, "open_engine", lambda args: StubEngine())
    assert main(["identify", "photo.jpg"]) == 1  # nobody named
    line = capsys.readouterr().out
    assert "Unknown\td=0.1\t(too close to call: Ada d=0.1, Bob d=0.12)" in line
    assert rules[-1] == MatchRule(0.178, 0.35)  # no settings saved: the model's defaults
    assert main(["identify", "--json", "--threshold", "0.2", "--margin", "0.1", "photo.jpg"]) == 1
    face = json.loads(capsys.readouterr().out)["results"][0]["faces"][0]
    assert face["ambiguous"] is True
    assert face["runner_up"] == "Bob"
    assert rules[-1] == MatchRule(0.2, 0.1)

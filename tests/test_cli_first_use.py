"""Issue 16 item 10: the command line's papercuts, as a new user meets them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from faceapp.cli import build_parser, main

EXAMPLES = Path("photos/face_recognition_examples")


def test_min_face_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("-3", "5", "abc"):
        with pytest.raises(SystemExit) as exited:
            main(["--min-face", bad, "people", "list"])
        assert exited.value.code == 2
        assert "--min-face" in capsys.readouterr().err


def test_a_misspelt_model_is_an_error_for_people_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path / "g.sqlite3"), "--model", "nonsense", "people", "list"]) == 2
    assert "known models" in capsys.readouterr().err


def test_bench_help_lists_the_suites(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for suite in ("lfw", "identify", "video", "gui", "soak", "startup", "dlib-parity", "small-gallery"):
        assert suite in out


def test_every_positional_argument_has_help() -> None:
    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)
            elif not action.option_strings and not action.help:
                missing.append(f"{parser.prog} {action.dest}")

    walk(build_parser())
    assert missing == []


def test_identify_names_the_next_person_verify_says_different_people_and_repeats_are_skipped(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = shared_data / EXAMPLES
    base = ["--db", str(tmp_path / "g.sqlite3"), "--model", "dlib-resnet"]
    assert main([*base, "enroll", "Barack Obama", str(photos / "obama/obama.jpg")]) == 0
    assert main([*base, "enroll", "Joe Biden", str(photos / "biden/biden.jpg")]) == 0
    capsys.readouterr()
    assert (
        main([*base, "enroll", "Barack Obama", str(photos / "obama/obama.jpg"), str(photos / "obama/obama1.jpg")]) == 0
    )
    captured = capsys.readouterr()
    assert "already a sample of 'Barack Obama'" in captured.err
    assert "1 sample(s) added, 2 in all" in captured.out  # the repeat was not added again
    assert main([*base, "enroll", "Barack Obama", str(photos / "obama/obama1.jpg")]) == 0
    assert "Nothing enrolled" in capsys.readouterr().out

    assert main([*base, "identify", str(photos / "obama/obama2.jpg")]) == 0
    line = capsys.readouterr().out.strip()
    assert "\tBarack Obama\td=" in line
    assert "next: Joe Biden d=" in line  # as the README promises

    assert main([*base, "verify", str(photos / "obama/obama.jpg"), str(photos / "biden/biden.jpg")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("REJECT: different people")
    assert "same person" not in out
    assert main([*base, "verify", str(photos / "obama/obama1.jpg"), "--as", "Joe Biden"]) == 1
    assert capsys.readouterr().out.startswith("REJECT: not 'Joe Biden'")


def test_a_model_without_weights_fails_before_announcing_a_switch(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from faceapp.core import weights

    if weights.is_available("facenet-vggface2"):
        pytest.skip("facenet-vggface2 weights are on this machine")
    photos = shared_data / EXAMPLES
    db = ["--db", str(tmp_path / "g.sqlite3")]
    assert main([*db, "--model", "dlib-resnet", "enroll", "Barack Obama", str(photos / "obama/obama.jpg")]) == 0
    capsys.readouterr()
    assert main([*db, "--model", "facenet-vggface2", "identify", str(photos / "obama/obama1.jpg")]) == 2
    err = capsys.readouterr().err
    assert "Switching" not in err
    assert err.startswith("error: ")

"""`faceapp review list|name|merge|forget` on the candidates a gallery keeps with retention "N days"."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from faceapp import settings
from faceapp.cli import main
from faceapp.core.review import Candidate
from faceapp.storage import GalleryRepository
from faceapp.storage.candidates import CandidateRepository
from faceapp.storage.models import encode_sample
from tests.storage.storage_fakes import count_rows, make_sample, unit


def seed(db: Path, directions: list[int], model: str = "dlib-resnet") -> list[int]:
    """Store one candidate per direction (equal directions: the same person) and return their row ids."""
    with GalleryRepository(db) as repo:
        repo.set_model(model)
        now = time.time() - 60
        return CandidateRepository(repo).save_candidates(
            [
                Candidate.of(i, model, now, now + i, unit(d, 128), [make_sample(i, 120, 100)], [0.8])
                for i, d in enumerate(directions)
            ]
        )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    settings.save(settings.Settings(review_retention="days", review_days=365))
    return tmp_path / "gallery.sqlite3"


def groups_listed(db: Path, capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    assert main(["--db", str(db), "review", "list"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].endswith(f"kept for 365 days in {db}.")
    return [line.split("\t") for line in out[:-1]]


def test_list_merge_forget_and_clear_errors(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, _, third = seed(db, [1, 2, 3])
    assert sorted(int(g[0]) for g in groups_listed(db, capsys)) == [first, first + 1, third]
    assert main(["--db", str(db), "review", "merge", str(first), str(first + 1)]) == 0
    assert f"into group {first} (2 tracks)" in capsys.readouterr().out
    listed = groups_listed(db, capsys)
    assert len(listed) == 2
    assert [g[2] for g in listed if int(g[0]) == first] == ["seen 2 time(s)"]
    assert main(["--db", str(db), "review", "forget", "999"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No unknown-face group 999")
    assert err.count("\n") == 1
    assert main(["--db", str(db), "review", "merge", str(first), str(first)]) == 2
    assert "itself" in capsys.readouterr().err
    assert main(["--db", str(db), "review", "forget", str(third)]) == 0
    assert "1 track(s), their face crops and embeddings deleted" in capsys.readouterr().out
    assert count_rows(db, "review_candidates") == 2
    assert count_rows(db, "review_crops") == 2
    assert [int(g[0]) for g in groups_listed(db, capsys)] == [first]


def test_name_enrolls_the_group_and_deletes_the_candidates(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = seed(db, [5, 5])  # one person seen twice: one group
    assert [int(g[0]) for g in groups_listed(db, capsys)] == [first]
    assert main(["--db", str(db), "review", "name", str(first), "Grace Hopper"]) == 0
    assert "2 sample(s) added to 'Grace Hopper'" in capsys.readouterr().out
    assert main(["--db", str(db), "people", "list"]) == 0
    assert "Grace Hopper\t2 sample(s)" in capsys.readouterr().out
    assert count_rows(db, "review_candidates") == count_rows(db, "review_crops") == 0
    assert main(["--db", str(db), "review", "name", str(second), "Grace Hopper"]) == 2  # gone with the naming


def test_session_retention_keeps_nothing_in_the_gallery(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(db, [1])
    settings.save(settings.Settings(review_retention="session"))
    assert main(["--db", str(db), "review", "list"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "kept only in the running app" in captured.err
    assert count_rows(db, "review_candidates") == 0  # stored under an earlier "N days": deleted, as the app does


def test_a_missing_gallery_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path / "none.sqlite3"), "review", "list"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_bad_retention_setting_is_one_line(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(db, [1])
    settings.settings_path().write_text('{"review_retention": "forever"}', encoding="utf-8")
    assert main(["--db", str(db), "review", "list"]) == 2
    err = capsys.readouterr().err
    assert "Review retention 'forever' is not one of off, session, days" in err
    assert err.count("\n") == 1
    assert count_rows(db, "review_candidates") == 1  # nothing deleted on a setting it could not read


def test_gallery_export_and_copy_leave_the_candidates_behind(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db, [1])
    with GalleryRepository(db) as repo:
        repo.enroll("Ada", [(make_sample(7), unit(7, 128))], "dlib-resnet")
        stored = CandidateRepository(repo).load_candidates()[0]
        crop, kept = stored.samples[0], stored.crops[0].data
    archive, copy = tmp_path / "out.zip", tmp_path / "copy.sqlite3"
    assert main(["--db", str(db), "gallery", "export", str(archive)]) == 0
    assert main(["--db", str(db), "gallery", "copy", str(db), str(copy)]) == 0
    capsys.readouterr()
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        blobs = b"".join(zf.read(n) for n in names)
    assert encode_sample(crop)["image"][:100] not in blobs
    assert kept[-200:] not in blobs  # nor the bytes the review keeps
    assert encode_sample(make_sample(7))["image"][:100] in blobs  # the person's sample is there
    assert count_rows(copy, "review_candidates") == 0
    assert count_rows(copy, "samples") == 1

"""The issue's smaller defects: a NaN vector hiding a person, a model switch decoding every crop at once, the CLI
log growing without bound."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from faceapp.errors import BadInputError
from faceapp.storage.repository import GalleryRepository
from tests.storage.storage_fakes import make_sample, unit
from tests.test_engine import face_image, make_engine


def test_a_nan_embedding_is_refused_when_written(tmp_path: Path) -> None:
    with GalleryRepository(tmp_path / "g.sqlite3") as repo:
        vector = unit(1, dim=16)
        vector[3] = np.nan
        with pytest.raises(BadInputError, match="finite"):
            repo.enroll("Ada", [(make_sample(1), vector)], "m")
        assert repo.counts() == (0, 0)


def test_a_stored_nan_embedding_is_skipped_with_a_warning_not_hiding_its_person(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "g.sqlite3"
    with GalleryRepository(db) as repo:
        repo.enroll("Ada", [(make_sample(1), unit(1, dim=16)), (make_sample(2), unit(2, dim=16))], "m")
    conn = sqlite3.connect(db)
    poisoned = np.full(16, np.nan, "<f4").tobytes()  # as a damaged or foreign-written row would hold
    conn.execute(
        "UPDATE embeddings SET vector = ? WHERE sample_id = (SELECT min(sample_id) FROM embeddings)", (poisoned,)
    )
    conn.commit()
    conn.close()
    with GalleryRepository(db) as repo, caplog.at_level(logging.WARNING):
        ids, names, vectors = repo.embeddings_for("m")
    assert len(ids) == 1
    assert np.isfinite(vectors).all()
    assert names[int(ids[0])] == "Ada"
    assert "non-finite" in caplog.text
    assert "Ada" in caplog.text


def test_a_model_switch_decodes_stored_crops_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path)
    for i in range(40):
        engine.enroll(f"P{i}", [face_image(i)])
    limits: list[int | None] = []
    original = engine._repo.samples_missing

    def recording(model: str, limit: int | None = None) -> list:  # type: ignore[type-arg]
        limits.append(limit)
        return original(model, limit)

    monkeypatch.setattr(engine._repo, "samples_missing", recording)
    seen: list[tuple[int, int]] = []
    assert engine.switch_model("facenet-casia", progress=lambda done, total: seen.append((done, total)))
    assert limits
    assert all(limit is not None and limit <= 16 for limit in limits)
    assert engine.snapshot().sample_count == 40
    assert seen[-1] == (40, 40)


def test_the_cli_log_rotates(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import faceapp.cli
    from faceapp import paths
    from faceapp.cli import LOG_BACKUPS, LOG_MAX_BYTES, main

    log = paths.data_dir() / "logs" / "faceapp-cli.log"
    log.parent.mkdir(parents=True)
    log.write_text("x" * (LOG_MAX_BYTES + 10))

    def broken(args: object) -> int:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(faceapp.cli, "cmd_people", broken)
    for _ in range(LOG_BACKUPS + 2):
        assert main(["people", "list"]) == 3
    capsys.readouterr()
    assert log.stat().st_size < LOG_MAX_BYTES
    assert "ZeroDivisionError: boom" in log.read_text()
    assert log.with_name("faceapp-cli.log.1").exists()
    assert len(list(log.parent.iterdir())) <= LOG_BACKUPS + 1

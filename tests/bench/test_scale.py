"""`faceapp bench scale`: a synthetic gallery through the real storage and engine, checked against a float64 scan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceapp.bench import scale
from faceapp.core.matching import GallerySnapshot


def test_scale_reports_every_figure_and_agrees_with_the_exact_scan(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    assert scale.main(["--samples", "600", "--real", "30", "--per-person", "3", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["samples"] == 600
    assert result["people"] == 30 + 190  # 570 synthetic samples, 3 a person
    assert result["recall_at_1"] == 1.0
    assert result["recall_probes"] == 30
    for key in ("load_and_index_s", "identify_p50_ms", "identify_p95_ms", "memory_mb"):
        assert result[key] >= 0


def test_the_mean_index_gives_the_average_of_every_samples_distance() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((40, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = rng.integers(0, 7, 40)  # unsorted, uneven groups
    snapshot = GallerySnapshot("m", owners, {int(i): str(i) for i in owners}, vectors, "average").build_index()
    probes = vectors[:5] + 0.1 * rng.standard_normal((5, 16)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    people, d = snapshot.person_distances(probes)
    assert d.shape == (5, len(np.unique(owners)))
    for row, probe in enumerate(probes.astype(np.float64)):
        for col, pid in enumerate(people):
            mine = vectors[owners == pid].astype(np.float64)
            expected = np.mean(np.sum((mine - probe) ** 2, axis=1))
            np.testing.assert_allclose(d[row, col], expected, atol=1e-5)


def test_scale_measures_the_index_against_the_exact_scan_of_the_same_gallery(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    argv = ["--samples", "3000", "--real", "60", "--index-min-rows", "100", "--filler", "faces", "--out", str(out)]
    assert scale.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["indexed"] is True
    assert result["filler"] == "faces"
    assert result["index_ef_search"] > 1
    assert result["same_answer_as_exact_scan"] >= 0.95
    assert result["recall_at_1"] >= 0.95
    for key in ("exact_scan_p50_ms", "exact_scan_p95_ms"):
        assert result[key] >= 0


def test_the_face_like_filler_lies_where_the_real_embeddings_lie() -> None:
    rng = np.random.default_rng(1)
    real = rng.standard_normal((300, 8)).astype(np.float32) + np.array([4, 0, 0, 0, 0, 0, 0, 0], np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    filler = scale.face_like(rng, real, 1000)
    np.testing.assert_allclose(np.linalg.norm(filler, axis=1), 1.0, atol=1e-5)
    assert float(filler[:, 0].mean()) == pytest.approx(float(real[:, 0].mean()), abs=0.05)
    random = scale.unit_rows(rng, 1000, 8)
    assert abs(float(random[:, 0].mean())) < 0.1  # random unit vectors do not


def test_keep_reuses_only_the_gallery_the_same_settings_built(tmp_path: Path) -> None:
    db, out = tmp_path / "g.sqlite3", tmp_path / "s.json"
    argv = ["--samples", "400", "--real", "20", "--db", str(db), "--keep", "--index-min-rows", "50", "--out", str(out)]
    assert scale.main(argv) == 0
    assert json.loads(out.read_text())["reused_gallery"] is False
    assert scale.main(argv) == 0
    second = json.loads(out.read_text())
    assert second["reused_gallery"] is True
    assert second["recall_at_1"] == 1.0
    assert second["indexed"] is True
    assert second["newcomer_named_after_update"] is True  # through a layer; gone again after, so the next run reuses
    with pytest.raises(SystemExit, match="not empty"):
        scale.main([*argv, "--seed", "1"])  # other vectors under the same names: not reused

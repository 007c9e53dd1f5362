"""`bench lfw` end to end on a tiny synthetic LFW-like folder, with the fake embedder and detector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import faceapp.bench
from faceapp.bench import embed_cache, lfw, report
from faceapp.bench.embed_cache import EmbedCache, cache_path, file_key
from faceapp.core.catalog import spec as model_spec
from faceapp.core.types import Detection
from faceapp.errors import BadInputError
from tests.bench.bench_fakes import BlindDetector, fake_detector, make_lfw
from tests.fakes import FakeEmbedder


def test_parse_pairs_reads_folds_and_limits(tmp_path: Path) -> None:
    root = make_lfw(tmp_path)
    pairs = lfw.parse_pairs(root / "pairs.txt")
    assert len(pairs) == 8
    assert [p.fold for p in pairs] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [p.same for p in pairs] == [True, True, False, False] * 2
    assert pairs[2] == lfw.Pair("Ann_A", 1, "Bob_B", 1, 0)
    assert lfw.image_path(root, "Ann_A", 3) == root / "Ann_A" / "Ann_A_0003.jpg"
    limited = lfw.parse_pairs(root / "pairs.txt", limit=1)
    assert [(p.fold, p.same) for p in limited] == [(0, True), (0, False), (1, True), (1, False)]


def test_parse_pairs_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.txt"
    bad.write_text("2 1\nA 1 2\nA 1 B 2\n")
    with pytest.raises(BadInputError, match="expected 4"):
        lfw.parse_pairs(bad)
    bad.write_text("1 1\nA 1 B 2\nA 1 B 2\n")
    with pytest.raises(BadInputError, match="line 2"):
        lfw.parse_pairs(bad)
    single = tmp_path / "dev.txt"
    single.write_text("1\nA\t1\t2\nA\t1\tB\t2\n")  # pairsDevTrain.txt style: one fold, one number
    assert len(lfw.parse_pairs(single)) == 2


def test_cache_file_changes_with_model_and_pipeline_version() -> None:
    base = cache_path("lfw", "dlib-resnet")
    assert base != cache_path("lfw", "facenet-vggface2")
    assert base != cache_path("lfw", "dlib-resnet", embed_cache.PIPELINE_VERSION + 1)
    assert base != cache_path("other", "dlib-resnet")


def test_cache_round_trip_and_invalidation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "a.jpg"
    image.write_bytes(b"x")
    key = file_key(image, tmp_path)
    det = Detection((0.0, 0.0, 1.0, 1.0), 1.0, np.zeros((5, 2)))
    cache = EmbedCache.open(tmp_path / "c.npz", "m", 2)
    cache.add(key, np.array([1.0, 0.0]), 1, det)
    cache.save()
    again = EmbedCache.open(tmp_path / "c.npz", "m", 2)
    assert list(again.index) == [key]
    assert EmbedCache.open(tmp_path / "c.npz", "other-model", 2).index == {}
    monkeypatch.setattr(embed_cache, "PIPELINE_VERSION", embed_cache.PIPELINE_VERSION + 1)
    assert EmbedCache.open(tmp_path / "c.npz", "m", 2).index == {}
    image.write_bytes(b"xy")  # a changed file has another key
    assert file_key(image, tmp_path) != key


def test_bench_lfw_end_to_end_with_fakes(tmp_path: Path) -> None:
    make_lfw(tmp_path)
    embedder = FakeEmbedder()
    result = lfw.run(tmp_path, embedder=embedder, detector=fake_detector())
    assert result["model"] == "fake"
    assert (result["pairs"], result["folds"], result["images"]) == (8, 2, 11)
    assert result["accuracy_mean"] == 1.0
    assert len(result["fold_thresholds"]) == 2
    assert result["tar_at_far"][0]["tar"] == 1.0
    assert result["no_face"]["count"] == 0
    assert result["speed"]["images_computed"] == 11
    assert "10-fold accuracy" in report.lfw_text(result)
    json.dumps(result)  # JSON-ready
    warm = lfw.run(tmp_path, embedder=embedder, detector=BlindDetector())  # cached: the detector is not asked
    assert warm["speed"]["images_computed"] == 0
    assert warm["accuracy_mean"] == 1.0


def test_bench_lfw_counts_images_without_a_face(tmp_path: Path) -> None:
    make_lfw(tmp_path)
    result = lfw.run(tmp_path, embedder=FakeEmbedder(), detector=BlindDetector(), use_cache=False)
    assert result["no_face"]["count"] == 11
    assert "median" in result["no_face"]["handling"]


def test_bench_main_writes_json_and_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_lfw(tmp_path)
    monkeypatch.setattr("faceapp.core.embedders.registry.create_embedder", lambda name: FakeEmbedder())
    monkeypatch.setattr(embed_cache, "batch_detector", fake_detector)
    monkeypatch.setattr(lfw, "batch_detector", fake_detector)
    out, plots = tmp_path / "r.json", tmp_path / "plots"
    code = faceapp.bench.main(["lfw", "--data", str(tmp_path / "lfw"), "--out", str(out), "--plots", str(plots)])
    assert code == 0
    assert json.loads(out.read_text())["accuracy_mean"] == 1.0
    assert (plots / "lfw-roc-fake.png").stat().st_size > 1000


def test_bench_main_reports_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert faceapp.bench.main(["lfw", "--data", str(tmp_path / "nowhere")]) == 2
    assert "no LFW here" in capsys.readouterr().err


def test_detections_are_reused_across_models_and_fusions_come_from_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from faceapp.core import catalog
    from faceapp.core.embedders.fused import FusedEmbedder, fuse
    from tests.fakes import FAKE_INFO

    other_info = replace(FAKE_INFO, name="fake2")
    monkeypatch.setitem(catalog.BUILTIN, "fake", FAKE_INFO)
    monkeypatch.setitem(catalog.BUILTIN, "fake2", other_info)
    root = make_lfw(tmp_path)
    files = sorted(root.glob("*/*.jpg"))
    first = embed_cache.embed_dataset("lfw", files, root, FakeEmbedder(), fake_detector())
    assert first.computed == len(files)
    assert (first.faces == 1).all()
    # A detector that finds nothing is never asked: every detection comes from the first model's cache.
    second = embed_cache.embed_dataset("lfw", files, root, FakeEmbedder(info=other_info), BlindDetector())
    assert (second.faces == 1).all()
    np.testing.assert_allclose(second.boxes, first.boxes)
    fused = FusedEmbedder(model_spec("dlib+sface"), [FakeEmbedder(), FakeEmbedder(info=other_info)], (0.3, 0.7))
    both = embed_cache.embed_dataset("lfw", files, root, fused, BlindDetector())
    assert both.computed == 0  # every part was cached
    np.testing.assert_allclose(both.embeddings, fuse([first.embeddings, second.embeddings], (0.3, 0.7)), atol=1e-6)

"""`bench small-gallery` on the tiny synthetic LFW folder, with the fake embedder and detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import faceapp.bench
from faceapp.bench import small_gallery
from faceapp.core.distance import normalize
from faceapp.core.types import MatchRule
from tests.bench.bench_fakes import fake_detector, make_lfw
from tests.fakes import FakeEmbedder


def test_rates_count_right_wrong_and_strangers() -> None:
    gallery = normalize(np.eye(4, dtype=np.float32))
    ids = np.arange(4)
    known = normalize(np.array([[1, 0.1, 0, 0], [0.1, 1, 0, 0], [0, 0, 0.2, 1]], np.float32))
    known_ids = np.array([0, 1, 2])  # the third probe is nearest person 3: a wrong name
    strangers = normalize(np.array([[1, 1, 1, 1], [0, 0, 1, 0.05]], np.float32))  # the second is named (person 2)
    out = small_gallery.rates(gallery, ids, known, known_ids, strangers, MatchRule(0.5), size=4, draws=3)
    assert out["known_named_right"] == 2 / 3
    assert out["wrong_name"] == 1 / 3
    assert out["strangers_named"] == 0.5


def test_small_gallery_end_to_end_with_fakes(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    make_lfw(tmp_path)
    result = small_gallery.run(tmp_path, "fake", [2, 4], embedder=FakeEmbedder(), detector=fake_detector())
    assert [r["people"] for r in result["rows"]] == [2, 4]
    assert result["strangers"] == 2
    assert result["rows"][1]["known_named_right"] == 1.0
    assert "known named right" in small_gallery.text(result)
    assert "small-gallery" in faceapp.bench.MODULE_SUITES

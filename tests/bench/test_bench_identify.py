"""`bench identify` on the tiny synthetic LFW-like folder, with the fake embedder and detector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_fakes import PEOPLE, fake_detector, make_lfw

from faceapp.bench import identify, report
from faceapp.errors import BadInputError
from tests.fakes import FakeEmbedder


def test_split_for_one_and_two_samples(tmp_path: Path) -> None:
    people = identify.list_people(make_lfw(tmp_path))
    assert {name: len(images) for name, images in people.items()} == PEOPLE
    one = identify.split_people(people, 1)
    assert (len(one.gallery), len(one.known), len(one.unknown), one.unknown_people) == (4, 6, 2, 2)
    two = identify.split_people(people, 2)
    assert (len(two.gallery), len(two.known), len(two.unknown), two.unknown_people) == (4, 2, 6, 4)
    assert two.gallery[1].name == "Ann_A_0002.jpg"
    with pytest.raises(BadInputError):
        identify.split_people(people, 3)


def test_bench_identify_end_to_end_with_fakes(tmp_path: Path) -> None:
    make_lfw(tmp_path)
    result = identify.run(tmp_path, samples=1, embedder=FakeEmbedder(), detector=fake_detector())
    assert result["rank1"] == 1.0
    assert result["gallery_people"] == 4
    assert [row["far"] for row in result["dir_at_far"]] == [0.01, 0.001]
    assert 0.0 <= result["dir_at_far"][0]["dir"] <= 1.0
    assert result["match_ms_per_probe"] > 0
    assert "rank-1 accuracy" in report.identify_text(result)
    json.dumps(result)

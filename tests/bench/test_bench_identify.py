"""`bench identify` on the tiny synthetic LFW-like folder, with the fake embedder and detector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceapp.bench import identify, report
from faceapp.errors import BadInputError
from tests.bench.bench_fakes import PEOPLE, fake_detector, make_lfw
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


def test_bench_identify_reports_the_margin_rule_and_its_sweep(tmp_path: Path) -> None:
    lfw = make_lfw(tmp_path)
    result = identify.run(tmp_path, samples=1, margin=0.2, embedder=FakeEmbedder(), detector=fake_detector())
    assert result["margin"] == 0.2
    assert [row["far"] for row in result["dir_at_far_margin"]] == [0.01, 0.001]
    assert [row["margin"] for row in result["margin_sweep"]] == list(identify.MARGIN_SWEEP)
    assert result["margin_sweep"][0]["dir_at_far"] == result["dir_at_far"]  # margin 0 is distance only
    assert result["best_margin_at_far_1pct"] in identify.MARGIN_SWEEP
    assert result["at_default"]["margin"] == 0.2
    assert "with margin 0.2" in report.identify_text(result)
    (lfw / "peopleDev.txt").write_text("3\nAnn_A\t3\nBob_B\t3\nEve_E\t1\n")
    subset = identify.run(
        tmp_path, samples=1, people_file="peopleDev.txt", embedder=FakeEmbedder(), detector=fake_detector()
    )
    assert (subset["gallery_people"], subset["known_probes"], subset["unknown_probes"]) == (2, 4, 1)
    assert subset["people_file"] == "peopleDev.txt"
    (lfw / "empty.txt").write_text("nothing here\n")
    with pytest.raises(BadInputError, match="no `name<TAB>count` lines"):
        identify.run(tmp_path, people_file="empty.txt", embedder=FakeEmbedder(), detector=fake_detector())


def test_margin_scores_and_dir_under_the_rule() -> None:
    # Three known probes: right and clear; right but ambiguous; wrong. Two unknown probes: one ambiguous, one clear.
    near = identify.Nearest(
        known_d=np.array([0.10, 0.10, 0.12]),
        known_runner_up=np.array([0.30, 0.11, 0.30]),
        correct=np.array([True, True, False]),
        unknown_d=np.array([0.09, 0.2]),
        unknown_runner_up=np.array([0.095, 0.5]),
    )
    known, unknown = near.scores(0.35)
    assert list(np.isfinite(known)) == [True, False, True]
    assert list(np.isfinite(unknown)) == [False, True]
    only = identify.dir_rows(near, 0.0)
    ruled = identify.dir_rows(near, 0.35)
    # By distance only, no tau admits the right probes without the unknown at 0.09: DIR 0 at FAR < 50%.
    assert only[0]["dir"] == 0.0
    # With the margin the unknown at 0.09 is ambiguous, so tau can rise to just below 0.2: one right probe is named.
    assert ruled[0]["dir"] == pytest.approx(1 / 3)
    assert 0.12 <= ruled[0]["threshold"] < 0.2

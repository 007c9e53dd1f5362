"""`bench corrections`: the before / after counts on a constructed gallery, and end to end on the tiny LFW folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import faceapp.bench
from faceapp.bench import corrections
from faceapp.core.distance import normalize
from faceapp.core.types import MatchRule
from tests.bench.bench_fakes import PEOPLE, fake_detector, make_lfw
from tests.fakes import FakeEmbedder


def v(*values: float) -> np.ndarray:
    return normalize(np.asarray(values, np.float32))


def test_one_correction_per_wrongly_named_stranger_and_what_it_costs() -> None:
    gallery = np.stack([v(1, 0, 0, 0), v(0, 1, 0, 0)])  # people 0 and 1
    gallery_ids = np.array([0, 1])
    known = np.stack([v(1, 0, -0.3, 0), v(0, 1, 0, 0.2), v(1, 0, 0.85, 0)])  # the third is near the stranger
    known_ids = np.array([0, 1, 0])
    strangers = np.stack(
        [
            v(1, 0, 0.8, 0),  # stranger 10, named 0: becomes the negative
            v(1, 0, 0.9, 0),  # stranger 10 again: refused after
            v(1, 0, 0.7, 0),  # stranger 10 a third time: refused too
            v(0, 0, 1, 1),  # stranger 11: Unknown before and after
            v(0, 1, 0, 0.8),  # stranger 12, named 1: becomes a negative of 1
        ]
    )
    stranger_ids = np.array([10, 10, 10, 11, 12])
    r = corrections.measure(gallery, gallery_ids, known, known_ids, strangers, stranger_ids, MatchRule(0.6))
    assert r["corrections"] == 2
    assert (r["corrected_others_before"]["named"], r["corrected_others_after"]["named"]) == (2, 0)
    assert r["corrected_others_before"]["images"] == 2
    assert (r["other_strangers_before"]["images"], r["other_strangers_before"]["named"]) == (1, 0)
    assert (r["strangers_before"]["named"], r["strangers_after"]["named"]) == (2, 0)
    # Every before / after pair is over one set of photos: all five, or the three held out (not corrections).
    assert r["all_strangers_before"] == {"images": 5, "named": 4, "rate": 0.8}
    assert r["all_strangers_after"] == {"images": 5, "named": 0, "rate": 0.0}
    for part in ("all_strangers", "strangers", "corrected_others", "other_strangers"):
        assert r[f"{part}_before"]["images"] == r[f"{part}_after"]["images"]
    assert r["strangers_before"]["images"] == 3
    assert r["negatives_named_after"] == r["negatives_same_name_after"] == 0
    assert (r["known_right_before"], r["known_right_after"]) == (3, 2)
    assert (r["known_lost_unknown"], r["known_lost_renamed"]) == (1, 0)  # Ada's look-alike photo of herself


def test_corrections_end_to_end_with_fakes(tmp_path: Path) -> None:
    lfw = make_lfw(tmp_path)
    (lfw / "people.txt").write_text(f"{len(PEOPLE)}\n" + "".join(f"{n}\t{c}\n" for n, c in PEOPLE.items()))
    result = corrections.run(
        tmp_path, "fake", "people.txt", tau=4.0, margin=0.0, embedder=FakeEmbedder(), detector=fake_detector()
    )
    assert result["gallery_people"] == 2  # half of the four people with several photos
    assert result["gallery_people"] + result["known_probes"] + result["stranger_images"] == sum(PEOPLE.values())
    assert result["strangers_before"]["rate"] == 1.0  # tau 4: everyone is named before
    assert result["corrections"] == result["stranger_identities"]
    assert result["negatives_same_name_after"] == 0  # tau 4 names them, but never again as the corrected person
    assert "corrections recorded" in corrections.text(result)
    assert "corrections" in faceapp.bench.MODULE_SUITES

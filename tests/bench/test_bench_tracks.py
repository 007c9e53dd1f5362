"""`faceapp bench tracks`: the labels each behaviour shows and the figures counted from them, on made-up tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import faceapp.bench
from faceapp.bench.track_metrics import UNDECIDED, UNKNOWN, TrackSequence, figures, shown_labels, swap_delay
from faceapp.core.matching import GallerySnapshot
from faceapp.core.track_evidence import EvidenceRules
from faceapp.core.types import MatchRule

RULE = MatchRule(0.3)


def unit(*values: float) -> np.ndarray:
    v = np.zeros(8, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


ADA, BOB = unit(1), unit(0, 1)
GALLERY = GallerySnapshot("m", np.array([1, 2]), {1: "Ada", 2: "Bob"}, np.stack([ADA, BOB]))


def seq(vectors: list[np.ndarray], truth: int | None) -> TrackSequence:
    n = len(vectors)
    return TrackSequence("test", truth, np.stack(vectors), np.ones(n, bool), np.ones(n), 10.0)


def test_one_odd_frame_flickers_per_frame_but_not_with_evidence() -> None:
    track = seq([ADA] * 5 + [unit(0, 0, 1)] + [ADA] * 4, truth=1)
    assert shown_labels(track, GALLERY, RULE, "per-frame")[5] == UNKNOWN
    slow = EvidenceRules(quick_within=0)  # no quick name: three frames
    labels = shown_labels(track, GALLERY, RULE, "evidence", slow)
    assert labels[:2] == [UNDECIDED, UNDECIDED]
    assert labels[2:] == [1] * 8
    assert shown_labels(track, GALLERY, RULE, "evidence")[0] == 1  # the default names a face this near at once
    per_frame, evidence = (figures([track], GALLERY, RULE, b, slow) for b in ("per-frame", "evidence"))
    assert per_frame["label_changes_per_track"] == 2
    assert evidence["label_changes_per_track"] == 0
    assert evidence["first_correct_s_p50"] == pytest.approx(0.2)  # the third frame, at 10 frames a second
    assert evidence["named_within_1s"] == 1.0


def test_a_stranger_named_in_one_frame_is_a_wrong_track_per_frame_only() -> None:
    stranger = seq([unit(0, 0, 1)] * 4 + [unit(0.95, 0, 0.31)] + [unit(0, 0, 1)] * 5, truth=None)  # d 0.1 to Ada
    per_frame = figures([stranger], GALLERY, RULE, "per-frame")
    assert per_frame["wrong_name_per_track"] == 1.0
    assert per_frame["wrong_name_per_frame"] == pytest.approx(0.1)
    assert figures([stranger], GALLERY, RULE, "evidence")["wrong_name_per_track"] == 0.0
    assert figures([stranger], GALLERY, RULE, "evidence")["named_within_1s"] is None  # no known track


def test_a_swap_drops_the_old_name_sooner_than_the_vote() -> None:
    ada, bob = seq([ADA] * 6, truth=1), seq([BOB] * 6, truth=2)
    assert swap_delay(ada, bob, GALLERY, RULE, "per-frame") == 0
    assert swap_delay(ada, bob, GALLERY, RULE, "vote") == 2  # until Bob holds the majority of the last 5 frames
    assert swap_delay(ada, bob, GALLERY, RULE, "evidence") == 1  # one far frame is held aside; two are a swap


def test_the_suite_is_registered() -> None:
    assert faceapp.bench.MODULE_SUITES["tracks"] == "faceapp.bench.tracks"
    assert "tracks" in faceapp.bench.build_parser().format_help()


def test_people_file_keeps_only_its_people(tmp_path: Path) -> None:
    """--people: tune on peopleDevTrain's people, report on peopleDevTest's, never both."""
    from faceapp.bench.tracks import track_people

    for name, count in (("Ann_A", 6), ("Ben_B", 7), ("Cy_C", 6), ("Di_D", 2)):
        (tmp_path / name).mkdir()
        for i in range(1, count + 1):
            (tmp_path / name / f"{name}_{i:04d}.jpg").write_bytes(b"")
    (tmp_path / "peopleDevTrain.txt").write_text("2\nAnn_A\t6\nDi_D\t2\n")
    (tmp_path / "peopleDevTest.txt").write_text("2\nBen_B\t7\nCy_C\t6\n")

    def folders(people: list[list[Path]]) -> list[str]:
        return [imgs[0].parent.name for imgs in people]

    assert folders(track_people(tmp_path, 6)) == ["Ann_A", "Ben_B", "Cy_C"]
    assert folders(track_people(tmp_path, 6, "peopleDevTrain.txt")) == ["Ann_A"]  # Di_D has too few photos
    assert folders(track_people(tmp_path, 6, "peopleDevTest.txt")) == ["Ben_B", "Cy_C"]
    assert len(track_people(tmp_path, 6, "peopleDevTest.txt")[0]) == 7

"""The labels a live track shows frame by frame under three behaviours, and the figures `bench tracks` reports.

- per-frame: each frame shows the rule's answer for the track's latest embedding (no memory);
- vote: the old live Tracker (core.live.Tracker.vote): the person most often nearest over the last 5 frames, with
  the medians of their distances, under the rule;
- evidence: core.track_evidence, the app's behaviour now (undecided until the evidence is clear).

A shown label is a person id, UNKNOWN or UNDECIDED. A name is wrong when it is not the track's person (any name on a
stranger's track is wrong); undecided is no name.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

import numpy as np

from faceapp.core.matching import GallerySnapshot
from faceapp.core.track_evidence import EvidenceBook, EvidenceRules
from faceapp.core.types import MatchRule

UNKNOWN, UNDECIDED = -1, -2
T = TypeVar("T")
BEHAVIOURS = ("per-frame", "vote", "evidence")


@dataclass(frozen=True)
class TrackSequence:
    """One track as the live view would see it: an embedding per frame, which frames have a fresh one, the truth."""

    source: str
    truth: int | None  # the gallery person this is, None for a stranger
    embeddings: np.ndarray  # (n, dim): the track's latest embedding in each frame
    fresh: np.ndarray  # (n,) bool: a new embedding in this frame (the others repeat the previous one)
    qualities: np.ndarray  # (n,) in [0, 1], of each frame's own face
    fps: float
    own: np.ndarray | None = None  # (n, dim): each frame's own embedding (None: `embeddings`, every frame fresh)


def shown_labels(
    seq: TrackSequence, gallery: GallerySnapshot, rule: MatchRule, behaviour: str, rules: EvidenceRules | None = None
) -> list[int]:
    """The label shown in each frame of `seq` under `behaviour`."""
    matches = gallery.identify(seq.embeddings, 4.0)  # the rule is applied below, as the view does
    if behaviour == "per-frame":
        return [
            m.person_id if rule.accepts(m.distance, m.runner_up) and m.person_id is not None else UNKNOWN
            for m in matches
        ]
    if behaviour == "vote":
        history: deque[tuple[int | None, float, float]] = deque(maxlen=5)
        out = []
        for m in matches:
            history.append((m.person_id, m.distance, m.runner_up))
            pid, _ = Counter(p for p, _, _ in history).most_common(1)[0]
            mine = [(d, r) for p, d, r in history if p == pid]
            d, r = float(np.median([d for d, _ in mine])), float(np.median([r for _, r in mine]))
            out.append(pid if pid is not None and rule.accepts(d, r) else UNKNOWN)
        return out
    book = EvidenceBook(rules)
    track, out = 1, []
    own = seq.embeddings if seq.own is None else seq.own
    for i in range(len(seq.embeddings)):
        # As in the workers: a frame is embedded on the tracker's cadence, and in every frame while undecided.
        fresh = bool(seq.fresh[i]) or book.undecided(track)
        if fresh and book.observe(track, own[i], float(seq.qualities[i]), i / seq.fps, rule, ""):
            book.rename(track, track + 1)
            track += 1
        verdict = book.decide(track, gallery, rule)
        if verdict.state == "undecided":
            out.append(UNDECIDED)
        else:
            out.append(verdict.person_id if verdict.named and verdict.person_id is not None else UNKNOWN)
    return out


def label_changes(labels: Sequence[T], undecided: T) -> int:
    """Label changes after the first decision: leaving the initial undecided frames is no change (bench tracks and
    bench video count flicker this one way)."""
    start = next((i for i, v in enumerate(labels) if v != undecided), len(labels))
    return sum(a != b for a, b in pairwise(labels[start:]))


def figures(
    seqs: list[TrackSequence],
    gallery: GallerySnapshot,
    rule: MatchRule,
    behaviour: str,
    rules: EvidenceRules | None = None,
) -> dict[str, Any]:
    """Wrong names per face-frame and per track, time to the first correct name, label changes per track."""
    frames = wrong_frames = wrong_tracks = undecided = 0
    changes, first_s, known = [], [], 0
    for seq in seqs:
        labels = shown_labels(seq, gallery, rule, behaviour, rules)
        wrong = [v >= 0 and v != seq.truth for v in labels]
        frames += len(labels)
        wrong_frames += sum(wrong)
        wrong_tracks += any(wrong)
        undecided += sum(v == UNDECIDED for v in labels)
        changes.append(label_changes(labels, UNDECIDED))
        if seq.truth is not None:
            known += 1
            hit = next((i for i, v in enumerate(labels) if v == seq.truth), None)
            first_s.append(np.inf if hit is None else hit / seq.fps)
    tracks = len(seqs)
    times = np.array(first_s)
    named = times[np.isfinite(times)]
    return {
        "tracks": tracks,
        "known_tracks": known,
        "face_frames": frames,
        "wrong_name_per_frame": wrong_frames / frames if frames else 0.0,
        "wrong_name_per_track": wrong_tracks / tracks if tracks else 0.0,
        "wrong_tracks": wrong_tracks,
        "named_within_1s": float(np.mean(times <= 1.0)) if known else None,
        "ever_named_right": float(np.mean(np.isfinite(times))) if known else None,
        "first_correct_s_p50": float(np.percentile(named, 50)) if named.size else None,
        "first_correct_s_p95": float(np.percentile(named, 95)) if named.size else None,
        "label_changes_per_track": float(np.mean(changes)) if changes else 0.0,
        "undecided_share": undecided / frames if frames else 0.0,
    }


def swap_delay(
    before: TrackSequence,
    after: TrackSequence,
    gallery: GallerySnapshot,
    rule: MatchRule,
    behaviour: str,
    rules: EvidenceRules | None = None,
) -> int:
    """Frames after a swap (before's person leaves, after's steps into the same box) that still show before's name
    (`before` must be named by its end; -1 when it was not)."""
    joined = TrackSequence(
        "swap",
        None,
        np.vstack([before.embeddings, after.embeddings]),
        np.concatenate([before.fresh, after.fresh]),
        np.concatenate([before.qualities, after.qualities]),
        before.fps,
    )
    labels = shown_labels(joined, gallery, rule, behaviour, rules)
    n = len(before.embeddings)
    if labels[n - 1] != before.truth:
        return -1
    return next((i for i, v in enumerate(labels[n:]) if v != before.truth), len(labels) - n)

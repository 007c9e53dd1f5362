"""Evidence over a track: a live face is named from all its frames, not from the latest one.

Each track keeps the fresh embeddings of its last frames (`EvidenceRules.window`), weighted by face quality (size,
sharpness, pose). Their weighted mean, made unit length again, is matched against the gallery under the app's
MatchRule (tau and margin, core.types) with the one distance d = ||a - b||^2; the decision has three states:

- undecided, until `name_after` fresh frames agree on an accepted person (a name) or `unknown_after` frames found
  nobody (Unknown); the view marks it;
- named X: kept while the evidence stays nearest X within tau * (1 + hold), so one bad frame cannot withdraw it (nor
  a gallery change that left X's samples and corrections alone); corrected at once when the evidence comes to
  accept another person (a wrong early guess as frames add up);
- Unknown: named as soon as the evidence is accepted (an enrollment, or the face turning to the camera).

A fresh embedding farther than tau * swap_factor from the evidence is held aside and not added: one bad frame
changes nothing. `swap_after` such frames in a row that agree with each other are another person in the same box: the
old evidence ends (its summary goes to the sink) and the track starts over from them, so a swap never keeps the old
name. Thread affinity: an EvidenceBook belongs to one thread (a live worker's).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from faceapp.core.align import sample_crop
from faceapp.core.distance import distances, normalize
from faceapp.core.evidence import TrackSink, TrackSummary
from faceapp.core.matching import GallerySnapshot
from faceapp.core.quality import QualityLimits, sharpness, yaw_ratio
from faceapp.core.types import Detection, FaceSample, Match, MatchRule
from faceapp.errors import BadInputError

log = logging.getLogger(__name__)

Certainty = Literal["undecided", "named", "unknown"]
MIN_QUALITY = 0.05  # a poor frame still counts a little: weights never reach 0
DOUBT_WAIT_S = 0.25  # a frame held aside is checked again this long after (consecutive frames agree even on a hand)


@dataclass(frozen=True)
class EvidenceRules:
    """How much evidence a decision needs (counts are fresh embeddings; docs/benchmarks.md, "Track evidence")."""

    window: int = 8  # the latest fresh embeddings the evidence is the mean of (15 let a look-alike keep a name)
    name_after: int = 3  # fresh frames before a name may appear
    unknown_after: int = 5  # ... and before "Unknown" may (later than a name: Unknown, then the name, is a change)
    hold: float = 0.15  # a named track keeps its name while the evidence is within tau * (1 + hold) of them
    swap_after: int = 2  # fresh frames in a row far from the evidence (and near each other) that restart it
    swap_factor: float = 1.5  # "far": beyond tau * swap_factor (tau alone is too strict for a frame of a turned face)
    best_frames: int = 5  # frames kept for the track's summary, by quality
    # A confident name sooner: after `quick_after` fresh frames when the evidence is within tau * quick_within and
    # the next person is at least (1 + quick_margin) times as far (quick_within 0: never). Tuned on LFW's
    # peopleDevTrain tracks (docs/benchmarks.md, "Track evidence"): 0.6 named one more stranger there, 0.5 none.
    quick_within: float = 0.5
    quick_after: int = 1
    quick_margin: float = 0.5
    # A name is given (not kept: the hold band does that) only within tau * name_within of the evidence: the mean of
    # several frames is tighter than one frame, so the band tau was set on for one frame lets look-alikes in.
    # peopleDevTrain: 0.7 named 1 of 218 tracks wrongly (1.0: 5) and known people as fast (99.1% within 1 s).
    name_within: float = 0.7


@dataclass(frozen=True)
class Verdict:
    """A track's decision: its state, and the person nearest its evidence with the evidence's distances.

    `person_id` and `name` are the nearest enrolled person whatever the state; only a "named" verdict names them.
    """

    state: Certainty
    person_id: int | None = None
    name: str | None = None
    distance: float = float("inf")  # the evidence's distance to its nearest enrolled person
    runner_up: float = float("inf")  # ... and to the next one
    frames: int = 0  # fresh embeddings behind it

    @property
    def named(self) -> bool:
        """A name is shown."""
        return self.state == "named" and self.name is not None

    @property
    def label(self) -> str:
        """The person's name when named, else "Unknown" (also while undecided: the view adds its mark)."""
        return self.name if self.named and self.name else "Unknown"


UNDECIDED = Verdict("undecided")


def same_person(before: GallerySnapshot, after: GallerySnapshot, person_id: int | None) -> bool:
    """Whether a person's samples and corrections are the same in two snapshots (the same snapshot: True)."""
    if before is after:
        return True
    if person_id is None:
        return False
    for a, b in zip(before.rows_of(person_id), after.rows_of(person_id), strict=True):  # samples, corrections
        if (a.size or b.size) and (a.shape != b.shape or not np.array_equal(a, b)):
            return False
    return True


def face_quality(image: np.ndarray, detection: Detection, limits: QualityLimits | None = None) -> float:
    """A frame's weight in [MIN_QUALITY, 1]: size, sharpness and pose, each 1 at the enrollment limits (quality.py)."""
    lim = limits or QualityLimits()
    size = min(1.0, detection.size / lim.min_size)
    sharp = min(1.0, sharpness(image, detection) / lim.min_sharpness)
    pose = max(0.0, 1.0 - yaw_ratio(np.asarray(detection.landmarks)) / (2 * lim.max_yaw))
    return float(max(MIN_QUALITY, min(1.0, size * sharp * pose)))


@dataclass
class _Best:
    quality: float
    embedding: np.ndarray
    sample: FaceSample


@dataclass
class TrackEvidence:
    """One track's evidence since it started (or since a swap restarted it)."""

    rules: EvidenceRules
    first_seen: float
    last_seen: float = 0.0
    window: deque[tuple[np.ndarray, float]] = field(default_factory=deque)
    aside: list[tuple[np.ndarray, float]] = field(default_factory=list)  # far fresh frames in a row, with quality
    seen_before_aside: float = 0.0  # last_seen when the first of them came (the old person's last frame)
    aside_at: float = 0.0  # when the first of them came
    verdict: Verdict = UNDECIDED
    decided_id: int | None = None  # the person the track was last named (for the summary)
    best: list[_Best] = field(default_factory=list)
    _centre: np.ndarray | None = None
    _version: int = 0  # bumped by every frame added to the window
    _decided_for: tuple[GallerySnapshot, MatchRule, int] | None = None
    _named_under: GallerySnapshot | None = None  # the gallery the current name was given or last kept under

    def centre(self) -> np.ndarray | None:
        """The quality-weighted mean of the window's embeddings, not made unit length (None before the first).

        Its distance 2 - 2 c.g to a gallery embedding g is the weighted mean of the frames' own distances d = ||a-b||^2
        to g: on the scale tau was set on, so the rule means what it means for one frame.
        """
        if self._centre is None and self.window:
            vectors = np.stack([e for e, _ in self.window])
            weights = np.array([w for _, w in self.window], np.float32)
            self._centre = (weights[:, None] * vectors).sum(axis=0) / weights.sum()
        return self._centre

    def mean(self) -> np.ndarray | None:
        """The direction of the evidence: its centre made unit length (None before the first frame)."""
        centre = self.centre()
        return None if centre is None else normalize(centre)

    def add(self, embedding: np.ndarray, quality: float, far: float) -> bool:
        """Take a fresh embedding; True when it completes a swap (the caller restarts the track from `aside`).

        `far`: the distance from the evidence beyond which a frame is held aside (tau * swap_factor).
        """
        mean = self.mean()
        if mean is not None and float(distances(embedding, mean)[0, 0]) > far:
            if self.aside and float(distances(embedding, self.aside[-1][0])[0, 0]) > far:
                self.aside = []  # two far frames that disagree with each other: noise, not one new person
            if not self.aside:
                self.seen_before_aside = self.last_seen
            self.aside.append((np.asarray(embedding, np.float32), quality))
            return len(self.aside) >= self.rules.swap_after
        self.aside = []
        self.window.append((np.asarray(embedding, np.float32), quality))
        while len(self.window) > self.rules.window:
            self.window.popleft()
        self._centre = None
        self._version += 1
        return False

    def keep_frame(self, quality: float, embedding: np.ndarray, image: np.ndarray, detection: Detection) -> None:
        """Keep this frame for the summary if it is among the best few (the crop is made only then)."""
        if len(self.best) >= self.rules.best_frames and quality <= self.best[-1].quality:
            return
        try:
            crop, moved = sample_crop(image, detection)
        except BadInputError:
            return
        self.best.append(_Best(quality, np.asarray(embedding, np.float32), FaceSample(crop, moved, "live")))
        self.best.sort(key=lambda b: -b.quality)
        del self.best[self.rules.best_frames :]

    def decide(self, gallery: GallerySnapshot, rule: MatchRule) -> Verdict:
        """The decision from the evidence now, given the previous one (hysteresis)."""
        if (
            self._decided_for is not None
            and self._decided_for[0] is gallery
            and self._decided_for[1:]
            == (
                rule,
                self._version,
            )
        ):
            return self.verdict  # nothing new since the last frame's decision
        centre = self.centre()
        if centre is None:
            self.verdict = UNDECIDED
            return self.verdict
        n = len(self.window)
        match = gallery.identify(centre, rule)[0]
        current = self.verdict
        state: Certainty
        if current.named and match.person_id == current.person_id:
            # The hold band keeps a name through frames, and through a gallery change that left this person's
            # samples and corrections as they were; a person whose samples changed is decided by the rule alone.
            held = self._named_under is None or same_person(self._named_under, gallery, match.person_id)
            keep = match.distance <= rule.threshold * (1 + self.rules.hold) if held else match.accepted
            state = "named" if keep else "unknown"
        elif self._nameable(match, rule) and (
            n >= self.rules.name_after or current.state != "undecided" or self._quick(match, rule, n)
        ):
            state = "named"  # first name (a confident one early), or a correction / an Unknown named as evidence grew
        elif current.state != "undecided" or n >= self.rules.unknown_after:
            state = "unknown"
        else:
            state = "undecided"
        self.verdict = Verdict(state, match.person_id, match.name, match.distance, match.runner_up, n)
        if state == "named":
            self.decided_id = match.person_id
        elif state == "unknown":
            self.decided_id = None
        self._named_under = gallery if state == "named" else None
        self._decided_for = (gallery, rule, self._version)
        return self.verdict

    def _nameable(self, match: Match, rule: MatchRule) -> bool:
        return match.accepted and match.distance <= rule.threshold * self.rules.name_within

    def _quick(self, match: Match, rule: MatchRule, n: int) -> bool:
        r = self.rules
        return (
            r.quick_within > 0
            and n >= r.quick_after
            and match.distance <= rule.threshold * r.quick_within
            and match.runner_up >= (1 + r.quick_margin) * match.distance
        )

    def summary(self, track_id: int, model: str) -> TrackSummary | None:
        """What the sink gets when the track ends (None when no frame was kept)."""
        if not self.best:
            return None
        return TrackSummary(
            track_id,
            self.first_seen,
            self.last_seen,
            self.decided_id,
            model,
            np.stack([b.embedding for b in self.best]),
            tuple(b.sample for b in self.best),
            tuple(b.quality for b in self.best),
        )


class EvidenceBook:
    """The evidence of every live track of one worker, and the sink that hears of tracks that end.

    Thread affinity: the worker's thread only (observe, decide, end); the sink is called from it.
    """

    def __init__(self, rules: EvidenceRules | None = None, sink: TrackSink | None = None) -> None:
        self.rules = rules or EvidenceRules()
        self.sink = sink
        self.tracks: dict[int, TrackEvidence] = {}

    def observe(
        self,
        track_id: int,
        embedding: np.ndarray,
        quality: float,
        now: float,
        rule: MatchRule,
        model: str,
        frame: tuple[np.ndarray, Detection] | None = None,
    ) -> bool:
        """A fresh embedding of a track (`frame`: its image and detection, for the summary's crops).

        True when it completed a swap: the old evidence has ended (the sink heard of it) and the track starts over
        from the frames that disagreed with it; the caller gives it a new id (`rename`).
        """
        ev = self.tracks.get(track_id)
        if ev is None:
            ev = self.tracks[track_id] = TrackEvidence(self.rules, now, now)
        far = rule.threshold * self.rules.swap_factor
        swapped = ev.add(embedding, quality, far)
        if len(ev.aside) == 1:
            ev.aside_at = now
        if swapped:
            ev.last_seen = ev.seen_before_aside
            self._send(track_id, ev, model)
            restart = TrackEvidence(self.rules, now, now)
            for vector, weight in ev.aside:
                restart.add(vector, weight, far)
            ev = self.tracks[track_id] = restart
        ev.last_seen = now
        if frame is not None and self.sink is not None and not ev.aside:  # a frame held aside is not this person's
            ev.keep_frame(quality, embedding, frame[0], frame[1])
        return swapped

    def seen(self, track_ids: Iterable[int], now: float) -> None:
        """These tracks were in the latest frame (with or without a fresh embedding)."""
        for tid in track_ids:
            ev = self.tracks.get(tid)
            if ev is not None:
                ev.last_seen = now

    def undecided(self, track_id: int) -> bool:
        """The track has no decision yet: its faces are worth embedding in every frame until it has one."""
        ev = self.tracks.get(track_id)
        return ev is None or ev.verdict.state == "undecided"

    def in_doubt(self, track_id: int, now: float) -> bool:
        """A fresh frame far from the track's evidence was held aside at least DOUBT_WAIT_S ago: the next one tells a
        bad moment (a hand, a blur: over by then) from another person in the box."""
        ev = self.tracks.get(track_id)
        return ev is not None and bool(ev.aside) and now - ev.aside_at >= DOUBT_WAIT_S

    def rename(self, old: int, new: int) -> None:
        """The tracker gave a swapped track a new id."""
        if old in self.tracks:
            self.tracks[new] = self.tracks.pop(old)

    def decide(self, track_id: int, gallery: GallerySnapshot, rule: MatchRule) -> Verdict:
        """The track's decision now (undecided for a track with no fresh embedding yet)."""
        ev = self.tracks.get(track_id)
        return UNDECIDED if ev is None else ev.decide(gallery, rule)

    def forget_decisions(self) -> None:
        """A new gallery or rule: keep the evidence and decide again from it at the next `decide`.

        A named track keeps its name (hold band included) when its person is still nearest and their samples and
        corrections are unchanged; a person removed, refused by a correction or re-enrolled is decided afresh.
        """
        for ev in self.tracks.values():
            ev._decided_for = None

    def retain(self, alive: Iterable[int], model: str) -> None:
        """End every track not in `alive` (the tracker dropped it)."""
        keep = set(alive)
        for tid in [t for t in self.tracks if t not in keep]:
            self._send(tid, self.tracks.pop(tid), model)

    def end_all(self, model: str) -> None:
        """End every track (a scene cut, a model switch, the worker stopping)."""
        self.retain((), model)

    def _send(self, track_id: int, ev: TrackEvidence, model: str) -> None:
        if self.sink is None:
            return
        summary = ev.summary(track_id, model)
        if summary is None:
            return
        try:
            self.sink(summary)
        except Exception:  # a sink must not take the live view down
            log.exception("the track sink failed on track %d; its summary is dropped", track_id)

"""Typed value objects passed between the core, storage and UI layers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# MTCNN's five landmark order, in image coordinates (x, y): the eye on the image's left first.
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

# The face detectors the app offers (core/detect.py create_detector); the first is the default.
DETECTORS = ("mtcnn", "yunet")


@dataclass(frozen=True)
class Detection:
    """One detected face: box (x1, y1, x2, y2) in pixels, score in [0, 1], landmarks (5, 2) as (x, y)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray = field(compare=False)

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def size(self) -> float:
        """The shorter side of the box, the figure compared with a minimum face size."""
        return min(self.width, self.height)

    def shifted(self, dx: float, dy: float, scale: float = 1.0) -> Detection:
        """This detection in another frame: coordinates scaled by `scale`, then moved by (dx, dy)."""
        x1, y1, x2, y2 = self.box
        box = (x1 * scale + dx, y1 * scale + dy, x2 * scale + dx, y2 * scale + dy)
        return Detection(box, self.score, self.landmarks * scale + np.array([dx, dy]))


@dataclass(frozen=True)
class Face:
    """A detected face with its embedding (unit length) and the aligned chip the embedder saw."""

    detection: Detection
    embedding: np.ndarray = field(compare=False)
    chip: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FaceSample:
    """What the gallery keeps of one enrolled face, enough to re-embed it with any model.

    `image` is an RGB uint8 crop around the face (the face and a wide margin, at most a few hundred pixels),
    and `detection` is the face's box and landmarks in that crop's coordinates.
    """

    image: np.ndarray = field(compare=False, repr=False)
    detection: Detection
    source: str = ""


@dataclass(frozen=True)
class MatchRule:
    """When the nearest enrolled person counts as a match: d <= threshold (tau), and clear of the next person.

    `margin` is the ambiguity guard of 1:K search: the nearest *other* person must be at least (1 + margin) times as
    far as the nearest (runner_up >= (1 + margin) * d), otherwise the face is too close to call and stays Unknown.
    0 turns the guard off. It has no say in 1:1 verification, where there is no other person.
    """

    threshold: float
    margin: float = 0.0

    @classmethod
    def of(cls, rule: MatchRule | float) -> MatchRule:
        """`rule` itself, or a distance-only rule for a bare tau."""
        return rule if isinstance(rule, MatchRule) else cls(float(rule))

    def within(self, distance: float) -> bool:
        """d <= tau."""
        return distance <= self.threshold

    def clear(self, distance: float, runner_up: float) -> bool:
        """The nearest person stands clear of the next one (always true with margin 0 or no other person).

        With a margin, a tie is never clear, not even at d = 0 (the same face enrolled under two names).
        """
        return bool(self.clear_mask(np.asarray(distance), np.asarray(runner_up)))

    def clear_mask(self, distance: np.ndarray, runner_up: np.ndarray) -> np.ndarray:
        """`clear` element-wise, for arrays of distances and runner-up distances (the benchmark's form)."""
        clear = runner_up >= (1.0 + self.margin) * distance
        return clear if self.margin == 0 else clear & (runner_up > distance)

    def accepts(self, distance: float, runner_up: float = float("inf")) -> bool:
        """Both conditions: within tau and clear of the runner-up."""
        return self.within(distance) and self.clear(distance, runner_up)


@dataclass(frozen=True)
class Match:
    """The answer for one face: the nearest enrolled person, and whether the rule accepted them.

    `runner_up` is the distance to the nearest other person (inf when there is none, and in 1:1 verification).
    """

    person_id: int | None
    name: str | None
    distance: float
    accepted: bool
    runner_up: float = float("inf")
    runner_up_name: str | None = None
    ambiguous: bool = False  # within tau, but turned down because another person is nearly as near
    refused: bool = False  # the nearest person by distance was refused: the face is nearer to their corrections

    @property
    def label(self) -> str:
        """The name shown to the user: the person's name when accepted, else "Unknown"."""
        return self.name if self.accepted and self.name is not None else "Unknown"


@dataclass(frozen=True)
class Person:
    """An enrolled person as the storage layer returns it."""

    id: int
    name: str
    sample_count: int = 0

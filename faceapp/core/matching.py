"""Matching faces against the gallery: an immutable snapshot searched with one matrix product.

Identification (1:K) answers the nearest enrolled person, or Unknown when even the nearest is farther than tau, or
when the next person is nearly as near (the rule's margin, see MatchRule). Verification (1:1) compares a face with one
claimed person.

A person's distance is, by default, the mean of the probe's distances to all of that person's samples ("average"),
not the nearest sample's: with nearest-sample matching every extra sample is one more chance for a stranger to come
within tau, so
people with many samples drew strangers' names. The mean keeps a stranger's expected distance where it is with one
sample, and on LFW it kept strangers named flat from 1 to 30 samples per person where the nearest sample's rose
(docs/benchmarks.md, "Matching as samples grow"). With one sample per person both rules are the same. Each model
names its rule (ModelInfo.scoring): dlib-resnet keeps the nearest sample, where the mean measured worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from faceapp.core.distance import distances
from faceapp.core.types import Match, MatchRule

Scoring = Literal["average", "nearest"]
DEFAULT_SCORING: Scoring = "average"


@dataclass(frozen=True)
class GallerySnapshot:
    """Every enrolled sample's embedding for one model, frozen; swap in a new snapshot after each change."""

    model: str
    person_ids: np.ndarray = field(repr=False)
    names: dict[int, str] = field(repr=False)
    embeddings: np.ndarray = field(repr=False)
    scoring: Scoring = DEFAULT_SCORING  # a person's distance: the mean over their samples, or the nearest sample

    @classmethod
    def empty(cls, model: str, dim: int = 0) -> GallerySnapshot:
        """A gallery with nobody in it."""
        return cls(model, np.zeros(0, np.int64), {}, np.zeros((0, dim), np.float32))

    @property
    def sample_count(self) -> int:
        """How many enrolled samples the snapshot holds."""
        return int(self.person_ids.shape[0])

    @property
    def people_count(self) -> int:
        """How many distinct people have at least one sample."""
        return int(np.unique(self.person_ids).shape[0])

    @cached_property
    def _by_person(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The embeddings grouped by person, each group's first row, and the people (sorted, read-only).

        A gallery read in person order (the repository's) is used as it is, without a second copy of the matrix.
        """
        ids = self.person_ids
        if ids.shape[0] < 2 or bool(np.all(ids[1:] >= ids[:-1])):
            grouped, sorted_ids = self.embeddings, ids
        else:
            order = np.argsort(ids, kind="stable")
            grouped, sorted_ids = self.embeddings[order], ids[order]
        people, starts = np.unique(sorted_ids, return_index=True)
        people.flags.writeable = False
        return grouped, starts, people

    @cached_property
    def _means(self) -> np.ndarray:
        """Each person's mean embedding (K, D): under "average" scoring the mean of a probe's squared distances to
        a person's unit samples is 2 - 2 p.mean, so one row per person answers exactly (the in-memory index)."""
        grouped, starts, _ = self._by_person
        counts = np.diff(np.append(starts, grouped.shape[0])).astype(np.float32)
        return np.add.reduceat(grouped, starts, axis=0, dtype=np.float32) / counts[:, None]

    def build_index(self) -> GallerySnapshot:
        """Group the matrix by person (and average it, under "average" scoring) now, on the calling thread, so the
        first identify on the recognition thread does not pay for it; returns self."""
        _ = self._means if self.scoring == "average" else self._by_person
        return self

    def person_distances(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each probe row: the ids of the people in the gallery and each one's distance under `scoring`.

        Returns (people (K,), dist (N, K)); K is the number of people with samples.
        """
        probes = np.atleast_2d(embeddings)
        grouped, starts, people = self._by_person
        if people.shape[0] == 0:
            return people, np.zeros((probes.shape[0], 0), np.float32)
        if self.scoring == "nearest":
            return people, np.minimum.reduceat(distances(probes, grouped), starts, axis=1)
        p = np.asarray(probes, dtype=np.float32)
        return people, np.clip(2.0 - 2.0 * (p @ self._means.T), 0.0, 4.0)

    def identify(self, embeddings: np.ndarray, rule: MatchRule | float) -> list[Match]:
        """The nearest person for each probe row, with the runner-up, accepted under `rule` (a bare float is tau)."""
        rule = MatchRule.of(rule)
        probes = np.atleast_2d(embeddings)
        if self.sample_count == 0 or probes.shape[0] == 0:
            return [Match(None, None, float("inf"), False) for _ in range(probes.shape[0])]
        people, d = self.person_distances(probes)
        best, dist1, second, dist2 = two_nearest(d)
        matches = []
        for row in range(d.shape[0]):
            pid = int(people[best[row]])
            dist, runner_up = float(dist1[row]), float(dist2[row])
            runner_name = self.names.get(int(people[second[row]])) if second[row] >= 0 else None
            within, clear = rule.within(dist), rule.clear(dist, runner_up)
            matches.append(
                Match(
                    pid,
                    self.names.get(pid),
                    dist,
                    within and clear,
                    runner_up,
                    runner_name,
                    ambiguous=within and not clear,
                )
            )
        return matches

    def verify(self, embedding: np.ndarray, person_id: int, threshold: float) -> Match:
        """Whether one probe is the person `person_id`: their distance (as in identify) within threshold."""
        mask = self.person_ids == person_id
        name = self.names.get(person_id)
        if not mask.any():
            return Match(person_id, name, float("inf"), False)
        d = distances(np.atleast_2d(embedding), self.embeddings[mask])
        dist = float(d.min() if self.scoring == "nearest" else d.mean())
        return Match(person_id, name, dist, dist <= threshold)


def two_nearest(per_person: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For a (probes, people) distance matrix: the nearest column and its distance, and the second nearest column
    and its distance (-1 and inf when there is only one column)."""
    d = np.asarray(per_person)
    rows = np.arange(d.shape[0])
    if d.shape[1] < 2:
        best = np.zeros(d.shape[0], np.int64)
        return best, d[rows, best], np.full(d.shape[0], -1), np.full(d.shape[0], np.inf)
    two = np.argpartition(d, 1, axis=1)[:, :2]
    swap = d[rows, two[:, 1]] < d[rows, two[:, 0]]
    two[swap] = two[swap][:, ::-1]
    return two[:, 0], d[rows, two[:, 0]], two[:, 1], d[rows, two[:, 1]]

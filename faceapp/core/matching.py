"""Matching faces against the gallery: an immutable snapshot searched with one matrix product.

Identification (1:K) answers the nearest enrolled person, or Unknown when even the nearest is farther than tau.
Verification (1:1) compares a face with one claimed person. With several samples per person the nearest sample counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceapp.core.distance import distances
from faceapp.core.types import Match


@dataclass(frozen=True)
class GallerySnapshot:
    """Every enrolled sample's embedding for one model, frozen; swap in a new snapshot after each change."""

    model: str
    person_ids: np.ndarray = field(repr=False)
    names: dict[int, str] = field(repr=False)
    embeddings: np.ndarray = field(repr=False)

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

    def person_distances(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each probe row: the ids of the people in the gallery and each one's nearest-sample distance.

        Returns (people (K,), dist (N, K)); K is the number of people with samples.
        """
        probes = np.atleast_2d(embeddings)
        people, inverse = np.unique(self.person_ids, return_inverse=True)
        if people.shape[0] == 0:
            return people, np.zeros((probes.shape[0], 0), np.float32)
        d = distances(probes, self.embeddings)
        per_person = np.full((probes.shape[0], people.shape[0]), np.inf, dtype=np.float32)
        for column in range(people.shape[0]):
            per_person[:, column] = d[:, inverse == column].min(axis=1)
        return people, per_person

    def identify(self, embeddings: np.ndarray, threshold: float) -> list[Match]:
        """The best person for each probe row, accepted when its distance <= threshold."""
        probes = np.atleast_2d(embeddings)
        if self.sample_count == 0 or probes.shape[0] == 0:
            return [Match(None, None, float("inf"), False) for _ in range(probes.shape[0])]
        d = distances(probes, self.embeddings)
        best = d.argmin(axis=1)
        matches = []
        for row, column in enumerate(best):
            pid = int(self.person_ids[column])
            dist = float(d[row, column])
            matches.append(Match(pid, self.names.get(pid), dist, dist <= threshold))
        return matches

    def verify(self, embedding: np.ndarray, person_id: int, threshold: float) -> Match:
        """Whether one probe is the person `person_id`: their nearest sample within threshold."""
        mask = self.person_ids == person_id
        name = self.names.get(person_id)
        if not mask.any():
            return Match(person_id, name, float("inf"), False)
        dist = float(distances(np.atleast_2d(embedding), self.embeddings[mask]).min())
        return Match(person_id, name, dist, dist <= threshold)

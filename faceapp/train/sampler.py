"""The P x K batch sampler of triplet training: P people a batch, K images each (FaceNet; Hermans et al. 2017)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np


class PKSampler:
    """Batches of indices into `labels`: P distinct people, K images each, every image of a person used before any
    repeats. People with fewer than 2 images give no positive pair and are left out; a person with fewer than K
    images has some drawn twice in a batch (never more than needed)."""

    def __init__(self, labels: Sequence[int] | np.ndarray, p: int, k: int, seed: int = 0) -> None:
        """Index the images by person; ValueError when fewer than P people have 2 or more images."""
        if p < 2 or k < 2:
            raise ValueError("P and K must both be at least 2 (a triplet needs two people and two images of one).")
        by_person: dict[int, list[int]] = defaultdict(list)
        for index, label in enumerate(np.asarray(labels).tolist()):
            by_person[int(label)].append(index)
        self.people = {person: idx for person, idx in by_person.items() if len(idx) >= 2}
        if len(self.people) < p:
            raise ValueError(f"{len(self.people)} people have 2 or more images; a batch needs P = {p}.")
        self.p, self.k = p, k
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Batches an epoch: about every usable image once."""
        images = sum(len(v) for v in self.people.values())
        return max(1, images // (self.p * self.k))

    def __iter__(self) -> Iterator[np.ndarray]:
        """One epoch of batches (each an int64 array of P * K indices, person by person)."""
        queues = {person: self._shuffled(person) for person in self.people}
        for _ in range(len(self)):
            people = self.rng.choice(np.fromiter(self.people, dtype=np.int64), size=self.p, replace=False)
            batch: list[int] = []
            for person in people.tolist():
                for _ in range(self.k):
                    if not queues[person]:
                        queues[person] = self._shuffled(person)
                    batch.append(queues[person].pop())
            yield np.asarray(batch, dtype=np.int64)

    def _shuffled(self, person: int) -> list[int]:
        order = list(self.people[person])
        self.rng.shuffle(order)
        return order

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

Corrections (issue 13): a person may have negatives, faces the user said are not them. A probe nearer to one of a
person's negatives than to every one of that person's own samples (nearest negative < nearest sample, the same d) is
refused for that person: when they are its nearest person it is Unknown (d inf, `refused`), and nobody else is named
in their place (handing it to the next person named strangers whom the margin had kept Unknown, measured). 1:1
verification refuses the claim the same way. docs/benchmarks.md, "Corrections (issue 13)", measures the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from faceapp.core.distance import distances
from faceapp.core.gallery_index import INDEX_MIN_ROWS, FedRows, GalleryIndex, group_means
from faceapp.core.types import Match, MatchRule

Scoring = Literal["average", "nearest"]
DEFAULT_SCORING: Scoring = "average"
CANDIDATE_PEOPLE = 16  # rows the graph proposes per probe, scored exactly: people (their means) under "average"
CANDIDATE_SAMPLES = 64  # samples under "nearest" (a person may have several among the nearest)
RESCORED_PEOPLE = 4  # under "nearest": the nearest people found, scored again on all their samples


@dataclass(frozen=True)
class GallerySnapshot:
    """Every enrolled sample's embedding for one model, frozen; swap in a new snapshot after each change."""

    model: str
    person_ids: np.ndarray = field(repr=False)
    names: dict[int, str] = field(repr=False)
    embeddings: np.ndarray = field(repr=False)
    scoring: Scoring = DEFAULT_SCORING  # a person's distance: the mean over their samples, or the nearest sample
    # Corrections: negatives[i] is a face that is not the person negative_ids[i] (same model as the samples).
    negative_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    negatives: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), repr=False)
    # identify walks an HNSW graph (core/gallery_index.py) instead of reading every row from this many rows on
    index_min_rows: int = field(default=INDEX_MIN_ROWS, compare=False, repr=False)

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
        return group_means(grouped, starts)

    def build_index(self) -> GallerySnapshot:
        """Group the matrix by person (and average it, under "average" scoring) now, on the calling thread, so the
        first identify on the recognition thread does not pay for it; returns self."""
        _ = self._means if self.scoring == "average" else self._by_person
        _ = self._corrections, self._negatives_by_person
        _ = self._index
        return self

    @cached_property
    def _index(self) -> tuple[GalleryIndex, np.ndarray, np.ndarray | None] | None:
        """For large galleries: the graph over the rows identify scores (the people's means under "average"
        scoring, their samples under "nearest"), those rows, and each row's person column (None: row i is person
        i); None below index_min_rows rows (or without faiss), where identify reads every row."""
        rows = self._means if self.scoring == "average" else self._by_person[0]
        if rows.shape[0] < max(1, self.index_min_rows):
            return None
        graph = GalleryIndex.build(rows)
        return None if graph is None else (graph, rows, self._columns())

    def _columns(self) -> np.ndarray | None:
        """Under "nearest" scoring each sample row's person column; None under "average" (row i is person i)."""
        if self.scoring != "nearest":
            return None
        grouped, starts, _ = self._by_person
        sizes = np.diff(np.append(starts, grouped.shape[0]))
        return np.repeat(np.arange(starts.shape[0], dtype=np.int32), sizes)

    def adopt(self, fed: FedRows | None) -> GallerySnapshot:
        """Take the means and the graph an IndexFeed built while this snapshot's rows were read (engine._loaded),
        when they are its own (the same people in the same order, every row); else identify computes them as
        before. Returns self.

        They go where the cached properties _means and _index keep what they compute (the instance's __dict__),
        before anything has read them: the snapshot is not yet shared."""
        if fed is None:
            return self
        grouped, _, people = self._by_person
        if fed.samples != grouped.shape[0] or not np.array_equal(people, fed.people):
            return self
        if self.scoring == "average":
            if fed.means is None or fed.means.shape != (people.shape[0], grouped.shape[1]):
                return self
            self.__dict__["_means"] = rows = fed.means
        elif fed.means is not None or fed.rows != grouped.shape[0]:
            return self
        else:
            rows = grouped
        if fed.graph is not None and fed.graph.rows == rows.shape[0] and rows.shape[0] >= max(1, self.index_min_rows):
            self.__dict__["_index"] = (fed.graph, rows, self._columns())
        return self

    @property
    def indexed(self) -> bool:
        """Whether identify walks the graph (a large gallery) rather than reading every row."""
        return self._index is not None

    @property
    def index_nbytes(self) -> int:
        """The memory of the index (its graph, its copy of the rows, the row-to-person map); 0 without one."""
        index = self._index
        return 0 if index is None else index[0].nbytes + (0 if index[2] is None else index[2].nbytes)

    def nearest_two(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each probe row: the nearest person's column among person_distances' people and distance, and the
        runner-up's (-1 and inf when there is none). On a large gallery the graph proposes candidate rows and
        they are scored exactly; else every row is read."""
        probes = np.atleast_2d(np.asarray(embeddings, np.float32))
        index = self._index
        if index is None:
            return two_nearest(self.person_distances(probes)[1])
        n = probes.shape[0]
        best, second = np.zeros(n, np.int64), np.full(n, -1, np.int64)
        d1, d2 = np.full(n, np.inf, np.float32), np.full(n, np.inf, np.float32)
        k = CANDIDATE_PEOPLE if index[2] is None else CANDIDATE_SAMPLES
        nobody = np.zeros(0, np.int64)
        several = self._by_person[2].shape[0] > 1
        for i, probe in enumerate(probes):
            people, dist = self._walk(probe, k, nobody) if np.isfinite(probe).all() else (nobody, nobody)
            if people.size < (2 if several else 1):  # no runner-up found (one person filled the walk), or a
                # probe the walk cannot take (NaN): this probe reads every row, as below the index's size
                one = two_nearest(self.person_distances(probe[None, :])[1])
                best[i], d1[i], second[i], d2[i] = (int(one[0][0]), one[1][0], int(one[2][0]), one[3][0])
                continue
            ranked = np.argsort(dist, kind="stable")
            best[i], d1[i] = people[int(ranked[0])], dist[int(ranked[0])]
            if ranked.size > 1:
                second[i], d2[i] = people[int(ranked[1])], dist[int(ranked[1])]
        return best, d1, second, d2

    def _walk(self, probe: np.ndarray, k: int, skip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One walk of the graph to `k` candidate rows: the distinct people found (columns among person_distances'
        people, nearest first as found, leaving out the sorted person ids `skip`) and each one's exact distance
        (under "nearest" the first RESCORED_PEOPLE of them, scored again on all of their samples)."""
        graph, rows, column = self._index  # type: ignore[misc]
        people = self._by_person[2]
        found = graph.candidates(probe, k)
        if column is None:  # a row is a person's mean: distances()' formula on it is their exact distance
            ranked = found[~among(skip, people[found])]
            return ranked, np.clip(2.0 - 2.0 * (rows[ranked] @ probe), 0.0, 4.0)
        d = np.clip(2.0 - 2.0 * (rows[found] @ probe), 0.0, 4.0)
        ranked = column[found][np.argsort(d, kind="stable")]
        ranked = ranked[np.sort(np.unique(ranked, return_index=True)[1])]  # each person once, by their nearest
        ranked = ranked[~among(skip, people[ranked])][:RESCORED_PEOPLE]
        return ranked, np.array([self._nearest_sample(probe, int(c)) for c in ranked], np.float32)

    def _nearest_sample(self, probe: np.ndarray, column: int) -> float:
        """The probe's distance to its nearest sample of the person in `column` (distances()' formula)."""
        grouped, starts, _ = self._by_person
        end = int(starts[column + 1]) if column + 1 < starts.shape[0] else grouped.shape[0]
        return float(np.clip(2.0 - 2.0 * (grouped[int(starts[column]) : end] @ probe), 0.0, 4.0).min())

    @property
    def negative_count(self) -> int:
        """How many corrections (negatives) the snapshot holds."""
        return int(self.negative_ids.shape[0])

    @cached_property
    def _corrections(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """For the people who have both samples and negatives: their columns among person_distances' people, their
        samples and negatives (each sorted by owner) and where each owner's rows start; None when there are none."""
        if self.negative_ids.shape[0] == 0 or self.sample_count == 0:
            return None
        _, _, people = self._by_person
        corrected = np.intersect1d(np.unique(self.negative_ids), people)
        if corrected.shape[0] == 0:
            return None

        def grouped(ids: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            keep = np.isin(ids, corrected)
            owner = np.searchsorted(corrected, ids[keep])
            order = np.argsort(owner, kind="stable")
            _, starts = np.unique(owner[order], return_index=True)
            return rows[keep][order], starts

        own, own_starts = grouped(self.person_ids, self.embeddings)
        negs, neg_starts = grouped(self.negative_ids, self.negatives)
        return np.searchsorted(people, corrected), own, own_starts, negs, neg_starts

    def refusals(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which people each probe is refused for: (columns (C,) among person_distances' people, refused (N, C)).

        Refused: the probe's nearest negative of the person is nearer than its nearest sample of that person.
        """
        probes = np.atleast_2d(embeddings)
        index = self._corrections
        if index is None:
            return np.zeros(0, np.int64), np.zeros((probes.shape[0], 0), bool)
        columns, own, own_starts, negs, neg_starts = index
        nearest_own = np.minimum.reduceat(distances(probes, own), own_starts, axis=1)
        nearest_negative = np.minimum.reduceat(distances(probes, negs), neg_starts, axis=1)
        return columns, nearest_negative < nearest_own

    def refused_nearest(self, embeddings: np.ndarray, nearest: np.ndarray) -> np.ndarray:
        """For each probe, whether its nearest person (`nearest`: column indices into person_distances' people) is
        refused for it by their corrections."""
        columns, refused = self.refusals(embeddings)
        out = np.zeros(len(nearest), bool)
        if columns.shape[0] == 0:
            return out
        at = np.searchsorted(columns, nearest)
        hit = (at < columns.shape[0]) & (columns[np.minimum(at, columns.shape[0] - 1)] == nearest)
        rows = np.flatnonzero(hit)
        out[rows] = refused[rows, at[rows]]
        return out

    def rows_of(self, person_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The person's samples (n, D) and corrections (m, D) in this snapshot (no rows: they have none)."""
        grouped, starts, people = self._by_person
        at = int(np.searchsorted(people, person_id))
        if at < people.shape[0] and people[at] == person_id:
            end = int(starts[at + 1]) if at + 1 < starts.shape[0] else grouped.shape[0]
            samples = grouped[int(starts[at]) : end]
        else:
            samples = grouped[:0]
        grouped_negatives, negative_starts, corrected = self._negatives_by_person
        at = int(np.searchsorted(corrected, person_id))
        if at < corrected.shape[0] and corrected[at] == person_id:
            end = int(negative_starts[at + 1]) if at + 1 < corrected.shape[0] else grouped_negatives.shape[0]
            return samples, grouped_negatives[int(negative_starts[at]) : end]
        return samples, grouped_negatives[:0]

    @cached_property
    def _negatives_by_person(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The corrections grouped by person, each group's first row, and the people (as _by_person does)."""
        ids = self.negative_ids
        order = np.argsort(ids, kind="stable")
        people, starts = np.unique(ids[order], return_index=True)
        rows = self.negatives[order] if self.negatives.shape[0] == ids.shape[0] else self.negatives[:0]
        return rows, starts, people

    def spread(self, person_id: int) -> float:
        """The largest d between two of the person's samples (0 with one sample, nan with none)."""
        rows = self.rows_of(person_id)[0]
        if rows.shape[0] == 0:
            return float("nan")
        return float(distances(rows, rows).max()) if rows.shape[0] > 1 else 0.0

    def top_people(self, probe: np.ndarray, exclude: np.ndarray | None = None, n: int = 2) -> list[tuple[int, float]]:
        """The `n` people nearest to one probe (D,), nearest first, as (person id, distance), leaving out the
        people in `exclude`: through the graph on a large gallery (its candidates scored exactly; more of them when
        the excluded people crowd the walk), else by reading every row."""
        p = np.asarray(probe, np.float32).reshape(-1)
        _, _, people = self._by_person
        skip = np.zeros(0, np.int64) if exclude is None else exclude  # sorted person ids
        wanted = min(n, people.shape[0] - int(among(people, skip).sum()))
        if wanted <= 0:
            return []
        index = self._index
        if index is not None and np.isfinite(p).all():
            first = CANDIDATE_PEOPLE if index[2] is None else CANDIDATE_SAMPLES
            for k in dict.fromkeys((first, index[0].ef_search)):  # a longer walk when the excluded crowd the first
                ranked, dist = self._walk(p, k, skip)
                if ranked.shape[0] >= wanted:
                    order = np.argsort(dist, kind="stable")[:wanted]
                    return [(int(people[ranked[i]]), float(dist[i])) for i in order]
        d = GallerySnapshot.person_distances(self, p[None, :])[1][0].astype(np.float64)  # this layer's own rows
        d[among(skip, people) | np.isnan(d)] = np.inf  # NaN: a probe that is near nobody (never accepted)
        order = np.argsort(d, kind="stable")[:wanted]
        return [(int(people[i]), float(d[i])) for i in order]

    def _refuses(self, probe: np.ndarray, person_id: int) -> bool:
        """Whether a correction refuses the person for the probe: nearer to one of their corrections than to all of
        their samples (refusals' rule, for one probe and one person)."""
        samples, negatives = self.rows_of(person_id)
        if negatives.shape[0] == 0 or samples.shape[0] == 0:
            return False
        p = np.atleast_2d(probe)
        return bool(float(distances(p, negatives).min()) < float(distances(p, samples).min()))

    def _match(self, pid: int, dist: float, runner: int | None, runner_up: float, rule: MatchRule) -> Match:
        """identify's answer for the nearest person and the runner-up (None and inf: nobody else)."""
        within, clear = rule.within(dist), rule.clear(dist, runner_up)
        runner_name = self.names.get(runner) if runner is not None else None
        return Match(
            pid, self.names.get(pid), dist, within and clear, runner_up, runner_name, ambiguous=within and not clear
        )

    def updated(self, changes: dict[int, tuple[np.ndarray, np.ndarray]], names: dict[int, str]) -> LayeredSnapshot:
        """A snapshot in which the people in `changes` have exactly the given (samples, corrections) (no rows:
        removed) and `names` are everyone's; everyone else's rows, and the index, are this snapshot's, shared and
        not copied: a layer over a large gallery, so an enrollment neither reloads nor re-indexes a million rows."""
        base: GallerySnapshot = self
        carried: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if isinstance(self, LayeredSnapshot):
            base = self.base
            carried = {pid: self.rows_of(pid) for pid in self.hidden if pid not in changes}
        everyone = {**carried, **changes}
        dim = base.embeddings.shape[1] if base.embeddings.ndim == 2 else 0
        order = sorted(everyone)

        def stacked(which: int) -> tuple[np.ndarray, np.ndarray]:
            parts = [np.asarray(everyone[pid][which], np.float32).reshape(-1, dim) for pid in order]
            if not parts:
                return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
            owners = [np.full(part.shape[0], pid, np.int64) for pid, part in zip(order, parts, strict=True)]
            return np.concatenate(owners), np.concatenate(parts)

        ids, rows = stacked(0)
        negative_ids, negatives = stacked(1)
        layer = LayeredSnapshot(
            self.model,
            ids,
            names,
            rows,
            self.scoring,
            negative_ids,
            negatives,
            index_min_rows=2**62,  # the layer is small: read row by row
            base=base,
            hidden=frozenset(everyone),
        )
        return layer.build_index()

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
        _, _, people = self._by_person
        best, dist1, second, dist2 = self.nearest_two(probes)
        refused = self.refused_nearest(probes, best)
        matches = []
        for row in range(probes.shape[0]):
            if refused[row]:  # a correction says this face is not its nearest person: Unknown, nobody else named
                matches.append(Match(None, None, float("inf"), False, refused=True))
                continue
            runner = int(people[second[row]]) if second[row] >= 0 else None
            matches.append(self._match(int(people[best[row]]), float(dist1[row]), runner, float(dist2[row]), rule))
        return matches

    def verify(self, embedding: np.ndarray, person_id: int, threshold: float) -> Match:
        """Whether one probe is the person `person_id`: their distance (as in identify) within threshold, unless a
        correction refuses it (then d is inf and `refused` is set)."""
        samples, negatives = self.rows_of(person_id)
        name = self.names.get(person_id)
        if samples.shape[0] == 0:
            return Match(person_id, name, float("inf"), False)
        d = distances(np.atleast_2d(embedding), samples)
        if negatives.shape[0] and float(distances(np.atleast_2d(embedding), negatives).min()) < float(d.min()):
            return Match(person_id, name, float("inf"), False, refused=True)  # nearer to a "not them" face
        dist = float(d.min() if self.scoring == "nearest" else d.mean())
        return Match(person_id, name, dist, dist <= threshold)


@dataclass(frozen=True)
class LayeredSnapshot(GallerySnapshot):
    """A large gallery after a few people changed: `base` (with its index; unchanged and shared) for everyone but
    the people in `hidden`, whose current samples and corrections are this snapshot's own rows (none: removed).

    The engine makes one after a write that names the people it changed (GallerySnapshot.updated), and reloads the
    whole gallery instead once the layer holds more than LAYER_MAX_ROWS rows or a change is not known person by
    person (another station's).
    """

    base: GallerySnapshot = field(default_factory=lambda: GallerySnapshot.empty(""), compare=False, repr=False)
    hidden: frozenset[int] = field(default=frozenset(), compare=False, repr=False)

    @cached_property
    def _hidden_ids(self) -> np.ndarray:
        """The people the layer holds, sorted (for searchsorted membership)."""
        return np.sort(np.fromiter(self.hidden, np.int64, count=len(self.hidden)))

    @cached_property
    def _base_kept(self) -> tuple[int, int, int]:
        """The base's samples, people and corrections that are still the base's (their people not in `hidden`)."""
        _, starts, people = self.base._by_person
        sizes = np.diff(np.append(starts, self.base.sample_count))
        gone = np.isin(people, self._hidden_ids)
        negatives = int((~np.isin(self.base.negative_ids, self._hidden_ids)).sum())
        return int(sizes[~gone].sum()), int((~gone).sum()), negatives

    @property
    def sample_count(self) -> int:
        """How many enrolled samples the snapshot holds (the base's kept ones and the layer's)."""
        return self._base_kept[0] + int(self.person_ids.shape[0])

    @property
    def people_count(self) -> int:
        """How many distinct people have at least one sample."""
        return self._base_kept[1] + int(np.unique(self.person_ids).shape[0])

    @property
    def negative_count(self) -> int:
        """How many corrections the snapshot holds."""
        return self._base_kept[2] + int(self.negative_ids.shape[0])

    @property
    def indexed(self) -> bool:
        """Whether identify walks the base's graph."""
        return self.base.indexed

    @property
    def index_nbytes(self) -> int:
        """The memory of the base's index."""
        return self.base.index_nbytes

    @property
    def layer_rows(self) -> int:
        """How many sample and correction rows the layer holds itself."""
        return int(self.person_ids.shape[0] + self.negative_ids.shape[0])

    def build_index(self) -> LayeredSnapshot:
        """Group the layer's own rows now (the base's index is built already); returns self."""
        GallerySnapshot.build_index(self)
        _ = self._base_kept
        return self

    def rows_of(self, person_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The person's samples and corrections: the layer's for the people it holds, else the base's."""
        if person_id in self.hidden:
            return GallerySnapshot.rows_of(self, person_id)
        return self.base.rows_of(person_id)

    def top_people(self, probe: np.ndarray, exclude: np.ndarray | None = None, n: int = 2) -> list[tuple[int, float]]:
        """The `n` nearest people: the base's (leaving out the people the layer holds) and the layer's."""
        skip = self._hidden_ids if exclude is None else np.union1d(self._hidden_ids, exclude)
        found = self.base.top_people(probe, skip, n) + GallerySnapshot.top_people(self, probe, exclude, n)
        return sorted(found, key=lambda item: item[1])[:n]

    @cached_property
    def _flat(self) -> GallerySnapshot:
        """The same gallery as one plain snapshot (a copy: for benchmarks' whole-gallery distance tables)."""
        base, dim = self.base, self.embeddings.shape[1]
        keep = ~np.isin(base.person_ids, self._hidden_ids)
        keep_negative = ~np.isin(base.negative_ids, self._hidden_ids)
        return GallerySnapshot(
            self.model,
            np.concatenate([base.person_ids[keep], self.person_ids]),
            self.names,
            np.concatenate([base.embeddings[keep].reshape(-1, dim), self.embeddings]),
            self.scoring,
            np.concatenate([base.negative_ids[keep_negative], self.negative_ids]),
            np.concatenate([base.negatives[keep_negative].reshape(-1, dim), self.negatives.reshape(-1, dim)]),
            index_min_rows=2**62,
        )

    def person_distances(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every person's distance, as GallerySnapshot.person_distances (through a flat copy)."""
        return self._flat.person_distances(embeddings)

    def nearest_two(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """As GallerySnapshot.nearest_two, in columns of person_distances' people (through a flat copy)."""
        return self._flat.nearest_two(embeddings)

    def refusals(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As GallerySnapshot.refusals (through a flat copy)."""
        return self._flat.refusals(embeddings)

    def refused_nearest(self, embeddings: np.ndarray, nearest: np.ndarray) -> np.ndarray:
        """As GallerySnapshot.refused_nearest (through a flat copy)."""
        return self._flat.refused_nearest(embeddings, nearest)

    def identify(self, embeddings: np.ndarray, rule: MatchRule | float) -> list[Match]:
        """As GallerySnapshot.identify: the two nearest people of the base and of the layer, one probe at a time."""
        rule = MatchRule.of(rule)
        matches = []
        for probe in np.atleast_2d(np.asarray(embeddings, np.float32)):
            top = self.top_people(probe)
            if not top:
                matches.append(Match(None, None, float("inf"), False))
            elif self._refuses(probe, top[0][0]):
                matches.append(Match(None, None, float("inf"), False, refused=True))
            else:
                runner, runner_up = top[1] if len(top) > 1 else (None, float("inf"))
                matches.append(self._match(top[0][0], top[0][1], runner, runner_up, rule))
        return matches


def among(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each of `values`, whether it is in the sorted array `ids` (np.isin without sorting `ids` again)."""
    if ids.shape[0] == 0:
        return np.zeros(np.shape(values), bool)
    at = np.minimum(np.searchsorted(ids, values), ids.shape[0] - 1)
    return np.asarray(ids[at] == values)


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

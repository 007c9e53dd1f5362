"""Losses against hand-computed values, each miner on a constructed batch, and the P x K sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faceapp.train.losses import (
    PairClassifier,
    binary_loss,
    contrastive_loss,
    pairwise_sq_distances,
    sq_distances,
    triplet_loss,
)
from faceapp.train.mining import batch_all, batch_hard, miner, random_negatives, semi_hard
from faceapp.train.sampler import PKSampler

# Four points on a line, two people: A = {0, 1}, B = {2, 3}. x = 0, 1, 3, 6: d = squared gaps.
LINE = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
LABELS = torch.tensor([0, 0, 1, 1])


def triplets(t: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> set[tuple[int, int, int]]:
    return {(int(a), int(p), int(n)) for a, p, n in zip(*t, strict=True)}


def test_pairwise_distances_are_squared_euclidean_with_a_zero_diagonal() -> None:
    d = pairwise_sq_distances(LINE)
    expected = torch.tensor([[0, 1, 9, 36], [1, 0, 4, 25], [9, 4, 0, 9], [36, 25, 9, 0]], dtype=torch.float32)
    assert torch.allclose(d, expected)
    assert torch.allclose(sq_distances(LINE[:2], LINE[2:]), torch.tensor([9.0, 25.0]))


def test_triplet_loss_by_hand() -> None:
    # d_ap - d_an + alpha with alpha 0.5: 1 - 4 + .5 -> 0; 4 - 1 + .5 = 3.5; 2 - 2 + .5 = .5
    loss, active = triplet_loss(torch.tensor([1.0, 4.0, 2.0]), torch.tensor([4.0, 1.0, 2.0]), 0.5)
    assert loss.item() == pytest.approx((0 + 3.5 + 0.5) / 3)
    assert active.item() == pytest.approx(2 / 3)
    empty, none_active = triplet_loss(torch.zeros(0), torch.zeros(0), 0.5)
    assert empty.item() == 0.0
    assert none_active.item() == 0.0


def test_contrastive_loss_by_hand() -> None:
    # same pair at d = 0.25 costs 0.25; a different pair at d = 0.25 (euclidean 0.5) with m = 1 costs 0.5^2;
    # a different pair beyond the margin (d = 4, euclidean 2) costs nothing.
    d = torch.tensor([0.25, 0.25, 4.0])
    same = torch.tensor([1, 0, 0])
    assert contrastive_loss(d, same, 1.0).item() == pytest.approx((0.25 + 0.25 + 0.0) / 3)


def test_pair_classifier_is_symmetric_and_its_loss_is_binary_cross_entropy() -> None:
    torch.manual_seed(0)
    head = PairClassifier(3)
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    assert torch.allclose(head(a, b), head(b, a))
    logits = torch.tensor([0.0, 2.0])
    expected = (np.log(2) + np.log1p(np.exp(-2.0))) / 2  # -log(0.5) for the first, -log(sigmoid(2)) for the second
    assert binary_loss(logits, torch.tensor([1, 1])).item() == pytest.approx(expected, rel=1e-6)


def test_batch_all_gives_every_valid_triplet() -> None:
    found = triplets(batch_all(pairwise_sq_distances(LINE), LABELS))
    # 4 anchors x 1 positive x 2 negatives
    assert found == {
        (0, 1, 2), (0, 1, 3), (1, 0, 2), (1, 0, 3), (2, 3, 0), (2, 3, 1), (3, 2, 0), (3, 2, 1),
    }  # fmt: skip


def test_batch_hard_takes_the_farthest_positive_and_nearest_negative() -> None:
    x = torch.tensor([[0.0], [1.0], [2.5], [3.0], [6.0], [9.0]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    found = triplets(batch_hard(pairwise_sq_distances(x), labels))
    # anchor 0: positives at 1, 2.5 -> 2; negatives 3, 6, 9 -> 3. anchor 4 (x=6): positives 3, 9 -> 5 (d 9 each:
    # the first of equals, index 3 -> d 9, index 5 -> d 9; argmax takes the first) ; nearest negative 2.5 -> 2.
    assert (0, 2, 3) in found
    assert (1, 2, 3) in found  # x=1: farthest positive 2.5 (d 2.25) beats 0 (d 1); nearest negative 3
    assert (4, 3, 2) in found
    assert len(found) == 6


def test_semi_hard_takes_the_nearest_negative_beyond_the_positive() -> None:
    # anchor 0 at 0, positive 1 at 1 (d 1); negatives at 0.5 (d .25, hard), 1.2 (d 1.44, semi-hard) and 2 (d 4).
    x = torch.tensor([[0.0], [1.0], [0.5], [1.2], [2.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    found = triplets(semi_hard(pairwise_sq_distances(x), labels))
    assert (0, 1, 3) in found  # not 2 (closer than the positive), not 4 (farther than 3)
    # anchor 1 at 1, positive 0 (d 1): negatives at .5 (d .25), 1.2 (d .04), 2 (d 1): none farther than d 1
    # -> no semi-hard negative: the farthest negative instead, x = 2 (index 4; d 1 is not > 1).
    assert (1, 0, 4) in found


def test_semi_hard_when_every_negative_is_closer_than_the_positive() -> None:
    x = torch.tensor([[0.0], [5.0], [1.0], [2.0]])  # person 0 at 0 and 5; person 1 at 1 and 2
    labels = torch.tensor([0, 0, 1, 1])
    found = triplets(semi_hard(pairwise_sq_distances(x), labels))
    assert (0, 1, 3) in found  # d_ap 25; negatives d 1 and 4: none beyond: the farthest, index 3
    assert (1, 0, 2) in found  # from 5: d_ap 25; negatives d 16 and 9: the farthest is index 2


def test_random_mining_draws_only_negatives_and_repeats_with_the_seed() -> None:
    d = pairwise_sq_distances(LINE)
    first = random_negatives(torch.Generator().manual_seed(3))(d, LABELS)
    again = random_negatives(torch.Generator().manual_seed(3))(d, LABELS)
    assert all(torch.equal(u, v) for u, v in zip(first, again, strict=True))
    a, _, n = first
    assert bool((LABELS[a] != LABELS[n]).all())


def test_a_batch_of_one_person_gives_no_triplets() -> None:
    d = pairwise_sq_distances(LINE)
    one = torch.zeros(4, dtype=torch.long)
    for name in ("semi-hard", "batch-hard", "batch-all", "random"):
        assert miner(name)(d, one)[0].numel() == 0
    with pytest.raises(ValueError, match="unknown mining"):
        miner("hardest")


def test_pk_sampler_gives_p_people_with_k_images_each() -> None:
    labels = [0] * 5 + [1] * 3 + [2] * 2 + [3] * 1 + [4] * 6
    sampler = PKSampler(labels, p=3, k=2, seed=1)
    assert 3 not in sampler.people  # one image: no positive pair
    batches = list(sampler)
    assert len(batches) == len(sampler) == (5 + 3 + 2 + 6) // 6
    for batch in batches:
        people = [labels[i] for i in batch]
        assert len(set(people)) == 3
        assert all(people.count(p) == 2 for p in set(people))
        assert all(people[i] == people[i + 1] for i in range(0, 6, 2))  # person by person
    again = list(PKSampler(labels, p=3, k=2, seed=1))
    assert all(np.array_equal(u, v) for u, v in zip(batches, again, strict=True))


def test_pk_sampler_repeats_an_image_only_when_a_person_has_fewer_than_k() -> None:
    labels = [0, 0, 1, 1, 1, 1]
    for batch in PKSampler(labels, p=2, k=4, seed=0):
        zeros = [i for i in batch if labels[i] == 0]
        ones = [i for i in batch if labels[i] == 1]
        assert sorted(zeros) == [0, 0, 1, 1]  # two images, each twice
        assert sorted(ones) == [2, 3, 4, 5]  # four images: no repeat
    with pytest.raises(ValueError, match="people have 2 or more"):
        PKSampler([0, 0, 1], p=2, k=2)

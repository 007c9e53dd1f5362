"""Online triplet mining inside one P x K batch, on its (B, B) matrix of squared distances.

Each miner returns index tensors (anchor, positive, negative) into the batch. The rules:
- batch-all: every valid triplet (anchor and positive the same person, a != p, negative another person);
- batch-hard (Hermans et al. 2017): per anchor, its farthest positive and its nearest negative;
- semi-hard (FaceNet 2015): per (anchor, positive) pair, the nearest negative that is farther than the positive,
  d(a, p) < d(a, n), which is within the margin when one exists. When no negative is farther than the positive, the
  farthest negative is taken instead (TensorFlow's `triplet_semihard_loss` does the same), so a batch where every
  negative is still too close keeps a training signal;
- random: per (anchor, positive) pair, a negative drawn uniformly (seeded generator).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
MINERS = ("semi-hard", "batch-hard", "batch-all", "random")


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) boolean (B, B) masks: same label off the diagonal, and different label."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _empty(device: torch.device) -> Triplets:
    e = torch.zeros(0, dtype=torch.long, device=device)
    return e, e, e


def batch_all(d: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Every valid triplet of the batch."""
    pos, neg = _masks(labels)
    valid = pos[:, :, None] & neg[:, None, :]
    a, p, n = valid.nonzero(as_tuple=True)
    return a, p, n


def batch_hard(d: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """For each anchor with a positive and a negative: the farthest positive and the nearest negative."""
    pos, neg = _masks(labels)
    anchors = (pos.any(dim=1) & neg.any(dim=1)).nonzero(as_tuple=True)[0]
    if anchors.numel() == 0:
        return _empty(d.device)
    inf = torch.finfo(d.dtype).max
    p = torch.where(pos, d, torch.full_like(d, -1.0)).argmax(dim=1)
    n = torch.where(neg, d, torch.full_like(d, inf)).argmin(dim=1)
    return anchors, p[anchors], n[anchors]


def _pairs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every (anchor, positive) pair whose anchor has a negative in the batch, and the negative mask."""
    pos, neg = _masks(labels)
    a, p = (pos & neg.any(dim=1, keepdim=True)).nonzero(as_tuple=True)
    return a, p, neg


def semi_hard(d: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Per (anchor, positive): the nearest negative farther than the positive, else the farthest negative."""
    a, p, neg = _pairs(labels)
    if a.numel() == 0:
        return _empty(d.device)
    d_an = d[a]  # (pairs, B)
    d_ap = d[a, p][:, None]
    is_neg = neg[a]
    inf = torch.finfo(d.dtype).max
    farther = is_neg & (d_an > d_ap)
    nearest_farther = torch.where(farther, d_an, torch.full_like(d_an, inf)).argmin(dim=1)
    farthest = torch.where(is_neg, d_an, torch.full_like(d_an, -1.0)).argmax(dim=1)
    n = torch.where(farther.any(dim=1), nearest_farther, farthest)
    return a, p, n


def random_negatives(generator: torch.Generator) -> Callable[[torch.Tensor, torch.Tensor], Triplets]:
    """A miner that gives each (anchor, positive) pair a uniformly drawn negative from `generator`."""

    def mine(d: torch.Tensor, labels: torch.Tensor) -> Triplets:
        a, p, neg = _pairs(labels)
        if a.numel() == 0:
            return _empty(d.device)
        weights = neg[a].to(torch.float32)
        n = torch.multinomial(weights, 1, generator=generator).squeeze(1)
        return a, p, n

    return mine


def miner(name: str, generator: torch.Generator | None = None) -> Callable[[torch.Tensor, torch.Tensor], Triplets]:
    """The miner called `name` (one of MINERS); ValueError for another name."""
    if name == "semi-hard":
        return semi_hard
    if name == "batch-hard":
        return batch_hard
    if name == "batch-all":
        return batch_all
    if name == "random":
        return random_negatives(generator or torch.Generator().manual_seed(0))
    raise ValueError(f"unknown mining {name!r}; choose one of {', '.join(MINERS)}")

"""The losses `faceapp train` offers, on d(a, b) = ||f(a) - f(b)||^2, the distance the app uses everywhere.

- triplet: L(A, P, N) = max(d(A, P) - d(A, N) + alpha, 0) (FaceNet, Schroff et al. 2015);
- contrastive: same -> d, different -> max(0, m - sqrt(d))^2, the usual squared form on the euclidean distance
  (Hadsell, Chopra and LeCun 2006), so both terms are squared distances and m is a euclidean margin;
- binary: a logistic classifier on |f(a) - f(b)| and f(a) * f(b) (DeepFace's learned metric, Taigman et al. 2014).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pairwise_sq_distances(x: torch.Tensor) -> torch.Tensor:
    """d for every pair of rows of x (B, D): a (B, B) matrix, exactly 0 on the diagonal, never negative."""
    sq = (x * x).sum(dim=1)
    d = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    d = d.clamp_min(0.0)
    return d * (1.0 - torch.eye(x.shape[0], dtype=x.dtype, device=x.device))


def sq_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """d between matching rows of a and b (N, D): (N,)."""
    return ((a - b) ** 2).sum(dim=1)


def triplet_loss(d_ap: torch.Tensor, d_an: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of max(d_ap - d_an + alpha, 0) over the triplets, and the share of active (positive-loss) triplets."""
    losses = F.relu(d_ap - d_an + alpha)
    if losses.numel() == 0:
        zero = d_ap.sum() * 0.0  # keeps the graph: a batch without triplets contributes no gradient
        return zero, torch.tensor(0.0)
    return losses.mean(), (losses > 0).float().mean().detach()


def contrastive_loss(d: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over pairs of d for same-person pairs and max(0, margin - sqrt(d))^2 for different-person pairs."""
    same = same.to(d.dtype)
    euclid = torch.sqrt(d.clamp_min(1e-12))
    different = F.relu(margin - euclid) ** 2
    return (same * d + (1.0 - same) * different).mean()


class PairClassifier(nn.Module):
    """DeepFace's learned metric: P(same) = sigmoid(w . [|a - b|, a * b] + c), optionally through a hidden layer."""

    def __init__(self, dim: int, hidden: int = 0) -> None:
        """A logistic head on 2 * dim features; `hidden` > 0 adds one ReLU layer of that width."""
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(2 * dim, hidden), nn.ReLU()] if hidden else []
        layers.append(nn.Linear(hidden or 2 * dim, 1))
        self.net = nn.Sequential(*layers)

    @staticmethod
    def features(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """[|a - b|, a * b]: symmetric in a and b, so the verdict does not depend on the order of the pair."""
        return torch.cat([(a - b).abs(), a * b], dim=1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logits (N,) of "same person" for the pairs of rows of a and b."""
        return self.net(self.features(a, b)).squeeze(1)

    def probability(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """P(same person) (N,)."""
        return torch.sigmoid(self(a, b))


def binary_loss(logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the pair classifier's logits against same (1) / different (0)."""
    return F.binary_cross_entropy_with_logits(logits, same.to(logits.dtype))

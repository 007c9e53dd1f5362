"""The networks `faceapp train` trains and the app runs (registry family "trained-*"): a base embedder's torch
module split into a frozen trunk and a trained part, or a small CNN from scratch.

One network, shared weights (the Siamese structure): every image of a pair or triplet goes through the same module.
What is trained (`--train`):
- head: the base network stays as it is; a projection head (128 -> 128, starting as the identity) is learned on its
  unit-length embedding;
- last: the last residual blocks and the final linear layer of the base are trained too (and the head);
- all: every layer.
The frozen trunk's outputs do not change during training, so they are computed once per image (and its mirror
image) and cached: a head or last-layers epoch on the CPU costs a fraction of a full forward pass.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from faceapp.core.embedders.dlib_net import DlibResNet, _pool

TRAIN_MODES = ("head", "last", "all")
LAST_BLOCKS = 3  # "last" trains the final stage's last three residual blocks (256 channels) and the fc layer


class ProjectionHead(nn.Module):
    """x -> normalize(W x + b), W starting as the identity and b as 0, so training starts from the base model."""

    def __init__(self, dim: int) -> None:
        """A dim x dim linear map initialised to the identity."""
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(dim))
            self.linear.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings."""
        return F.normalize(self.linear(x), dim=1)


class DlibTrainable(nn.Module):
    """dlib-resnet with a trunk (frozen unless mode is "all"), a trained tail and a projection head."""

    def __init__(self, base: DlibResNet, mode: str) -> None:
        """Mark the parameters to train for `mode` (one of TRAIN_MODES)."""
        super().__init__()
        if mode not in TRAIN_MODES:
            raise ValueError(f"unknown --train {mode!r}; choose one of {', '.join(TRAIN_MODES)}")
        self.base = base
        self.mode = mode
        self.head = ProjectionHead(base.fc.out_features)
        split = len(base.blocks) - (LAST_BLOCKS if mode == "last" else 0)
        self.split = 0 if mode == "all" else split  # blocks before `split` belong to the trunk
        for p in self.base.parameters():
            p.requires_grad_(mode == "all")
        if mode == "last":
            for block in list(base.blocks)[split:]:
                for p in block.parameters():
                    p.requires_grad_(True)
            for p in base.fc.parameters():
                p.requires_grad_(True)

    def trunk(self, pixels: torch.Tensor) -> torch.Tensor:
        """The frozen part's output for RGB pixels (N, 3, 150, 150) in 0..255 (the pixels themselves for "all")."""
        if self.mode == "all":
            return pixels
        b = self.base
        with torch.no_grad():
            x = (pixels - b.mean) / 256.0
            x = _pool(F.relu(b.stem(x)), b.stem_pool)
            for block in list(b.blocks)[: self.split]:
                x = block(x)
            if self.mode == "head":
                x = F.normalize(b.fc(_pool(x, b.head_pool).flatten(1)), dim=1)
        return x

    def tail(self, features: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings from trunk features: the trained layers, then the head."""
        b = self.base
        if self.mode == "head":
            return self.head(features)
        if self.mode == "all":
            x = (features - b.mean) / 256.0
            x = _pool(F.relu(b.stem(x)), b.stem_pool)
        else:
            x = features
        for block in list(b.blocks)[self.split :]:
            x = block(x)
        x = b.fc(_pool(x, b.head_pool).flatten(1))
        return self.head(F.normalize(x, dim=1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings (N, 128) for RGB pixels (N, 3, 150, 150) in 0..255."""
        return self.tail(self.trunk(pixels))

    def trained_parameters(self) -> list[nn.Parameter]:
        """The parameters the optimiser updates."""
        return [p for p in self.parameters() if p.requires_grad]


class SmallCNN(nn.Module):
    """A small CNN from random weights, for the from-scratch sanity run: 150x150 RGB -> 128-d unit vectors."""

    def __init__(self, dim: int = 128, width: int = 32) -> None:
        """Five strided conv stages (width, 2 width, 4 width, 4 width, 8 width channels), global pool, linear."""
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(chans):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(chans[-1], dim)
        self.mode = "all"

    def trunk(self, pixels: torch.Tensor) -> torch.Tensor:
        """Nothing is frozen: the pixels themselves."""
        return pixels

    def tail(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings."""
        x = self.features(pixels / 127.5 - 1.0)
        return F.normalize(self.fc(x.mean(dim=(2, 3))), dim=1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings (N, dim) for RGB pixels (N, 3, H, W) in 0..255."""
        return self.tail(pixels)

    def trained_parameters(self) -> list[nn.Parameter]:
        """Every parameter."""
        return list(self.parameters())

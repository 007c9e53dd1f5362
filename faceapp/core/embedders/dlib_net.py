"""dlib's face recognition ResNet as a torch module, built from a parsed DlibNetwork (see dlib_format.py).

The file carries no wiring (tags and skips have no ids), so the wiring of examples/dnn_face_recognition_ex.cpp is
written here, and the file's layer sequence is checked against it before any weight is used.
"""

from __future__ import annotations

import re
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from faceapp.core.embedders.dlib_format import (
    AffineLayer,
    ConvLayer,
    DlibNetwork,
    FcLayer,
    Layer,
    PoolLayer,
)
from faceapp.errors import ModelError

T = TypeVar("T")

# One letter per layer: C conv, A affine, r relu, M/P max/avg pool, t tag or skip, + add_prev, F fc.
# stem, then residual blocks (tag, conv, affine, relu, conv, affine, add_prev, relu) where a down-block adds
# "tag2, skip1, avg_pool" before its add_prev, then the global average pool and the fc.
_NETWORK = re.compile(r"CArM((?:tCArCA(?:ttP)?\+r)+)PF")
_BLOCK = re.compile(r"tCArCA(ttP)?\+r")


def _letter(layer: Layer) -> str:
    if isinstance(layer, ConvLayer):
        return "C"
    if isinstance(layer, AffineLayer):
        return "A"
    if isinstance(layer, PoolLayer):
        return "M" if layer.op == "max" else "P"
    if isinstance(layer, FcLayer):
        return "F"
    return {"relu": "r", "tag": "t", "add_prev": "+"}[layer.kind]


def _conv_affine(conv: ConvLayer, affine: AffineLayer) -> nn.Conv2d:
    """A Conv2d computing affine(conv(x)): gamma folded into the weights, gamma * bias + beta into the bias."""
    out_ch, in_ch, kh, kw = conv.weight.shape
    if affine.gamma.size != out_ch:
        raise ModelError(f"dlib network: an affine layer of {affine.gamma.size} channels follows {out_ch} filters.")
    gamma = affine.gamma.astype(np.float64)
    module = nn.Conv2d(in_ch, out_ch, (kh, kw), stride=conv.stride, padding=conv.padding, bias=True)
    weight = conv.weight.astype(np.float64) * gamma[:, None, None, None]
    bias = conv.bias.astype(np.float64) * gamma + affine.beta
    module.weight = nn.Parameter(torch.from_numpy(weight.astype(np.float32)), requires_grad=False)
    module.bias = nn.Parameter(torch.from_numpy(bias.astype(np.float32)), requires_grad=False)
    return module


def add_prev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the sum, sized to the larger input in every dimension, zero-filled at the high end."""
    if a.shape == b.shape:
        return a + b
    channels, rows, cols = (max(p, q) for p, q in zip(a.shape[1:], b.shape[1:], strict=True))

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, cols - t.shape[3], 0, rows - t.shape[2], 0, channels - t.shape[1]))

    return grow(a) + grow(b)


def _pool(x: torch.Tensor, pool: PoolLayer) -> torch.Tensor:
    """dlib max_pool/avg_pool; size (0, 0) pools the whole input. Padded cells never count (dlib excludes them)."""
    if pool.size == (0, 0):
        return x.amax(dim=(2, 3), keepdim=True) if pool.op == "max" else x.mean(dim=(2, 3), keepdim=True)
    if pool.op == "max":
        return F.max_pool2d(x, pool.size, pool.stride, pool.padding)
    return F.avg_pool2d(x, pool.size, pool.stride, pool.padding, count_include_pad=False)


class ResidualBlock(nn.Module):
    """conv-affine-relu-conv-affine plus a shortcut (the input, or its average pool in a down-block), then relu."""

    def __init__(self, first: nn.Conv2d, second: nn.Conv2d, shortcut_pool: PoolLayer | None) -> None:
        """Wrap the two folded convolutions and the down-block's shortcut pool (None: identity shortcut)."""
        super().__init__()
        self.first = first
        self.second = second
        self.shortcut_pool = shortcut_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output for input x (N, C, H, W)."""
        y = self.second(F.relu(self.first(x)))
        shortcut = x if self.shortcut_pool is None else _pool(x, self.shortcut_pool)
        return F.relu(add_prev(y, shortcut))


class DlibResNet(nn.Module):
    """The 29-conv face ResNet: RGB pixels (N, 3, 150, 150) float in 0..255 -> raw 128-d dlib descriptors."""

    mean: torch.Tensor

    def __init__(self, network: DlibNetwork) -> None:
        """Build the modules from `network`; ModelError when its layers are not this architecture."""
        super().__init__()
        layers = network.layers
        letters = "".join(_letter(layer) for layer in layers)
        if not _NETWORK.fullmatch(letters):
            raise ModelError("The dlib network's layers are not the face recognition ResNet of dlib's example.")
        self.register_buffer("mean", torch.from_numpy(network.input_mean.astype(np.float32)).view(1, 3, 1, 1))
        self.input_size = network.input_size
        self.stem = _conv_affine(_as(layers[0], ConvLayer), _as(layers[1], AffineLayer))
        self.stem_pool = _as(layers[3], PoolLayer)
        blocks = []
        at = 4
        while match := _BLOCK.match(letters, at):
            first = _conv_affine(_as(layers[at + 1], ConvLayer), _as(layers[at + 2], AffineLayer))
            second = _conv_affine(_as(layers[at + 4], ConvLayer), _as(layers[at + 5], AffineLayer))
            pool = _as(layers[at + 8], PoolLayer) if match.group(1) else None
            blocks.append(ResidualBlock(first, second, pool))
            at = match.end()
        self.blocks = nn.Sequential(*blocks)
        self.head_pool = _as(layers[at], PoolLayer)
        fc = _as(layers[at + 1], FcLayer)
        inputs, outputs = fc.weight.shape
        self.fc = nn.Linear(inputs, outputs, bias=fc.bias is not None)
        self.fc.weight = nn.Parameter(torch.from_numpy(np.ascontiguousarray(fc.weight.T)), requires_grad=False)
        if fc.bias is not None:
            self.fc.bias = nn.Parameter(torch.from_numpy(fc.bias.copy()), requires_grad=False)
        self.eval()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw descriptors (N, 128) for RGB pixel values (N, 3, H, W) in 0..255 (not L2-normalised)."""
        x = (pixels - self.mean) / 256.0
        x = _pool(F.relu(self.stem(x)), self.stem_pool)
        x = self.blocks(x)
        x = _pool(x, self.head_pool).flatten(1)
        return self.fc(x)


def _as(layer: Layer, kind: type[T]) -> T:
    """`layer` as `kind` (the sequence was matched, so this only narrows the type)."""
    if not isinstance(layer, kind):
        raise ModelError(f"dlib network: expected a {kind.__name__}, found {type(layer).__name__}.")
    return layer

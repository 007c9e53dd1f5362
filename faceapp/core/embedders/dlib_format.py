"""A reader of dlib's serialization for the face recognition ResNet file (dlib/serialize.h, dlib/dnn/*.h).

Pure numpy: it turns `dlib_face_recognition_resnet_model_v1.dat` into plain arrays that dlib_net.py builds on.
The format notes are in the shared docs (DLIB_RESNET.md); every malformed byte ends in a one-line ModelError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from faceapp.errors import ModelError

_ADD_LAYER, _TAG_OR_SKIP, _ADD_LAYER_ON_INPUT = 2, 1, 3
_MAX_WRAPPERS = 10_000  # far above the 129 wrappers of the real file; stops a foreign file early


@dataclass(frozen=True)
class ConvLayer:
    """A `con_4` record: cross-correlation weights (F, C, kh, kw), biases (F,), stride and padding as (y, x)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AffineLayer:
    """An `affine_` record: y = gamma[c] * x + beta[c]."""

    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class PoolLayer:
    """A `max_pool_2` or `avg_pool_2` record; size (0, 0) pools the whole input."""

    op: Literal["max", "avg"]
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class FcLayer:
    """An `fc_2` record: output = x @ weight with weight (inputs, outputs), plus bias (outputs,) when present."""

    weight: np.ndarray
    bias: np.ndarray | None


@dataclass(frozen=True)
class MarkerLayer:
    """A parameter-free layer: relu, add_prev, or a tag/skip wrapper (the file does not tell tags from skips)."""

    kind: Literal["relu", "add_prev", "tag"]


Layer = ConvLayer | AffineLayer | PoolLayer | FcLayer | MarkerLayer


@dataclass(frozen=True)
class DlibNetwork:
    """A parsed dlib network: input means (RGB), input size, loss settings and its layers in forward order."""

    input_mean: np.ndarray
    input_size: tuple[int, int]
    loss: str
    loss_margin: float
    loss_dist_thresh: float
    layers: tuple[Layer, ...]

    def count(self, layer_type: type) -> int:
        """How many layers are instances of `layer_type`."""
        return sum(isinstance(layer, layer_type) for layer in self.layers)

    @property
    def num_params(self) -> int:
        """Trainable parameters: conv weights and biases, affine gamma and beta, fc weights and biases."""
        total = 0
        for layer in self.layers:
            if isinstance(layer, ConvLayer):
                total += layer.weight.size + layer.bias.size
            elif isinstance(layer, AffineLayer):
                total += layer.gamma.size + layer.beta.size
            elif isinstance(layer, FcLayer):
                total += layer.weight.size + (0 if layer.bias is None else layer.bias.size)
        return total


class _Reader:
    """A cursor over the file's bytes; every read checks bounds and reports the offset of a fault."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, what: str) -> ModelError:
        return ModelError(f"{what} at byte {self.pos} of {len(self.data)}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail("unexpected end of file")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def integer(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if control & 0x70 or not 1 <= size <= 8:
            self.pos -= 1
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def count(self, what: str) -> int:
        value = self.integer()
        if value < 0:
            raise self.fail(f"negative {what} {value}")
        return value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        special = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        if exponent in special:
            return special[exponent]
        try:
            return math.ldexp(mantissa, exponent)
        except OverflowError:
            raise self.fail(f"float out of range ({mantissa} * 2^{exponent})") from None

    def boolean(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"bad bool byte {byte!r}")
        return byte == b"1"

    def string(self) -> str:
        raw = self.take(self.count("string length"))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail("non-ASCII string") from None

    def version(self, expected: int, what: str) -> None:
        found = self.integer()
        if found != expected:
            raise self.fail(f"unsupported {what} version {found} (expected {expected})")

    def shape4(self, what: str) -> tuple[int, int, int, int]:
        n, k, nr, nc = (self.count(f"{what} dimension") for _ in range(4))
        return n, k, nr, nc

    def tensor(self) -> np.ndarray:
        self.version(2, "tensor")
        shape = self.shape4("tensor")
        size = math.prod(shape)
        if size * 4 > len(self.data) - self.pos:
            raise self.fail(f"unexpected end of file inside a tensor of shape {shape}")
        return np.frombuffer(self.take(size * 4), dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, int, int, int]:
        self.version(1, "alias_tensor")
        return self.shape4("alias_tensor")


def _split(r: _Reader, params: np.ndarray, shapes: list[tuple[int, ...]], what: str) -> list[np.ndarray]:
    """Cut a flat params tensor into consecutive views of `shapes` (dlib aliases carry no offsets)."""
    flat = params.reshape(-1)
    sizes = [math.prod(s) for s in shapes]
    if sum(sizes) != flat.size:
        raise r.fail(f"{what} params hold {flat.size} values, its parts need {sum(sizes)}")
    offsets = np.cumsum([0, *sizes])
    return [flat[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)]


def _skip_multipliers(r: _Reader) -> None:
    for _ in range(4):  # learning-rate and weight-decay multipliers: training-only
        r.real()


def _conv(r: _Reader) -> ConvLayer:
    params = r.tensor()
    filters, nr, nc = r.count("num_filters"), r.count("rows"), r.count("cols")
    stride = (r.count("stride"), r.count("stride"))
    padding = (r.count("padding"), r.count("padding"))
    w_shape, b_shape = r.alias(), r.alias()
    _skip_multipliers(r)
    if w_shape[0] != filters or w_shape[2:] != (nr, nc) or math.prod(b_shape) != filters or 0 in stride:
        raise r.fail(f"inconsistent con_4 record (filters {w_shape} for {filters}x{nr}x{nc}, biases {b_shape})")
    weight, bias = _split(r, params, [w_shape, (filters,)], "con_4")
    return ConvLayer(weight, bias, stride, padding)


def _affine(r: _Reader) -> AffineLayer:
    params = r.tensor()
    g_shape, b_shape = r.alias(), r.alias()
    r.integer()  # mode (conv or fc): both apply per channel here
    channels = math.prod(g_shape)
    if math.prod(b_shape) != channels:
        raise r.fail(f"affine_ gamma {g_shape} and beta {b_shape} differ in size")
    gamma, beta = _split(r, params, [(channels,), (channels,)], "affine_")
    return AffineLayer(gamma, beta)


def _pool(r: _Reader, op: Literal["max", "avg"]) -> PoolLayer:
    size = (r.count("pool rows"), r.count("pool cols"))
    stride = (r.count("pool stride"), r.count("pool stride"))
    padding = (r.count("pool padding"), r.count("pool padding"))
    if 0 in stride:
        raise r.fail("pool stride 0")
    return PoolLayer(op, size, stride, padding)


def _fc(r: _Reader) -> FcLayer:
    outputs, inputs = r.count("num_outputs"), r.count("num_inputs")
    params = r.tensor()
    for _ in range(2):  # aliases of weights (inputs, outputs) and biases (1, outputs): implied by the sizes above
        r.alias()
    bias_mode = r.integer()
    _skip_multipliers(r)
    if bias_mode == 1:
        (weight,) = _split(r, params, [(inputs, outputs)], "fc_2")
        return FcLayer(weight, None)
    weight, bias = _split(r, params, [(inputs, outputs), (outputs,)], "fc_2")
    return FcLayer(weight, bias)


def _layer(r: _Reader) -> Layer:
    """One layer's details record, chosen by its version string."""
    start = r.pos
    name = r.string()
    if name == "con_4":
        return _conv(r)
    if name == "affine_":
        return _affine(r)
    if name in ("max_pool_2", "avg_pool_2"):
        return _pool(r, "max" if name.startswith("max") else "avg")
    if name == "fc_2":
        return _fc(r)
    if name in ("relu_", "add_prev_"):
        return MarkerLayer("relu" if name == "relu_" else "add_prev")
    r.pos = start
    raise r.fail(f"unsupported layer record {name[:40]!r}")


def _layer_state(r: _Reader) -> None:
    """The training state add_layer writes after a layer: 3 bools, x_grad, cached_output, params_grad."""
    for _ in range(3):
        r.boolean()
    for _ in range(3):
        r.tensor()


def _parse(r: _Reader) -> DlibNetwork:
    r.version(1, "add_loss_layer")
    loss = r.string()
    if loss != "loss_metric_2":
        raise r.fail(f"unsupported loss {loss[:40]!r} (expected loss_metric_2)")
    margin, dist_thresh = r.real(), r.real()
    wrappers: list[int] = []
    while (kind := r.integer()) != _ADD_LAYER_ON_INPUT:
        if kind not in (_ADD_LAYER, _TAG_OR_SKIP) or len(wrappers) >= _MAX_WRAPPERS:
            raise r.fail(f"unexpected network wrapper version {kind}")
        wrappers.append(kind)
    if (name := r.string()) != "input_rgb_image_sized":
        raise r.fail(f"unsupported input layer {name[:40]!r}")
    mean = np.array([r.real(), r.real(), r.real()], dtype=np.float32)
    size = (r.count("input rows"), r.count("input cols"))
    layers: list[Layer] = [_layer(r)]
    _layer_state(r)
    r.count("sample expansion factor")
    for kind in reversed(wrappers):
        if kind == _TAG_OR_SKIP:
            layers.append(MarkerLayer("tag"))
        else:
            layers.append(_layer(r))
            _layer_state(r)
    if r.pos != len(r.data):
        raise r.fail("trailing data after the network")
    return DlibNetwork(mean, size, loss, margin, dist_thresh, tuple(layers))


def read_network(path: Path) -> DlibNetwork:
    """Parse a dlib face recognition network file to EOF; ModelError when it is truncated, corrupt or foreign."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read the dlib weights file {path}: {exc.strerror or exc}.") from None
    try:
        return _parse(_Reader(data))
    except (ModelError, ValueError, IndexError, OverflowError, MemoryError) as exc:
        raise ModelError(
            f"{path.name} is not a readable dlib face recognition network ({exc}): it is truncated, corrupt or "
            "another file."
        ) from None

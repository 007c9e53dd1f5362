"""The dlib-resnet port: the weights parser, parity with real dlib (golden descriptors) and the embedder's contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceapp.bench import dlib_parity
from faceapp.core import weights
from faceapp.core.embedders.dlib_format import AffineLayer, ConvLayer, FcLayer, read_network
from faceapp.errors import ModelError

torch = pytest.importorskip("torch")

from faceapp.core.embedders.dlib_net import add_prev  # noqa: E402
from faceapp.core.embedders.dlib_resnet import DlibResnetEmbedder  # noqa: E402

TOLERANCE = dlib_parity.TOLERANCE


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed dlib weights, checksum-verified; skip where face_recognition_models is not installed."""
    with pytest.MonkeyPatch.context() as mp:  # module scope runs before the autouse isolation: isolate here too
        mp.setenv("FACEAPP_DATA_DIR", str(tmp_path_factory.mktemp("dlib-data")))
        if not weights.is_available("dlib-resnet"):
            pytest.skip("face_recognition_models (the dlib weights) is not installed")
        return weights.resolve("dlib-resnet")


@pytest.fixture(scope="module")
def raw_embedder(weights_path: Path) -> DlibResnetEmbedder:
    """The embedder without mirroring (descriptors() is the same either way)."""
    return DlibResnetEmbedder(weights_path, mirror=False)


@pytest.fixture(scope="module")
def mirror_embedder(weights_path: Path) -> DlibResnetEmbedder:
    """The embedder as the app runs it: mirrored chip averaged in."""
    return DlibResnetEmbedder(weights_path, mirror=True)


@pytest.fixture(scope="module")
def golden() -> dlib_parity.Golden:
    """The committed descriptors computed by dlib itself."""
    return dlib_parity.load_golden()


def test_parser_reads_the_whole_network(weights_path: Path) -> None:
    net = read_network(weights_path)
    assert (net.count(ConvLayer), net.count(AffineLayer), net.count(FcLayer)) == (29, 29, 1)
    assert net.num_params == 5_614_592
    assert net.input_size == (150, 150)
    np.testing.assert_allclose(net.input_mean, [122.782, 117.001, 104.298], atol=1e-3)
    assert net.loss == "loss_metric_2"
    assert (net.loss_margin, net.loss_dist_thresh) == (pytest.approx(0.04), pytest.approx(0.6))
    first, fc = net.layers[0], net.layers[-1]
    assert isinstance(first, ConvLayer)
    assert (first.weight.shape, first.stride, first.padding) == ((32, 3, 7, 7), (2, 2), (0, 0))
    assert isinstance(fc, FcLayer)
    assert fc.weight.shape == (256, 128)
    assert fc.bias is None
    assert all(np.isfinite(layer.weight).all() for layer in net.layers if isinstance(layer, ConvLayer))


def test_parser_rejects_trailing_bytes(weights_path: Path, tmp_path: Path) -> None:
    padded = tmp_path / "padded.dat"
    padded.write_bytes(weights_path.read_bytes() + b"\x00")
    with pytest.raises(ModelError, match="trailing data"):
        read_network(padded)


@pytest.mark.parametrize("keep", [0.5, 0.999, 40, 300])
def test_truncated_file_raises_model_error(weights_path: Path, tmp_path: Path, keep: float) -> None:
    data = weights_path.read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: int(keep * len(data)) if keep < 1 else int(keep)])
    with pytest.raises(ModelError, match=r"cut\.dat is not a readable dlib .*unexpected end of file") as info:
        read_network(cut)
    assert "\n" not in str(info.value)
    with pytest.raises(ModelError):
        DlibResnetEmbedder(cut)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not dlib at all", bytes(range(256)) * 64])
def test_foreign_file_raises_model_error(tmp_path: Path, content: bytes) -> None:
    foreign = tmp_path / "foreign.dat"
    foreign.write_bytes(content)
    with pytest.raises(ModelError, match=r"foreign\.dat is not a readable dlib"):
        read_network(foreign)


def test_missing_file_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Cannot read"):
        read_network(tmp_path / "absent.dat")


def test_add_prev_zero_fills_to_the_larger_shape() -> None:
    residual = torch.ones(1, 2, 3, 3)
    shortcut = torch.full((1, 1, 4, 4), 10.0)
    out = add_prev(residual, shortcut)
    assert out.shape == (1, 2, 4, 4)
    expected = torch.zeros(1, 2, 4, 4)
    expected[0, 0] = 10.0
    expected[0, :, :3, :3] += 1.0
    assert torch.equal(out, expected)


def test_seeded_chips_match_dlib(raw_embedder: DlibResnetEmbedder, golden: dlib_parity.Golden) -> None:
    chips = dlib_parity.seeded_chips(golden.seed, golden.seeded.shape[0])
    assert dlib_parity.chips_digest(chips) == golden.seeded_sha256, "the seeded chips changed: regenerate the fixture"
    assert 40 < chips.mean() < 215  # varied images, not flat or saturated
    assert chips.std() > 20
    ours = raw_embedder.descriptors(chips)
    assert ours.shape == (8, 128)
    assert ours.dtype == np.float32
    assert np.abs(ours - golden.seeded).max() < TOLERANCE
    assert np.linalg.norm(golden.seeded - golden.seeded[0], axis=1)[1:].min() > 0.01  # chips give distinct outputs


@pytest.mark.shared_data
def test_lfw_chips_match_dlib(raw_embedder: DlibResnetEmbedder, golden: dlib_parity.Golden, shared_data: Path) -> None:
    chips = dlib_parity.lfw_chips(shared_data / "lfw", golden.lfw_files)
    if dlib_parity.chips_digest(chips) != golden.lfw_sha256:
        pytest.skip("this OpenCV decodes the LFW JPEGs to other pixels than the one that made the fixture")
    ours = raw_embedder.descriptors(chips)
    assert ours.shape == (16, 128)
    assert np.abs(ours - golden.lfw).max() < TOLERANCE
    norms = np.linalg.norm(ours, axis=1)
    assert ((norms > 1.0) & (norms < 2.0)).all()  # raw dlib descriptors, not unit length


def test_batches_give_the_same_descriptors(raw_embedder: DlibResnetEmbedder) -> None:
    chips = dlib_parity.seeded_chips(seed=7, count=35)  # more than one batch of 32
    together = raw_embedder.descriptors(chips)
    alone = np.concatenate([raw_embedder.descriptors(chips[i : i + 1]) for i in (0, 31, 32, 34)])
    np.testing.assert_allclose(together[[0, 31, 32, 34]], alone, atol=1e-5)
    assert raw_embedder.descriptors(chips[:0]).shape == (0, 128)


def test_mirror_embedding_is_unit_length_and_differs(
    raw_embedder: DlibResnetEmbedder, mirror_embedder: DlibResnetEmbedder
) -> None:
    chips = dlib_parity.seeded_chips(seed=3, count=4)
    mirrored, plain = mirror_embedder.embed_chips(chips), raw_embedder.embed_chips(chips)
    assert mirrored.shape == plain.shape == (4, 128)
    assert mirrored.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mirrored, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(plain, axis=1), 1.0, atol=1e-5)
    assert np.abs(mirrored - plain).max() > 1e-3
    raw = raw_embedder.descriptors(chips)
    np.testing.assert_allclose(plain, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)


def test_mirror_embedding_is_symmetric(mirror_embedder: DlibResnetEmbedder) -> None:
    chips = dlib_parity.seeded_chips(seed=5, count=3)
    flipped = np.ascontiguousarray(chips[:, :, ::-1])
    np.testing.assert_allclose(mirror_embedder.embed_chips(flipped), mirror_embedder.embed_chips(chips), atol=1e-6)


@pytest.mark.parametrize(
    "chips", [np.zeros((1, 160, 160, 3), np.uint8), np.zeros((1, 150, 150, 3), np.float32), np.zeros((150, 150, 3))]
)
def test_wrong_chips_are_rejected(raw_embedder: DlibResnetEmbedder, chips: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expected uint8 chips"):
        raw_embedder.descriptors(chips)


def test_parity_bench_reports_the_seeded_chips(weights_path: Path) -> None:
    result = dlib_parity.run(None)
    assert (result["chips"], result["lfw_chips"]) == (8, 0)
    assert 0 <= result["max_abs_diff"] < TOLERANCE
    assert result["passed"] is True

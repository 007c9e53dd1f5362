"""The model catalog: complete specs, no model name compared outside it, and trained models joining it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import faceapp
from faceapp import cli
from faceapp.core import catalog, weights
from faceapp.core.distance import normalize
from faceapp.core.embedders import registry
from faceapp.errors import BadInputError, ModelError

SOURCE = Path(faceapp.__file__).parent


def test_every_builtin_spec_is_complete() -> None:
    for name, spec in catalog.BUILTIN.items():
        assert spec.name == name
        assert 0.0 < spec.default_threshold < 4.0
        assert spec.scoring in ("nearest", "average")
        if spec.parts:
            assert spec.weights is None
            assert spec.family == ""
            assert all(p in catalog.BUILTIN and not catalog.BUILTIN[p].parts for p in spec.parts)
            assert len(spec.part_weights) == len(spec.parts)
            assert abs(sum(spec.part_weights) - 1) < 1e-9
            assert spec.dim == sum(catalog.BUILTIN[p].dim for p in spec.parts)
        else:
            assert spec.weights is not None
            assert spec.weights.model == name
            assert spec.family in registry.FAMILIES
            assert spec.family in registry.LOADERS
            assert spec.chip_size > 0
            assert spec.weights.origin != "download" or spec.weights.url is not None
    assert all(name in catalog.BUILTIN for name in catalog.DEFAULT_ORDER)


def test_no_model_name_is_compared_outside_the_catalog() -> None:
    """Adding a model means adding a spec: no code branches on a model's name (`== "sface"`, `in ("dlib-resnet",`)."""
    names = "|".join(re.escape(n) for n in catalog.BUILTIN)
    compared = re.compile(rf'(==|!=|\bin)\s*\(?\s*"({names})"|"({names})"\s*(==|!=)')
    found = [
        f"{path.relative_to(SOURCE)}:{i}: {line.strip()}"
        for path in SOURCE.rglob("*.py")
        if path.name != "catalog.py"
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if compared.search(line)
    ]
    assert found == []


def test_the_name_check_sees_a_comparison() -> None:
    names = "|".join(re.escape(n) for n in catalog.BUILTIN)
    compared = re.compile(rf'(==|!=|\bin)\s*\(?\s*"({names})"|"({names})"\s*(==|!=)')
    assert compared.search('if model != "dlib-resnet":')
    assert compared.search('if name in ("sface", "x"):')
    assert not compared.search('create_embedder("dlib-resnet")')


def test_unknown_models_are_one_line_errors_naming_the_known_ones() -> None:
    with pytest.raises(ModelError, match="known models: dlib-resnet"):
        catalog.spec("arcface")
    with pytest.raises(ModelError, match="no weights of its own"):
        catalog.weights_spec("dlib+sface")
    assert weights.can_download("facenet-vggface2")
    assert not weights.can_download("dlib-resnet")
    assert weights.can_import("sface")
    assert not weights.can_import("dlib+sface")


@pytest.fixture(scope="module")
def head_net() -> torch.nn.Module:
    """dlib-resnet with a projection head that is not the identity (so a trained model differs from its base)."""
    from faceapp.core.embedders.dlib_format import read_network
    from faceapp.core.embedders.dlib_net import DlibResNet
    from faceapp.core.embedders.trained_net import DlibTrainable

    net = DlibTrainable(DlibResNet(read_network(weights.resolve("dlib-resnet"))).to(torch.float32), "head")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        net.head.linear.weight.add_(0.2 * torch.randn(128, 128, generator=gen))
    return net.eval()


def write_trained(net: torch.nn.Module, name: str, **card: object) -> Path:
    """NAME.safetensors and NAME.json in the catalog's trained folder, as `faceapp train` writes them."""
    from safetensors.torch import save_file

    folder = catalog.trained_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.safetensors"
    save_file({f"net.{k}": v.contiguous() for k, v in net.state_dict().items()}, str(path))
    fields = {"name": name, "base": "dlib-resnet", "trained": "head", "threshold_kind": "distance", "tau": 0.3}
    fields |= {"recipe": {"loss": "triplet"}, "data": {"train_people": 5}, "weights_sha256": weights.sha256_of(path)}
    (folder / f"{name}.json").write_text(json.dumps(fields | card))
    return path


def test_a_trained_model_joins_the_catalog_and_runs_as_trained(
    head_net: torch.nn.Module, capsys: pytest.CaptureFixture[str]
) -> None:
    write_trained(head_net, "my-model")
    assert catalog.names()[-1] == "my-model"
    spec = catalog.spec("my-model")
    assert (spec.default_threshold, spec.dim, spec.chip_size, spec.family) == (0.3, 128, 150, "trained-dlib")
    assert weights.is_available("my-model")
    embedder = registry.create_embedder("my-model")
    chips = np.random.default_rng(1).integers(0, 256, (3, 150, 150, 3), dtype=np.uint8)
    got = embedder.embed_chips(chips)
    with torch.no_grad():
        plain = head_net(torch.from_numpy(chips).permute(0, 3, 1, 2).float()).numpy()
        mirror = head_net(torch.from_numpy(np.ascontiguousarray(chips[:, :, ::-1])).permute(0, 3, 1, 2).float()).numpy()
    np.testing.assert_allclose(got, normalize((plain + mirror) / 2), atol=1e-5)
    base = registry.create_embedder("dlib-resnet").embed_chips(chips)
    assert np.abs(got - base).max() > 0.05  # the head is really applied
    assert cli.main(["models", "list"]) == 0
    assert "my-model\tmy-model (trained: dlib-resnet, head)\tdim 128\ttau 0.3" in capsys.readouterr().out


def test_a_trained_model_with_an_altered_file_is_refused(head_net: torch.nn.Module) -> None:
    path = write_trained(head_net, "altered")
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"does not match the known checksum of altered.*train the model again"):
        registry.create_embedder("altered")
    from faceapp.core.embedders.trained import TrainedEmbedder

    with pytest.raises(ModelError, match="does not match its known checksum"):  # the bytes loaded are checked
        TrainedEmbedder(catalog.spec("altered"), weights_path=path)


def test_cards_that_are_not_gallery_models_stay_out(head_net: torch.nn.Module, tmp_path: Path) -> None:
    write_trained(head_net, "pairs", threshold_kind="probability")
    write_trained(head_net, "odd-base", base="arcface")
    (catalog.trained_dir() / "broken.json").write_text("{not json")
    (catalog.trained_dir() / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (catalog.trained_dir() / "big.json").write_text(" " * (catalog.MAX_CARD_BYTES + 1) + "{}")
    write_trained(head_net, "typed1", recipe="x", data=[1])
    write_trained(head_net, "typed2", dim="abc")
    write_trained(head_net, "typed3", tau=float("inf"))
    write_trained(head_net, "typed4", weights_sha256="ABC")
    write_trained(head_net, "typed5", tau=True)
    good = write_trained(head_net, "good")
    assert catalog.trained_names() == ["good"]
    with pytest.raises(ModelError, match="Unknown model 'pairs'"):
        catalog.spec("pairs")
    with pytest.raises(ModelError, match="written by `faceapp train`, not imported"):
        registry.import_weights("good", good)


def test_training_refuses_a_builtin_models_name() -> None:
    from faceapp.train.run import check_name

    with pytest.raises(BadInputError, match="built-in"):
        check_name("sface")
    assert check_name("sface-tuned") == "sface-tuned"


def test_a_trained_model_needs_its_base_weights(head_net: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    write_trained(head_net, "needs-base")
    assert weights.is_available("needs-base")
    monkeypatch.setattr(weights, "_package_models_dir", lambda package: None)  # face_recognition_models gone
    assert not weights.is_available("dlib-resnet")
    assert not weights.is_available("needs-base")
    assert weights.missing_message("needs-base").startswith("needs-base is built on dlib-resnet: ")


@pytest.mark.parametrize(
    ("margin", "expected"),
    [(0.15, 0.15), (0, 0.0), (None, "base"), (-0.1, "base"), (1.5, "base"), (True, "base"), ("0.2", "base")],
)
def test_a_trained_model_uses_the_margin_its_training_calibrated_else_the_bases(
    head_net: torch.nn.Module, margin: object, expected: object
) -> None:
    write_trained(head_net, "with-margin", margin=margin)
    base = catalog.spec("dlib-resnet").default_margin
    assert catalog.spec("with-margin").default_margin == (base if expected == "base" else expected)

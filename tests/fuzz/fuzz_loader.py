"""Coverage-guided fuzzing of the image loader with atheris (not part of the pytest run).

    pip install -e ".[fuzz]"
    PYTHONPATH=. python tests/fuzz/fuzz_loader.py -max_total_time=300 -rss_limit_mb=2048 -timeout=5

Every input is written to a file and read with faceapp's load_image. Answering with pixels (RGB uint8) or a one-line
ImageReadError is correct; anything else (another exception, a multi-line message, a hang past -timeout, memory
past -rss_limit_mb, a started process) is a finding, and atheris saves the input as crash-*/timeout-*/oom-*.
The seed corpus (small valid files of every allowed format and the hostile corpus) is generated at start into a
temporary folder; extra libFuzzer arguments (a corpus folder to keep, -runs=N) pass through.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

WORK = Path(tempfile.mkdtemp(prefix="faceapp-fuzz-"))
TARGET = WORK / "input.jpg"


def one_input(data: bytes) -> None:
    """The fuzz target: load `data` as an image file; raise on any answer that is not pixels or ImageReadError."""
    from faceapp.core.image_io import load_image
    from faceapp.errors import ImageReadError

    TARGET.write_bytes(data)
    with warnings.catch_warnings(record=True) as caught:  # a numeric warning from faceapp means wrong pixels
        warnings.simplefilter("always")
        try:
            image = load_image(TARGET)
        except ImageReadError as exc:
            if "\n" in str(exc):
                raise AssertionError(f"multi-line message: {exc!r}") from None
            image = None
    ours = [w for w in caught if "faceapp" in w.filename]
    if ours:
        raise AssertionError(f"warning from faceapp: {ours[0].message} ({ours[0].filename}:{ours[0].lineno})")
    if image is None:
        return
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.flags.writeable:
        raise AssertionError(f"bad pixels: {image.dtype} {image.shape}")


def seed_corpus(folder: Path) -> Path:
    """Write the seed inputs into `folder`: the property tests' valid files and the hostile corpus's regular files."""
    from tests.core.test_properties import SEEDS
    from tests.hostile import make_corpus

    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(SEEDS):
        (folder / f"seed-{i}").write_bytes(data)
    for case in make_corpus(WORK / "hostile", posix_specials=False):
        try:
            small = case.path.is_file() and case.path.stat().st_size < 100_000  # big ones only slow each run
        except OSError:  # the 300-character name
            small = False
        if small:
            (folder / f"hostile-{case.name}").write_bytes(case.path.read_bytes())
    return folder


def _no_processes() -> None:
    """Starting any program is a finding."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args[:1]!r}")

    subprocess.Popen = refuse  # type: ignore[misc, assignment]
    for name in ("system", "fork", "posix_spawn", "posix_spawnp", "execv", "execve"):
        if hasattr(os, name):
            setattr(os, name, refuse)


def main() -> None:
    """Instrument Pillow and the loader, seed the corpus, fuzz."""
    import atheris

    with atheris.instrument_imports(include=["PIL", "faceapp"]):
        from PIL import Image

        import faceapp.core.image_io as image_io

        image_io.allowed_formats()
        Image.init()
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        args.append(str(seed_corpus(WORK / "corpus")))
    _no_processes()
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

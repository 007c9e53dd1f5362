"""Runs the hostile corpus through the loader, the engine and the CLI in this process; prints one JSON report.

Started by tests/test_hostile_corpus.py in a subprocess (so a hang is a timeout and the peak memory is this
process's own): `python -m tests.hostile_run FOLDER`. Any attempt to start another program is recorded and refused.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STARTED: list[str] = []


def _guard_processes() -> None:
    """Make every way of starting a program fail loudly and leave a record."""

    def refuse(name: str) -> Any:
        def blocked(*args: object, **kwargs: object) -> None:
            import traceback

            where = "".join(traceback.format_stack(limit=8)[:-1]).replace("\n", " | ")
            STARTED.append(f"{name}{args[:1]!r} from {where}")
            raise PermissionError(f"hostile-corpus run: {name} is not allowed")

        return blocked

    class NoPopen:
        def __init__(self, *args: object, **kwargs: object) -> None:
            refuse("subprocess.Popen")(*args)

    subprocess.Popen = NoPopen  # type: ignore[misc, assignment]
    for name in ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve", "execvp", "popen"):
        if hasattr(os, name):
            setattr(os, name, refuse(f"os.{name}"))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB since it started (VmHWM).

    getrusage's ru_maxrss would do on a fresh process, but Linux carries the pre-exec high-water mark of the
    forking parent (here pytest, with its own models loaded) into it; /proc/self/status is this image's own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _timed(fn: Any) -> tuple[str, float, float]:
    """(outcome, wall seconds, CPU seconds): "ok", the FaceAppError class name, or "CRASH <type>: <message>"."""
    from faceapp.errors import FaceAppError

    started, cpu = time.perf_counter(), time.process_time()
    try:
        fn()
        outcome = "ok"
    except FaceAppError as exc:
        outcome = type(exc).__name__ if "\n" not in str(exc) else "MULTILINE " + type(exc).__name__
    except Exception as exc:
        outcome = f"CRASH {type(exc).__name__}: {exc}"
    return outcome, time.perf_counter() - started, time.process_time() - cpu


def main(folder: Path) -> dict[str, Any]:
    """Every case through load_image, Engine.identify and Engine.enroll, then the CLI over all of them at once."""
    import numpy as np

    from faceapp.cli import main as cli
    from faceapp.core.image_io import allowed_formats, load_image
    from faceapp.engine import Engine
    from tests.hostile import make_corpus

    cases = make_corpus(folder / "corpus")
    db = folder / "gallery.sqlite3"
    engine = Engine.open(db, "dlib-resnet")
    # Load the models and libraries first (torch asks ldconfig about libraries on first use): what is measured
    # and guarded from here on is what the inputs cause.
    allowed_formats()
    engine.embedder.embed_chips(np.zeros((1, 150, 150, 3), np.uint8))
    engine.identify(np.full((200, 200, 3), 128, np.uint8), 0.178)
    _guard_processes()
    warm_rss_mb = peak_rss_mb()
    results = []
    for case in cases:
        load = _timed(lambda c=case: load_image(c.path))
        ident = _timed(lambda c=case: engine.identify(c.path, 0.178))
        enroll = _timed(lambda c=case: engine.enroll("Case", [c.path]))
        results.append(
            {
                "name": case.name,
                "expect": case.expect,
                "load": load[0],
                "identify": ident[0],
                "enroll": enroll[0],
                "seconds": round(max(load[1], ident[1], enroll[1]), 3),
                "cpu_seconds": round(max(load[2], ident[2], enroll[2]), 3),
            }
        )
    engine.close()
    paths = [str(c.path) for c in cases]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        started = time.perf_counter()
        identify_code = cli(["--db", str(db), "identify", "--json", *paths])
        identify_seconds = time.perf_counter() - started
        enroll_code = cli(["--db", str(db), "enroll", "Corpus", *paths])
    try:
        json.loads(out.getvalue())
        json_ok = True
    except ValueError:
        json_ok = False
    return {
        "cases": results,
        "cli": {
            "identify_code": identify_code,
            "identify_seconds": round(identify_seconds, 2),
            "enroll_code": enroll_code,
            "json_ok": json_ok,
            "stderr_lines": err.getvalue().count("\n"),
        },
        "processes_started": STARTED,
        "warm_rss_mb": warm_rss_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


if __name__ == "__main__":
    report = main(Path(sys.argv[1]))
    print(json.dumps(report))

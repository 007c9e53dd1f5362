"""`faceapp bench startup`: wall time of `faceapp --help` and of a cold `faceapp identify IMAGE`, in new processes."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return time.perf_counter() - start, done.returncode


def main(argv: list[str]) -> int:
    """Run the startup benchmark and print a table (and JSON with --out)."""
    parser = argparse.ArgumentParser(prog="faceapp bench startup", description=__doc__)
    parser.add_argument("--image", type=Path, required=True, help="photo to identify")
    parser.add_argument("--enroll", type=Path, help="photo to enroll first (default: the same photo)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    cli = [sys.executable, "-m", "faceapp"]
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.sqlite3")
        _, rc = _timed([*cli, "--db", db, "--model", "dlib-resnet", "enroll", "Bench", str(args.enroll or args.image)])
        if rc != 0:
            print("error: enrolling the benchmark photo failed", file=sys.stderr)
            return 2
        helps = [_timed([*cli, "--help"])[0] for _ in range(args.runs)]
        identify = [_timed([*cli, "--db", db, "identify", str(args.image)]) for _ in range(args.runs)]
    result = {
        "help_s": {"median": statistics.median(helps), "max": max(helps)},
        "identify_s": {"median": statistics.median(t for t, _ in identify), "max": max(t for t, _ in identify)},
        "identify_exit_codes": [rc for _, rc in identify],
        "runs": args.runs,
    }
    print(f"{'command':<28}{'median s':>10}{'max s':>10}")
    print(f"{'faceapp --help':<28}{result['help_s']['median']:>10.3f}{result['help_s']['max']:>10.3f}")
    ident = result["identify_s"]
    print(f"{'faceapp identify (cold)':<28}{ident['median']:>10.3f}{ident['max']:>10.3f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0

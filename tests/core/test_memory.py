"""The fixed mmap threshold (issue 8): large freed buffers go back to the OS instead of staying in malloc's heaps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faceapp.core import memory

# The live pipeline's pattern in miniature: large buffers of varying sizes freed every "frame", with a small block
# allocated between them that outlives them (as Python's and Qt's objects do). Prints malloc's totals at the end.
CHURN = """
import json, sys
import numpy as np
from faceapp.core import memory
if sys.argv[1] == "fixed":
    assert memory.configure_allocator()
rng = np.random.default_rng(0)
keep = []
for _ in range(300):
    frame = [np.ones(int(rng.integers(300_000, 6_000_000)), np.uint8) for _ in range(8)]
    keep.append(np.ones(int(rng.integers(2_000, 20_000)), np.uint8))
    del frame
print(json.dumps(memory.malloc_stats()))
"""


def _kept_free_mb(mode: str) -> float:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True, cwd=root, timeout=120
    )
    return float(json.loads(done.stdout)["free"])


@pytest.mark.skipif(memory.malloc_stats() is None, reason="glibc's mallinfo2 is needed to see the heap")
def test_fixed_mmap_threshold_stops_freed_frames_piling_up_in_the_heap() -> None:
    default, fixed = _kept_free_mb("default"), _kept_free_mb("fixed")
    assert default > 10, f"the churn no longer fragments glibc's heap ({default:.1f} MiB kept): the test shows nothing"
    assert fixed < 2, f"{fixed:.1f} MiB freed but kept by malloc with the threshold fixed"


def test_without_glibc_the_settings_are_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_libc", lambda: None)
    assert memory.configure_allocator() is False
    assert memory.malloc_stats() is None

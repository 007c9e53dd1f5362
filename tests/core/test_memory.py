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


# The same face detected and embedded with the default model in a new process: "ordinary" imports torchvision first
# (torch._dynamo, sympy and triton come with it), "triton-out" does so with triton kept out, "app" is what the app
# does (triton kept out, torchvision imported by the detector without torch._dynamo). What loaded and what was found;
# the embeddings go through JSON as Python floats, which round-trip float32 values exactly.
EMBED_FACE = """
import json, sys
from faceapp.core import memory
if sys.argv[1] != "ordinary":
    assert memory.keep_triton_out()
if sys.argv[1] != "app":
    import torchvision
from faceapp.core.detect import Detector
from faceapp.core.embedders.registry import create_embedder
from faceapp.core.image_io import load_image
image = load_image(sys.argv[2])
detections = Detector().detect(image)
_, embeddings = create_embedder("dlib+sface").embed(image, detections)
print(json.dumps({
    "libtriton_mapped": "libtriton" in open("/proc/self/maps").read(),
    "dynamo_imported": "torch._dynamo" in sys.modules,
    "sympy_imported": "sympy" in sys.modules,
    "boxes": [list(d.box) for d in detections],
    "embeddings": embeddings.tolist(),
}))
"""


def _embed_face(mode: str, photo: Path) -> dict:  # type: ignore[type-arg]
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", EMBED_FACE, mode, str(photo)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        timeout=300,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs Linux /proc to see the mapped libraries")
def test_triton_and_dynamo_stay_out_and_recognition_is_unchanged(shared_data: Path) -> None:
    import importlib.util

    photo = shared_data / "photos/face_recognition_examples/lin_manuel_miranda/lin-manuel-miranda.png"
    ordinary, triton_out, app = (_embed_face(mode, photo) for mode in ("ordinary", "triton-out", "app"))
    assert ordinary["dynamo_imported"], "torchvision no longer imports torch._dynamo: the test shows nothing"
    assert ordinary["sympy_imported"]
    if importlib.util.find_spec("triton") is not None:
        assert ordinary["libtriton_mapped"], "torch._dynamo no longer loads triton by itself: the test shows nothing"
    assert triton_out["dynamo_imported"]
    assert not triton_out["libtriton_mapped"]
    assert not app["dynamo_imported"]
    assert not app["sympy_imported"]
    assert not app["libtriton_mapped"]
    assert ordinary["boxes"]
    assert triton_out["boxes"] == ordinary["boxes"]
    assert app["boxes"] == ordinary["boxes"]
    assert triton_out["embeddings"] == ordinary["embeddings"]  # bit for bit
    assert app["embeddings"] == ordinary["embeddings"]


def test_the_stand_in_answers_as_torch_dynamo_does() -> None:
    from torch._dynamo.utils import is_compile_supported

    for device in ("cpu", "cuda", "meta"):
        assert memory._is_compile_supported(device) == is_compile_supported(device)


def test_the_cli_keeps_triton_out_before_any_command_runs() -> None:
    root = Path(__file__).resolve().parents[2]
    code = "import sys; from faceapp import cli; cli.main(['--version']); print(repr(sys.modules.get('triton', 0)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "None"


def test_triton_is_not_hidden_once_torch_dynamo_has_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch._dynamo", object())
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    assert memory.keep_triton_out() is False
    assert "triton" not in sys.modules


# A torchvision that needs more of torch._dynamo while it is imported (here: roi_align's import first asks for
# torch._dynamo.eval_frame, which the stand-in has not): it must be imported the ordinary way, with the real module.
WANTS_MORE_OF_DYNAMO = """
import sys, importlib.abc
class Wants(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torchvision.ops.roi_align":
            import torch._dynamo.eval_frame
        return None
sys.meta_path.insert(0, Wants())
from faceapp.core import memory
with memory.torchvision_without_dynamo():
    import torchvision
import torch
keep = torchvision.ops.nms(torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10]]), torch.tensor([0.9, 0.8]), 0.5)
print(torchvision.ops.roi_align.__globals__["is_compile_supported"].__module__, keep.tolist())
"""


def test_a_torchvision_that_wants_more_of_dynamo_is_imported_the_ordinary_way() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", WANTS_MORE_OF_DYNAMO], capture_output=True, text=True, check=True, cwd=root, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "torch._dynamo.utils [0]"


def _rss_kib(path: Path) -> int:
    """The resident KiB of this process's mappings of `path` (/proc/self/smaps)."""
    total, current = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            current = head[-1] == str(path)
        elif current and head and head[0] == "Rss:":
            total += int(head[1])
    return total


def _kernel_pages_out() -> bool:
    """Whether madvise knows MADV_PAGEOUT here (asked of one anonymous page, outside the code under test)."""
    import ctypes
    import mmap

    page = mmap.mmap(-1, mmap.PAGESIZE)
    anchor = ctypes.c_char.from_buffer(page)
    try:
        libc = ctypes.CDLL(None)
        libc.madvise.argtypes, libc.madvise.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
        return bool(libc.madvise(ctypes.addressof(anchor), mmap.PAGESIZE, memory.MADV_PAGEOUT) == 0)
    finally:
        del anchor
        page.close()


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's /proc/self/smaps")
def test_the_pages_of_a_read_only_gpu_library_mapping_go_back_and_others_stay(tmp_path: Path) -> None:
    import mmap

    import numpy as np

    size = 8 << 20
    folder = tmp_path / "site-packages" / "nvidia" / "cu13" / "lib"
    folder.mkdir(parents=True)
    ours, other = folder / "libfake.so.13", tmp_path / "nvidia" / "libkept.so"  # not pip's nvidia package: kept
    other.parent.mkdir()
    for path in (ours, other):
        path.write_bytes(np.random.default_rng(0).integers(0, 255, size, np.uint8).tobytes())
    maps = []
    for path in (ours, other):
        with path.open("rb") as f:
            maps.append(mmap.mmap(f.fileno(), size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ))
    try:
        for m in maps:
            assert sum(m[i] for i in range(0, size, 4096)) >= 0  # touch every page: resident now
        before = [_rss_kib(p) for p in (ours, other)]
        assert min(before) >= 6 << 10, before
        if not _kernel_pages_out():
            pytest.skip("this kernel has no MADV_PAGEOUT")
        assert memory.page_out_gpu_libraries() >= size
        after = [_rss_kib(p) for p in (ours, other)]
        assert after[0] < before[0] // 4, (before, after)  # in pip's nvidia package: handed back
        assert after[1] >= before[1] - 64, (before, after)  # any other file: left alone
        assert maps[0][size - 1] == ours.read_bytes()[-1]  # still readable: the page comes back from the file
    finally:
        for m in maps:
            m.close()

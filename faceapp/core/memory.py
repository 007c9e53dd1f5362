"""The C heap during live view: a fixed mmap threshold, so that large freed buffers go back to the OS (glibc only).

Why (issue 8, docs/benchmarks.md "Soak"): the live pipeline allocates and frees large buffers of varying sizes on
several threads on every frame: decoded frames (675 KiB at 640x360), MTCNN's image pyramid and candidate batches,
the embedders' chips and activations. glibc serves a block above its mmap threshold with its own mapping and unmaps
it on free, but the threshold is *dynamic*: each freed mapped block raises it to that block's size (up to 32 MiB),
after which these buffers come from the heaps, where the small long-lived blocks allocated between them keep the
heaps from shrinking. In the 8-minute soak the memory malloc held in live blocks stayed at 375-390 MiB while the
memory it had freed but kept grew from 190 to 350 MiB, and the resident set with it (+134 MiB from 2 to 8 min).
Fixing the threshold (which also stops the dynamic scheme) sends every block above it to mmap for good: the freed
but kept memory stayed at 3-7 MiB, and the resident set grew +10 MiB from 2 to 8 min, 370 MiB below the default's.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# mallopt's parameter number for the mmap threshold (malloc.h), and the threshold: blocks of 256 KiB and more get
# their own mapping. A frame or a pyramid level is far above it; Python's and Qt's small objects far below.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 256 * 1024


def keep_triton_out() -> bool:
    """Mark triton (the GPU kernel compiler) as absent, before torch._dynamo loads; False when it already has.

    faceapp runs every model on the CPU and compiles nothing, but torchvision's import pulls in torch._dynamo, which
    imports triton whenever the package is installed (the CUDA torch wheels bring it): 76 MiB more resident set for
    nothing, 70 MiB of it libtriton.so's pages (docs/benchmarks.md, "Resident set"). A None entry in sys.modules makes
    `import triton` raise ImportError, which torch takes as "no triton" (torch.utils._triton.has_triton_package).
    Call it first thing in a process that will import torchvision (cli.main and the soak's child do)."""
    if "torch._dynamo" in sys.modules or sys.modules.get("triton", None) is not None:
        return False
    sys.modules["triton"] = None  # type: ignore[assignment]
    return True


def _is_compile_supported(device_type: Any) -> bool:
    """torch._dynamo.utils.is_compile_supported, imported when first called (it never is by faceapp's models)."""
    from torch._dynamo.utils import is_compile_supported

    return bool(is_compile_supported(device_type))


@contextlib.contextmanager
def torchvision_without_dynamo() -> Iterator[None]:
    """Import torchvision with torch._dynamo left unloaded until something really uses it.

    torchvision's one tie to torch._dynamo is an import at the top of torchvision/ops/roi_align.py of
    `is_compile_supported`, a function roi_align calls only in a fallback path (faceapp calls no roi_align). Importing
    it loads all of torch._dynamo and, through torch.fx's symbolic shapes, sympy: 74 MiB of Python objects resident
    for good (docs/benchmarks.md, "Resident set"). For the time torchvision is imported, `torch._dynamo.utils` is a
    stand-in whose `is_compile_supported` imports and calls the real one; then the stand-ins leave sys.modules, so
    any later use of torch._dynamo (torch.compile, roi_align's fallback) imports the real package as usual. When
    torchvision or torch._dynamo is loaded already, or anything else asks the stand-ins for more during the import,
    torchvision is imported the ordinary way.

    For the second or so of the import, another thread that touches torch._dynamo (building an optimizer,
    torch.compile) would get the stand-in and fail: the app's other threads only run inference then (nn.Module
    calls, inference_mode and the embedders never touch it, checked in review), and `faceapp train` is a process of
    its own.
    """
    if "torchvision" in sys.modules or "torch._dynamo" in sys.modules:
        yield
        return
    import torch

    package, utils = types.ModuleType("torch._dynamo"), types.ModuleType("torch._dynamo.utils")
    package.__path__ = []
    utils.is_compile_supported = _is_compile_supported  # type: ignore[attr-defined]
    package.utils = utils  # type: ignore[attr-defined]
    stand_ins = {"torch._dynamo": package, "torch._dynamo.utils": utils}
    sys.modules.update(stand_ins)
    try:
        import torchvision  # noqa: F401
    except Exception:  # a torchvision that wants more of torch._dynamo: import it the ordinary way
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        if torch.__dict__.get("_dynamo") is package:
            del torch._dynamo
    yield


# madvise's "reclaim these pages now" (Linux 5.4+, mman-common.h), and the libraries it is asked of: those a CUDA
# build of torch maps at import (torch's CUDA half, NVIDIA's runtime, compilers and kernels, triton) and a process
# that runs every model on the CPU never calls.
MADV_PAGEOUT = 21
GPU_LIBRARIES = (
    "libtorch_cuda", "libc10_cuda", "libcudart", "libcudnn", "libcublas", "libnvrtc", "libnvJitLink",
    "libcusparse", "libcufft", "libcurand", "libcusolver", "libnccl", "libcupti", "libnvToolsExt", "libtriton",
)  # fmt: skip


NVIDIA_PACKAGES = ("/site-packages/nvidia/", "/dist-packages/nvidia/")  # pip's nvidia-* wheels, whatever the name


def _gpu_library(path: str, names: tuple[str, ...]) -> bool:
    name = os.path.basename(path)
    return ".so" in name and (any(p in path for p in NVIDIA_PACKAGES) or name.startswith(names))


def page_out_gpu_libraries(names: tuple[str, ...] = GPU_LIBRARIES, maps: str = "/proc/self/maps") -> int:
    """Ask the kernel to take back the resident pages of the CUDA libraries mapped read-only; the bytes asked of.

    faceapp runs its models on the CPU, but a CUDA build of torch (pip's default wheel on Linux) maps cuBLAS, NVRTC,
    nvJitLink, cuDNN and torch's CUDA half at import, and a kernel that reads files in large folios maps whole 2 MiB
    folios of them: 200-260 MiB of the app's resident set (docs/benchmarks.md, "Resident set") that no CPU inference
    touches again. They are clean pages of files: MADV_PAGEOUT drops them, and should anything call into those
    libraries after all, its pages come back from the file. Mappings that can be written (data, relocations) are
    left alone. A kernel without MADV_PAGEOUT, or a system without /proc, answers 0 and nothing changes; the kernel
    skips pages another process maps too, or of files this user may not write (the count is what was asked). Call it
    after the models are loaded and warmed (the window's model loader does, on its thread)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "madvise"):
        return 0
    libc.madvise.argtypes, libc.madvise.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    asked = 0
    try:
        lines = Path(maps).read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or "w" in fields[1] or not _gpu_library(fields[5], names):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if libc.madvise(start, end - start, MADV_PAGEOUT) == 0:
            asked += end - start
    return asked


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 - glibc (and musl) have it; macOS and Windows do not
    except (OSError, AttributeError):
        return None
    return libc


def configure_allocator(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes for the whole process; False where there is no glibc mallopt.

    Call once at start-up, before the models load and the live threads start (app.run does; so does the soak)."""
    libc = _libc()
    if libc is None:
        return False
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))


def malloc_stats() -> dict[str, float] | None:
    """glibc's totals over all arenas in MiB (mallinfo2): in_use (live heap blocks), free (freed but kept by malloc),
    mmapped (blocks with their own mapping); None without glibc >= 2.33."""

    class _Info(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                "keepcost",
            )
        ]  # fmt: skip

    libc = _libc()
    fn = getattr(libc, "mallinfo2", None)
    if fn is None:
        return None
    fn.argtypes, fn.restype = [], _Info
    info = fn()
    mib = float(1 << 20)
    return {"in_use": info.uordblks / mib, "free": info.fordblks / mib, "mmapped": info.hblkhd / mib}

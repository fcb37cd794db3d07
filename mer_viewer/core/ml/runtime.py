"""Process-wide runtime: the C allocator, bfloat16 support, importing torch without freezing
other threads, and a frozen heap."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_tuned = False


def keep_freed_memory() -> bool:
    """Ask glibc to serve large blocks from the heap and keep freed memory for reuse.

    By default every block over 32 MiB is mmap-ed and unmapped when freed, so each
    training step faults its activations in afresh, page by page: about a third of
    a PointNet++ step on CPU. With mmap off and a 1 GiB trim threshold the blocks
    are recycled (the process keeps up to that much freed memory). Idempotent;
    returns False where the C library is not glibc.
    """
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    _tuned = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    return _tuned


def native_bf16(device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices natively (and so faster than float32)."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if kind == "cpu":
        checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)
    return False


def import_torch():
    """``import torch`` without holding the GIL while its 400 MB of native libraries link.

    Python's import opens an extension module with the GIL held: torch's ``_C``
    (libtorch_cpu and friends) takes 0.4–0.9 s, during which no other thread of
    the process runs (a GUI freezes). ``dlopen`` called through ctypes releases the
    GIL, so the libraries are linked first that way; the import then finds them
    loaded. Call it from a worker thread. Returns the torch module.
    """
    if "torch" in sys.modules:
        return sys.modules["torch"]
    if sys.platform.startswith("linux"):
        _preload_torch_libraries()
    import torch

    return torch


def _preload_torch_libraries() -> None:
    import glob
    import importlib.util
    import os

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return
    folder = spec.submodule_search_locations[0]
    # torch itself loads its global dependencies first, with RTLD_GLOBAL: the same order
    files = (glob.glob(os.path.join(folder, "lib", "libtorch_global_deps.so"))
             + glob.glob(os.path.join(folder, "_C.*.so")))
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
    for name in files:  # a failure here only means the import links them itself
        dlopen(os.fsencode(name), os.RTLD_NOW | os.RTLD_GLOBAL)


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight (``gc.freeze``).

    A full collection walks every tracked object while it holds the GIL: after Qt,
    pyqtgraph and torch are imported that took 100–250 ms, at whatever moment a worker's
    allocations triggered it, and the GUI froze that long. Call it after a large import
    (modules live as long as the process anyway); cheap, from any thread.
    """
    gc.freeze()

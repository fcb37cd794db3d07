"""Process-wide settings that make CPU training fast: the C allocator and bfloat16 support."""

from __future__ import annotations

import ctypes
import ctypes.util
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

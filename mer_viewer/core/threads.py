"""One thread per process for BLAS, OpenCV and torch, where processes already share the cores.

A preprocess worker handles one clip at a time on small arrays; letting OpenBLAS,
OpenCV and torch each start a pool per core there only spins threads against the
other workers (on a 2-core machine it cost ~40 % more CPU per clip).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import cv2
from threadpoolctl import threadpool_limits


def _torch():
    """torch when something in this process imported it already (never imported here)."""
    return sys.modules.get("torch")


def limit_to_one_thread() -> None:
    """From now on one thread for BLAS/OpenMP, OpenCV and (if loaded) torch in this process.

    For process-pool initialisers: the worker is the unit of parallelism.
    """
    _limit()  # for good: what would restore the limits is dropped


_lock = threading.Lock()
_inside = 0  # blocks of ``one_thread`` open now, in any thread
_restore: Callable[[], None] | None = None  # puts back the limits of before the first one


@contextmanager
def one_thread() -> Iterator[None]:
    """Inside the block one thread for BLAS/OpenMP, OpenCV and (if loaded) torch; the
    limits of before are restored when the last open block leaves.

    The limits are per process, not per thread: use it around work that runs alone
    (``preprocess`` with one worker), not in a thread beside others that want many.
    Blocks may overlap in several threads (the desktop app's jobs): the first one in
    takes the limits to restore, the last one out restores them.
    """
    global _inside, _restore
    with _lock:
        if _inside == 0:
            _restore = _limit()
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _restore is not None:
                _restore()
                _restore = None


def _limit() -> Callable[[], None]:
    """One thread each from now on; returns what restores the limits of before."""
    opencv_threads = cv2.getNumThreads()
    torch = _torch()
    torch_threads = torch.get_num_threads() if torch is not None else None
    blas = threadpool_limits(1)
    cv2.setNumThreads(1)
    if torch is not None:
        torch.set_num_threads(1)

    def restore() -> None:
        blas.restore_original_limits()
        cv2.setNumThreads(opencv_threads)
        if torch is not None and torch_threads is not None:
            torch.set_num_threads(torch_threads)

    return restore

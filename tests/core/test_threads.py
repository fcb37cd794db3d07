"""core.threads: one BLAS/OpenCV thread inside the block, the previous limits after it."""

from __future__ import annotations

import cv2
import numpy as np  # noqa: F401 - loads OpenBLAS, so threadpoolctl has a pool to limit
from threadpoolctl import threadpool_info

from mer_viewer.core.threads import one_thread


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info()}


def test_one_thread_limits_and_restores():
    opencv_before, blas_before = cv2.getNumThreads(), _blas_threads()
    with one_thread():
        assert cv2.getNumThreads() == 1
        assert _blas_threads() <= {1}
    assert cv2.getNumThreads() == opencv_before
    assert _blas_threads() == blas_before


def test_one_thread_restores_after_an_error():
    opencv_before = cv2.getNumThreads()
    try:
        with one_thread():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert cv2.getNumThreads() == opencv_before


_FORKED_WORKERS = """
import cv2, numpy as np
from concurrent.futures import ProcessPoolExecutor
from mer_viewer.core.threads import limit_to_one_thread, one_thread

def work(_):
    with one_thread():
        return cv2.getNumThreads()

image = np.random.rand(1500, 1500).astype(np.float32)
for _ in range(3):
    cv2.GaussianBlur(image, (0, 0), 5)  # this process's OpenCV threads are running
with ProcessPoolExecutor(2, initializer=limit_to_one_thread) as pool:
    with one_thread():  # as core.cache.preprocess forks its workers
        futures = [pool.submit(work, i) for i in range(4)]
    print([f.result() for f in futures])
"""


def test_workers_forked_under_one_thread_do_not_hang():
    """A forked child that changes OpenCV's thread count waits for the parent's OpenCV
    threads, which were not forked; forking under ``one_thread`` leaves none to wait for."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _FORKED_WORKERS], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 1, 1, 1]"


def test_overlapping_blocks_in_two_threads_restore_the_limits_of_before():
    """Jobs of the desktop app preprocess in threads of one process (training items, a
    batch classification): B entering while A is inside must not take A's one thread for
    the limit to restore, or the process would stay on one thread for the session."""
    import threading

    opencv_before, blas_before = cv2.getNumThreads(), _blas_threads()
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()

    def job_a():
        with one_thread():
            a_inside.set()
            b_inside.wait(10)
        a_left.set()

    def job_b():
        a_inside.wait(10)
        with one_thread():
            b_inside.set()
            a_left.wait(10)
            assert cv2.getNumThreads() == 1  # A left, B still inside: still one thread

    threads = [threading.Thread(target=job_a), threading.Thread(target=job_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert a_left.is_set() and b_inside.is_set()
    assert cv2.getNumThreads() == opencv_before
    assert _blas_threads() == blas_before

"""Keeping the GUI thread free: face models in a helper process, short GIL turns, a frozen heap."""

from __future__ import annotations

import gc
import sys

#: Seconds a thread may keep the GIL while another waits for it (Python's default: 5 ms).
#: Each call into Qt releases and retakes the GIL, so while a worker runs Python code
#: (reading the cache, sampling) every such call of the GUI thread could wait this long:
#: a paint of a few dozen calls then took hundreds of milliseconds.
GIL_SWITCH_INTERVAL_S = 0.0005


def start() -> None:
    """Load dlib's models in a helper process now (the first uncached clip then does not
    freeze the GUI for 1–2 s), shorten the GIL switch interval and freeze the heap of the
    start-up. Idempotent."""
    from ..core import face

    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
    face.warm_up()
    freeze_heap()


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight (``gc.freeze``).

    A full collection walks every tracked object while it holds the GIL: after Qt,
    pyqtgraph and torch are imported that took 100–250 ms, at whatever moment a worker's
    allocations triggered it, and the GUI froze that long. Call it after a large import
    (modules live as long as the process anyway); cheap, from any thread.
    """
    gc.freeze()

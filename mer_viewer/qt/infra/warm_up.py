"""Keeping the GUI thread free: face models in a helper process, short GIL turns, a frozen heap."""

from __future__ import annotations

import sys

from ...core.ml.runtime import freeze_heap

#: Seconds a thread may keep the GIL while another waits for it (Python's default: 5 ms).
#: Each call into Qt releases and retakes the GIL, so while a worker runs Python code
#: (reading the cache, sampling) every such call of the GUI thread could wait this long:
#: a paint of a few dozen calls then took hundreds of milliseconds.
GIL_SWITCH_INTERVAL_S = 0.0005


def start() -> None:
    """Load dlib's models in a helper process now (the first uncached clip then does not
    freeze the GUI for 1–2 s), shorten the GIL switch interval and freeze the heap of the
    start-up. Idempotent."""
    from ...core import face

    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
    face.warm_up()
    freeze_heap()

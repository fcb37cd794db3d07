"""Start-up work that keeps the GUI thread free later: face models in a helper process, short GIL turns."""

from __future__ import annotations

import sys

#: Seconds a thread may keep the GIL while another waits for it (Python's default: 5 ms).
#: Each call into Qt releases and retakes the GIL, so while a worker runs Python code
#: (reading the cache, sampling) every such call of the GUI thread could wait this long:
#: a paint of a few dozen calls then took hundreds of milliseconds.
GIL_SWITCH_INTERVAL_S = 0.0005


def start() -> None:
    """Load dlib's models in a helper process now (the first uncached clip then does not
    freeze the GUI for 1–2 s) and shorten the GIL switch interval. Idempotent."""
    from ..core import face

    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
    face.warm_up()

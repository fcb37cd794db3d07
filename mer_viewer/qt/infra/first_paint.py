"""Opt-in start-up probe: report the main window's first paint (time, heavy imports) and quit.

Set ``MER_VIEWER_REPORT_FIRST_PAINT=1`` and the app prints one line
``first-paint {"time_s": ..., "heavy_imports": [...]}`` on stdout when the main
window gets its first paint event, then quits. ``time_s`` is ``time.time()`` (seconds
since the epoch), so a parent process can time a cold start; ``heavy_imports`` lists
the modules of ``HEAVY`` already imported then (they should all wait for first use).
Used by ``tests/benchmarks/bench_gui.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

ENV = "MER_VIEWER_REPORT_FIRST_PAINT"
PREFIX = "first-paint "
HEAVY = ("torch", "open3d", "sklearn")


def requested() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


class FirstPaintReporter(QtCore.QObject):
    """Event filter on ``window``: at its first paint prints the report, then calls
    ``then`` (by default: quit the app) from the event loop."""

    def __init__(self, window: QtWidgets.QWidget,
                 then: Callable[[], object] = QtWidgets.QApplication.quit):
        super().__init__(window)
        self.report: dict | None = None
        self._then = then
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if self.report is None and event.type() == QtCore.QEvent.Type.Paint:
            self.report = {"time_s": time.time(),
                           "heavy_imports": [m for m in HEAVY if m in sys.modules]}
            print(PREFIX + json.dumps(self.report), flush=True)
            obj.removeEventFilter(self)
            QtCore.QTimer.singleShot(0, self._then)
        return False

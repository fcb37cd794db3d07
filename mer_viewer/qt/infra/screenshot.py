"""``--screenshot``: wait until everything shown is loaded, save the window as an image, quit."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets


def settled(window) -> bool:
    """True when no job runs and every view shows the current dataset, clip, frame and cloud."""
    if window.jobs.busy or not window.views2d.loader.idle:
        return False
    if window.state.dataset is None or window.state.sample is None:
        return True  # nothing (more) to load: an error or an empty dataset is what is shown
    v, cloud = window.views2d, window.cloud_panel
    if cloud.failed:  # no cloud, so no aligned pair either: its failure is what is shown
        return v.frame_shown and (v.flow_shown or window.state.pair is None)
    return v.frame_shown and v.flow_shown and cloud.ready


class ScreenshotTaker(QtCore.QObject):
    """Polls ``settled``; after it holds twice in a row (and a paint), grabs and saves."""

    def __init__(self, window, path: Path, timeout_s: float = 600.0,
                 parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.window, self.path = window, Path(path)
        self.deadline = time.monotonic() + timeout_s
        self.ok: bool | None = None
        self._streak = 0
        self._timer = QtCore.QTimer(self, interval=150)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        self._timer.start()

    def _poll(self) -> None:
        timed_out = time.monotonic() > self.deadline
        self._streak = self._streak + 1 if settled(self.window) else 0
        if self._streak < 3 and not timed_out:
            return
        self._timer.stop()
        if timed_out:
            print("mer-viewer: still loading after the time limit; saving what is shown",
                  file=sys.stderr)
        self.window.repaint()
        QtWidgets.QApplication.processEvents()
        self.ok = self.save() and not timed_out
        QtWidgets.QApplication.instance().exit(0 if self.ok else 1)

    def save(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        image = self.window.grab().toImage()
        if not image.save(str(self.path)):
            print(f"mer-viewer: {self.path}: could not write the image", file=sys.stderr)
            return False
        for kind, text in self.window.messages.history:
            if kind == "error":
                print(f"mer-viewer: shown in the window: {text}", file=sys.stderr)
        print(f"screenshot ({image.width()}×{image.height()}) saved to {self.path}")
        return True

"""Paint holding on a clip switch: the views keep their picture until the new clip is all in."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6 import QtCore, QtWidgets

#: Longest hold (ms): a clip that is not cached shows what it has by then, piece by piece.
HOLD_MS = 200


class PaintHold(QtCore.QObject):
    """Stops the watched widgets from painting between ``hold()`` and ``release()``.

    A clip switch clears every view and then fills it from several sources (frames,
    cached cloud, pair and flow, samplings), each a repaint of its own: under software
    GL each repaint of the window costs 10–25 ms. Holding paints until ``ready()``
    (checked by ``check()``) gives one repaint of everything instead, and no frame of
    empty views. Released after ``HOLD_MS`` at the latest, or at once by ``release()``.
    """

    released = QtCore.Signal()  # a hold ended: the new clip is shown (or the time ran out)

    def __init__(self, parent: QtCore.QObject | None = None, hold_ms: int = HOLD_MS):
        super().__init__(parent)
        self.widgets: list[QtWidgets.QWidget] = []
        self.ready: Callable[[], bool] = lambda: True
        self.holding = False
        self._timer = QtCore.QTimer(self, singleShot=True, interval=hold_ms)
        self._timer.timeout.connect(self.release)

    def watch(self, widgets: Sequence[QtWidgets.QWidget], ready: Callable[[], bool]) -> None:
        self.widgets, self.ready = list(widgets), ready

    def hold(self, *_args) -> None:
        if not self.holding and self.widgets:
            for widget in self.widgets:
                widget.setUpdatesEnabled(False)
            self.holding = True
        self._timer.start()

    def check(self, *_args) -> None:
        """Release once everything is in (connect after the views' own slots)."""
        if self.holding and self.ready():
            self.release()

    def release(self, *_args) -> None:
        self._timer.stop()
        if self.holding:
            self.holding = False
            for widget in self.widgets:
                widget.setUpdatesEnabled(True)  # one update() of each: a single repaint
            self.released.emit()

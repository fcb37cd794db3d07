"""pyqtgraph scenes that do not repaint when their window is activated or deactivated, and
that take their deferred updates at once.

A QGraphicsScene sends WindowActivate/WindowDeactivate to its top-level items and every
QGraphicsWidget (pyqtgraph's plots, view boxes, axes) answers with ``update()``: each plot
of the main window is redrawn, and, as the window holds QOpenGLWidgets, every one of
those repaints composes the whole window through GL (about 20 ms each with software GL).
Opening the run window (which takes the focus) cost ~130 ms of GUI-thread time that way.
pyqtgraph draws the same whether the window is active or not, so nothing shown changes;
the scene stays "inactive" in Qt's sense, so a click no longer gives a view box keyboard
focus (its only keys, - + = Backspace, step a zoom history of the rectangle-zoom mode,
which this app never uses).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

_ACTIVATION = (QtCore.QEvent.Type.WindowActivate, QtCore.QEvent.Type.WindowDeactivate)


class _IgnoreActivation(QtCore.QObject):
    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        return event.type() in _ACTIVATION


_filter: _IgnoreActivation | None = None


def ignore_window_activation(view: QtWidgets.QGraphicsView) -> None:
    """Keep ``view``'s scene from repainting on its window's (de)activation."""
    global _filter
    if _filter is None:
        _filter = _IgnoreActivation(QtCore.QCoreApplication.instance())
    view.scene().installEventFilter(_filter)


def _ignore_changes(*_args) -> None:
    pass


def repaint_changes_at_once(view: QtWidgets.QGraphicsView) -> None:
    """Give ``view``'s scene a receiver of ``changed``: the scene then reports its dirty region
    once per event loop pass and the view repaints from it. Without one, the view's own
    deferred updates, postponed while a clip switch holds paints (paint_hold.py), came back
    as a second repaint of each panel 30-60 ms after the first."""
    view.scene().changed.connect(_ignore_changes)

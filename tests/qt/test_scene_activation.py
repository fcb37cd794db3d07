"""Plots ignore their window's (de)activation: no repaint of every plot (see scene_activation)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from mer_viewer.qt.infra.scene_activation import ignore_window_activation


class _Paints(QtCore.QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):  # noqa: N802
        self.count += event.type() == QtCore.QEvent.Type.Paint
        return False


def _paints_on_activation(qtbot, view) -> int:
    paints = _Paints()
    view.viewport().installEventFilter(paints)
    for kind in (QtCore.QEvent.Type.WindowActivate, QtCore.QEvent.Type.WindowDeactivate):
        QtWidgets.QApplication.sendEvent(view.scene(), QtCore.QEvent(kind))
        qtbot.wait(50)
    view.viewport().removeEventFilter(paints)
    return paints.count


def _settled_image(qtbot, view):
    """The view's picture once two grabs 50 ms apart agree (a busy machine lays a new plot
    out late: its axes range settles after the first paints)."""
    last = view.grab().toImage()
    for _ in range(200):
        qtbot.wait(50)
        now = view.grab().toImage()
        if now == last:
            return now
        last = now
    return last


def test_activation_repaints_a_plain_plot_but_not_a_filtered_one(qtbot):
    plain, quiet = pg.PlotWidget(), pg.PlotWidget()
    ignore_window_activation(quiet)
    for view in (plain, quiet):
        qtbot.addWidget(view)
        view.plot(np.arange(5.0))
        view.show()
    qtbot.waitExposed(quiet)
    before = _settled_image(qtbot, quiet)
    assert _paints_on_activation(qtbot, plain) > 0  # what the filter is for
    assert _paints_on_activation(qtbot, quiet) == 0
    assert quiet.grab().toImage() == before  # the same picture

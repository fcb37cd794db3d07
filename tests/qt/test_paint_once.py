"""A switch to a cached clip paints each 2D panel once: no second repaint after the first."""

from __future__ import annotations

import time

from PySide6 import QtCore

from mer_viewer.core.cache import preprocess
from mer_viewer.core.dataset import Dataset
from tests.gui_helpers import clip_spec, make_window, open_and_wait, wait_settled


class PaintCounter(QtCore.QObject):
    """Counts the paint events of each watched widget."""

    def __init__(self, widgets: dict):
        super().__init__()
        self.names = {w: name for name, w in widgets.items()}
        self.counts = dict.fromkeys(widgets, 0)
        for widget in widgets.values():
            widget.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        if event.type() == QtCore.QEvent.Type.Paint and obj in self.names:
            self.counts[self.names[obj]] += 1
        return False

    def reset(self) -> None:
        self.counts = dict.fromkeys(self.counts, 0)


def _quiet(qtbot, ms: int = 400) -> None:
    """Let every pending and deferred paint happen (the late second paints came 30-60 ms on)."""
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        qtbot.wait(10)


def test_clip_switch_paints_each_panel_once(qtbot, demo_copy, tmp_path):
    samples = Dataset.open(demo_copy).samples[:3]
    assert all(o.ok for o in list(preprocess(samples, workers=1, flow="dis"))[-1].result)
    window = make_window(qtbot, tmp_path, flow="dis")
    # a slow (loaded) machine must not end the hold before the cached clip is all in
    window.paint_hold._timer.setInterval(10_000)
    window.prefetch.enabled = False  # first visits that read from the disk cache
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    _quiet(qtbot)
    views = window.views2d
    counter = PaintCounter({p.objectName(): p.layout_widget.viewport() for p in views.panels})
    rows = window.state.dataset.samples
    for row in (rows[1], rows[2], rows[0], rows[1]):  # two first visits, two revisits
        counter.reset()
        window.state.set_row(row)
        wait_settled(qtbot, window)
        _quiet(qtbot)
        assert views.rgb.box_shown and not window.paint_hold.holding
        assert counter.counts == dict.fromkeys(counter.counts, 1), (row.id, counter.counts)

"""``MER_VIEWER_REPORT_FIRST_PAINT``: one JSON line at the window's first paint, then quit."""

from __future__ import annotations

import json
import time

from PySide6 import QtWidgets

from mer_viewer.qt.infra.first_paint import PREFIX, FirstPaintReporter, requested


def test_reports_first_paint_once_then_quits(qtbot, capsys, monkeypatch):
    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    quits = []
    reporter = FirstPaintReporter(window, then=lambda: quits.append(True))
    before = time.time()
    window.show()
    qtbot.waitUntil(lambda: bool(quits), timeout=5000)
    window.update()
    qtbot.wait(50)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(PREFIX)]
    assert len(lines) == 1 and quits == [True]
    report = json.loads(lines[0][len(PREFIX):])
    assert report == reporter.report
    assert before <= report["time_s"] <= time.time()
    assert isinstance(report["heavy_imports"], list)

    monkeypatch.setenv("MER_VIEWER_REPORT_FIRST_PAINT", "1")
    assert requested()
    monkeypatch.setenv("MER_VIEWER_REPORT_FIRST_PAINT", "0")
    assert not requested()

"""The 3D export's size dialog: twice the screen by default, proportions kept while editing."""

from __future__ import annotations

from PySide6 import QtCore

from mer_viewer.qt.views.cloud_export import ExportDialog


def test_size_defaults_to_twice_the_screen_and_keeps_proportions(qtbot):
    dialog = ExportDialog(QtCore.QSize(600, 400))
    qtbot.addWidget(dialog)
    assert dialog.size_px() == QtCore.QSize(1200, 800)
    dialog.width_box.setValue(1500)
    assert dialog.size_px() == QtCore.QSize(1500, 1000)
    dialog.presets.setCurrentIndex(dialog.presets.findData(3))
    assert dialog.size_px() == QtCore.QSize(1800, 1200)
    dialog.keep.setChecked(False)
    dialog.height_box.setValue(700)
    assert dialog.size_px() == QtCore.QSize(1800, 700)

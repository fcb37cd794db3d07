"""The flow view starts on the default method; a method the user chose is remembered."""

from __future__ import annotations

from PySide6 import QtCore

from mer_viewer.core.flow import DEFAULT_FLOW


def _window(qtbot, settings, restore: bool):
    from mer_viewer.qt.main_window import MainWindow

    window = MainWindow(settings, restore=restore)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    return window


def test_flow_view_defaults_and_remembers_a_chosen_method(qtbot, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "mer-viewer.ini"),
                                QtCore.QSettings.Format.IniFormat)
    # what every window saved before the default changed: TV-L1, never chosen
    settings.setValue("flow/method", "tvl1")
    first = _window(qtbot, settings, restore=True)
    assert first.views2d.flow_method == DEFAULT_FLOW == first.state.flow_method

    first.views2d.set_flow_method("farneback")
    first.save_settings()
    chosen = _window(qtbot, settings, restore=True)
    assert chosen.views2d.flow_method == "farneback" == chosen.state.flow_method

    chosen.views2d.set_flow_method(DEFAULT_FLOW)
    chosen.save_settings()
    assert _window(qtbot, settings, restore=True).views2d.flow_method == DEFAULT_FLOW

"""Messages: failures are red and stay until dismissed, information fades, the log keeps all."""

from __future__ import annotations

from PySide6 import QtWidgets

from mer_viewer.core.dataset.edits import SIDECAR_NAME
from mer_viewer.qt.panels import status_widgets
from tests.gui_helpers import clip_spec, make_window, open_and_wait


def _red(bar) -> bool:
    line = bar.lines["error"]
    color = line.grab().toImage().pixelColor(line.width() // 2, 2)  # the banner's background
    return not line.isHidden() and color.red() > 2 * color.blue()


def test_failures_stay_red_and_the_log_keeps_every_message(qtbot, demo_copy, tmp_path,
                                                           monkeypatch):
    monkeypatch.setattr(status_widgets, "INFO_SECONDS", 0.2)
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    bar = window.messages

    # the annotation sidecar cannot be written (a folder is in its place)
    window.annotation.frames["apex"].setValue(window.state.sample.apex + 1)
    (demo_copy / SIDECAR_NAME).mkdir()
    window.annotation.save()
    assert "could not save the annotations" in bar.shown("error") and _red(bar)
    assert window.session.dirty  # nothing was lost: the edits are still there to save

    # exporting the 3D points into a path under a file
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    target = str(blocker / "points.ply")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: (target, "")))
    window.cloud_panel._ask_export("left")
    assert "export failed" in bar.shown("error") and target in bar.shown("error")
    assert bar.lines["error"].earlier.text() == "+1 earlier"  # the first is not lost from view

    # information shown after the error fades; the error stays (red) until dismissed
    bar.info("a passing remark")
    assert bar.shown("info") == "a passing remark" and "export failed" in bar.shown("error")
    qtbot.waitUntil(lambda: bar.shown("info") == "", timeout=3000)
    qtbot.wait(300)
    assert "export failed" in bar.shown("error") and _red(bar)
    bar.lines["error"].close_button.click()
    assert bar.shown("error") == "" and bar.current == ""

    # the merged-annotation export into that path fails in its job: red as well
    window.session.export(blocker / "merged.csv")
    qtbot.waitUntil(lambda: "merged.csv" in bar.shown("error"), timeout=10_000)
    assert bar.lines["error"].earlier.text() == ""

    log = window.show_message_log()
    qtbot.addWidget(log)
    kinds = [kind for kind, _text in bar.history]
    assert kinds == ["error", "error", "info", "error"]
    lines = log.text().splitlines()
    assert len(lines) == 4
    for line, (kind, text) in zip(lines, bar.history):
        assert kind in line and text.splitlines()[0] in line
    bar.info("one more")
    assert log.text().splitlines()[-1].endswith("one more")  # the log follows live

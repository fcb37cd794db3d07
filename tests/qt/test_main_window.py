"""Main window: keyboard shortcuts, drag and drop, recent datasets, remembered settings."""

from __future__ import annotations

import warnings

from PySide6 import QtCore, QtGui, QtWidgets

from mer_viewer.qt.infra.settings import recent_datasets
from mer_viewer.qt.panels.shortcuts import SHORTCUTS, ShortcutsDialog
from tests.gui_helpers import clip_spec, make_window, open_and_wait, wait_settled


def _key(qtbot, window, key):
    # No window manager under Xvfb activates windows; window shortcuts need an active window.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        QtWidgets.QApplication.setActiveWindow(window)
    qtbot.keyClick(window.views2d, key)


def test_keyboard_moves_frames_and_clips(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    state = window.state
    qtbot.waitExposed(window)
    start = state.frame
    _key(qtbot, window, QtCore.Qt.Key.Key_Right)
    _key(qtbot, window, QtCore.Qt.Key.Key_Right)
    assert state.frame == start + 2
    _key(qtbot, window, QtCore.Qt.Key.Key_Left)
    assert state.frame == start + 1
    _key(qtbot, window, QtCore.Qt.Key.Key_A)
    assert state.frame == state.sample.apex
    _key(qtbot, window, QtCore.Qt.Key.Key_Home)
    assert state.frame == state.sample.onset

    first = state.sample.key
    _key(qtbot, window, QtCore.Qt.Key.Key_PageDown)
    assert state.sample is not None and state.sample.key != first
    assert window.browser.current_row().key == state.sample.key
    wait_settled(qtbot, window)
    _key(qtbot, window, QtCore.Qt.Key.Key_PageUp)
    assert state.sample.key == first

    _key(qtbot, window, QtCore.Qt.Key.Key_Space)
    assert window.views2d.scrubber.playing
    _key(qtbot, window, QtCore.Qt.Key.Key_Space)
    assert not window.views2d.scrubber.playing
    wait_settled(qtbot, window)

    # every shortcut of the table has its action in the window, and the help lists them
    names = {a.objectName() for a in window.findChildren(QtGui.QAction)}
    assert set(SHORTCUTS) <= names
    dialog = ShortcutsDialog(window)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(SHORTCUTS)


def test_drop_folder_recent_and_settings(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(demo_corpus))])
    pos = QtCore.QPointF(50, 50)
    enter = QtGui.QDragEnterEvent(pos.toPoint(), QtCore.Qt.DropAction.CopyAction, mime,
                                  QtCore.Qt.MouseButton.LeftButton,
                                  QtCore.Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QtGui.QDropEvent(pos, QtCore.Qt.DropAction.CopyAction, mime,
                            QtCore.Qt.MouseButton.LeftButton,
                            QtCore.Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    wait_settled(qtbot, window)
    assert window.state.sample is not None  # the first sample is shown
    assert recent_datasets(window.settings)[0] == str(demo_corpus.resolve())

    window.cloud_panel.controls.points.setCurrentIndex(
        window.cloud_panel.controls.points.findData(1024))
    window.cloud_panel.controls.align.setCurrentIndex(
        window.cloud_panel.controls.align.findData("landmarks"))
    wait_settled(qtbot, window)
    assert window.state.cloud_params.align == "landmarks"
    window.save_settings()

    from mer_viewer.qt.main_window import MainWindow

    again = MainWindow(window.settings, restore=True)
    qtbot.addWidget(again, before_close_func=lambda w: w.shutdown())
    assert again.cloud_panel.controls.sampling("left").points == 1024
    assert again.state.cloud_params.align == "landmarks"
    assert again.views2d.flow.method == "dis"


def test_settings_file_under_xdg_config(qtbot, tmp_path):
    import os

    from mer_viewer.qt.infra.settings import open_settings, settings_file

    assert str(settings_file()).startswith(os.environ["XDG_CONFIG_HOME"])
    s = open_settings()
    s.setValue("probe", 1)
    s.sync()
    assert settings_file().is_file()


def test_demo_built_on_first_use_with_progress(qtbot, tmp_path, monkeypatch):
    from mer_viewer.core.paths import demo_root
    from mer_viewer.qt.infra import session

    monkeypatch.setattr(session, "DEMO_SIZE", {"subjects": 1, "clips_per_subject": 1, "seed": 3})
    window = make_window(qtbot, tmp_path)
    root = demo_root()
    assert not (root / session.DEMO_SHEET).exists()
    window.open_demo()
    assert window.jobs.is_running("demo") and window.job_status.isVisible()
    assert "demo" in window.job_status.label.text()
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=120_000)
    assert window.state.dataset.root == root and (root / session.DEMO_SHEET).is_file()
    wait_settled(qtbot, window)


def test_revisited_clip_is_shown_from_memory(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    first = window.state.sample
    window.state.set_row(window.state.dataset.samples[1])
    wait_settled(qtbot, window)
    window.state.set_row(first)
    # cloud, aligned pair, flow and samplings come back at once, without any job, so the
    # paint hold of the switch is over before the event loop runs: one repaint
    assert not window.jobs.is_running("cloud") and not window.jobs.is_running("flow")
    assert not window.paint_hold.holding
    assert window.state.cloud is not None and window.state.pair is not None
    assert window.views2d.flow_shown and window.cloud_panel.ready
    wait_settled(qtbot, window)


def test_fits_1366x768_and_long_texts_never_move_the_docks(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.apply_size(1366, 768)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))

    def fits() -> bool:
        hint = window.minimumSizeHint()
        return (hint.width() <= 1366 and hint.height() <= 768 and not squeezed()
                and window.size() == QtCore.QSize(1366, 768))

    def squeezed() -> list[str]:
        """Docks given less room than their widgets need: the widgets overlap then (a dock's
        minimum misses what wraps to the width, e.g. the 3D controls)."""
        found = []
        for name, dock in window.docks.items():
            if not dock.isVisible() or dock.isFloating():
                continue
            widgets = [w for w in dock.widget().findChildren(QtWidgets.QWidget)
                       if w.isVisible() and w.parentWidget() is dock.widget()]
            rects = [w.geometry() for w in widgets]
            found += [f"{name}: {type(a).__name__} over {type(b).__name__}"
                      for i, a in enumerate(widgets) for j, b in enumerate(widgets)
                      if i < j and rects[i].intersects(rects[j])]
        return found

    def layout():
        return {name: dock.geometry() for name, dock in window.docks.items() if dock.isVisible()}

    qtbot.wait(50)
    assert fits(), squeezed()
    before = layout()
    assert {"browser", "cloud", "annotation", "classify"} <= set(before)
    long = "a long text that goes on " * 40 + "/and/a/path/without/any/space/" * 10
    cloud = window.state.cloud
    window.cloud_panel.views["left"].pointHovered.emit(len(cloud) // 2)  # a hovered point
    window.state.pick_point(len(cloud) // 3)  # a picked point
    window.cloud_panel.info.setText(long)
    window.cloud_panel.titles["left"].setText(long)
    for panel in window.views2d.panels:
        panel.readout.setText(long)
    window.classify_panel.result_label.setText(f"predicted <b>{long}</b>")
    window.classify_panel.checkpoint_label.setText(long)
    qtbot.wait(50)
    assert layout() == before and fits(), squeezed()
    assert window.cloud_panel.info.text() == long and window.cloud_panel.info.toolTip() == long

    # long messages take their lines above the views, never more width
    window.messages.error(long)
    window.messages.info(long)
    window.docks["train"].raise_()
    qtbot.wait(50)
    assert fits(), squeezed()
    assert all(layout()[name] == before[name] for name in ("browser", "cloud", "annotation"))


def test_entries_that_cannot_be_examined_are_reported(qtbot, demo_copy, tmp_path):
    # a link loop in a subject folder: the dataset opens, the user is told what was not read
    subject = sorted(p for p in demo_copy.iterdir() if p.name.startswith("spNO."))[0]
    (subject / "loop").symlink_to("loop")
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    loop = f"{subject / 'loop'}: symbolic link loop"
    assert any(kind == "info" and loop in text and "may hide samples" in text
               for kind, text in window.messages.history)
    assert "⚠ 1 not examined" in window.browser.summary.text()
    assert loop in window.browser.summary.toolTip()

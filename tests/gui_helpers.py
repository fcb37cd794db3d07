"""Helpers of the Qt and GL tests: a main window on a corpus, waiting until it has loaded."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

from PySide6 import QtCore, QtWidgets


def make_window(qtbot, settings_dir: Path, flow: str = "dis"):
    """A main window with private settings (nothing restored), shown."""
    from mer_viewer.qt.main_window import MainWindow

    settings = QtCore.QSettings(str(settings_dir / "mer-viewer.ini"),
                                QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings, restore=False)
    window.views2d.flow.method_box.setCurrentText(flow)  # DIS: milliseconds, not seconds
    def before_close(w):
        w.session.undo.setClean()  # no "save your edits?" dialog when the test ends
        w.shutdown()

    qtbot.addWidget(window, before_close_func=before_close)
    window.resize(1400, 900)
    window.show()
    return window


def wait_settled(qtbot, window, timeout_s: float = 60.0) -> None:
    """Process events until every job ended and the views show the current clip."""
    from mer_viewer.qt.infra.screenshot import settled

    deadline = time.monotonic() + timeout_s
    streak = 0
    while time.monotonic() < deadline:
        qtbot.wait(30)
        streak = streak + 1 if settled(window) else 0
        if streak >= 3:
            return
    raise AssertionError(f"window did not settle in {timeout_s} s; jobs: {window.jobs.names()}")


def open_and_wait(qtbot, window, root: Path, clip: str | None = None,
                  timeout_s: float = 60.0) -> None:
    window.open_dataset(root, clip)
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=int(timeout_s * 1000))
    wait_settled(qtbot, window, timeout_s)


def press(qtbot, widget: QtWidgets.QWidget, key: QtCore.Qt.Key,
          modifier=QtCore.Qt.KeyboardModifier.NoModifier) -> None:
    """A key press the way a user makes it (shortcuts included)."""
    # No window manager (offscreen, Xvfb) activates windows; window shortcuts need one.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        QtWidgets.QApplication.setActiveWindow(widget.window())
    widget.setFocus()
    qtbot.keyClick(widget, key, modifier)


def clip_spec(root: Path, index: int = 0) -> str:
    """``SUBJECT/CLIP_ONSET`` of the ``index``-th loadable sample of ``root`` (for --clip)."""
    from mer_viewer.core.dataset import Dataset

    sample = Dataset.open(root).samples[index]
    return f"{sample.subject}/{sample.clip}_{sample.onset}"


def damage_frames(sample, color: tuple[int, ...] = (), depth: tuple[int, ...] = ()) -> None:
    """Make frames of ``sample`` (in a private copy of a corpus) unreadable: each colour
    JPEG replaced by garbage, each depth PNG cut to half its length."""
    for number in color:
        sample.frames.color_path(number).write_bytes(b"not a JPEG at all " * 64)
    for number in depth:
        path = sample.frames.depth_path(number)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])


def gl_unavailable_reason() -> str | None:
    """Why real OpenGL rendering is impossible in this process, or None when it works."""
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return "no display: Qt runs offscreen (install Xvfb, or run under xvfb-run)"
    from PySide6 import QtGui, QtWidgets

    if QtWidgets.QApplication.instance() is None:
        return "no QApplication"
    context = QtGui.QOpenGLContext()
    if not context.create():
        return "no OpenGL context could be created"
    surface = QtGui.QOffscreenSurface()
    surface.create()
    if not context.makeCurrent(surface):
        return "the OpenGL context cannot be made current"
    context.doneCurrent()
    return None


class JobWatch:
    """Records every job a window starts and how it ended; a journey test fails when a job
    neither finishes nor errors (nor is cancelled) within its time."""

    def __init__(self, jobs):
        self.jobs = jobs
        self.started: list[str] = []
        self.ended: list[tuple[str, str]] = []  # (name, "done" | "failed: …" | "cancelled")
        jobs.started.connect(lambda name, _label: self.started.append(name))
        jobs.done.connect(lambda name, _r: self.ended.append((name, "done")))
        jobs.failed.connect(lambda name, text: self.ended.append((name, f"failed: {text}")))
        jobs.cancelled.connect(lambda name: self.ended.append((name, "cancelled")))

    def outcome(self, name: str) -> str | None:
        """How the last job ``name`` ended (None while it runs or never ran)."""
        for ended, how in reversed(self.ended):
            if ended == name:
                return how
        return None

    def failures(self) -> list[tuple[str, str]]:
        return [(n, how) for n, how in self.ended if how.startswith("failed")]

    def assert_all_end(self, qtbot, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.jobs.busy and len(self.ended) >= len(self.started):
                return
            qtbot.wait(20)
        raise AssertionError(f"jobs neither finished nor failed in {timeout_s} s: "
                             f"{self.jobs.names()} (started {self.started}, ended {self.ended})")


def select_row(qtbot, window, row) -> None:
    """Click the row's entry in the dataset browser."""
    tree = window.browser.tree
    index = next(i for i in window.browser.visible_rows()
                 if window.browser.row_at(i) is not None
                 and window.browser.row_at(i).key == row.key)
    tree.scrollTo(index)
    qtbot.mouseClick(tree.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=tree.visualRect(index).center())
    qtbot.waitUntil(lambda: window.state.row is not None and window.state.row.key == row.key,
                    timeout=5000)

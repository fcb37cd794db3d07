"""Background jobs: cancel keeps the GUI responsive, errors become messages, never crashes."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6 import QtCore, QtWidgets

from mer_viewer.core.errors import DatasetError
from mer_viewer.core.progress import Progress
from mer_viewer.qt.infra.workers import JobRunner
from mer_viewer.qt.panels.status_widgets import JobStatus
from tests.gui_helpers import make_window


def _slow_job(steps: int, pause: float, log: list):
    try:
        for i in range(steps):
            time.sleep(pause)
            yield Progress(i + 1, steps, f"step {i + 1}")
    finally:
        log.append("closed")


def test_cancel_leaves_gui_responsive(qtbot):
    jobs = JobRunner()
    log: list = []
    ticks: list[float] = []
    timer = QtCore.QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    with qtbot.waitSignal(jobs.progress, timeout=5000):
        jobs.start("slow", _slow_job(1000, 0.05, log), "slow job")
    assert jobs.busy
    with qtbot.waitSignal(jobs.cancelled, timeout=1000):
        jobs.cancel("slow")
    assert not jobs.busy
    qtbot.waitUntil(lambda: log == ["closed"], timeout=3000)  # the generator's finally ran
    ticks.clear()
    qtbot.wait(400)
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= 8 and max(gaps) < 0.1  # the event loop never stalled 100 ms
    assert jobs.wait_all(3)


def test_newer_job_replaces_older_and_results_arrive_in_gui_thread(qtbot):
    jobs = JobRunner()
    results = []
    main = QtCore.QThread.currentThread()
    jobs.done.connect(lambda name, r: results.append((name, r, QtCore.QThread.currentThread() is main)))

    def job(value, pause):
        time.sleep(pause)
        yield Progress(1, 1, "", value)

    jobs.start("cloud", job("old", 0.3))
    jobs.start("cloud", job("new", 0.0))
    qtbot.waitUntil(lambda: not jobs.busy, timeout=3000)
    qtbot.wait(400)
    assert results == [("cloud", "new", True)]
    assert jobs.wait_all(3)


def test_errors_are_messages_not_crashes(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)

    def failing():
        yield Progress(0, 1, "about to fail")
        raise DatasetError("/nowhere: dataset folder does not exist")

    window.jobs.start("boom", failing(), "opening /nowhere")
    qtbot.waitUntil(lambda: window.messages.current != "", timeout=5000)
    assert "dataset folder does not exist" in window.messages.current
    assert window.isVisible()

    def bug():
        yield Progress(0, 1)
        raise ZeroDivisionError("division by zero")

    window.jobs.start("bug", bug(), "a buggy job")
    qtbot.waitUntil(lambda: "ZeroDivisionError" in window.messages.current, timeout=5000)

    window.open_dataset(tmp_path / "missing")
    qtbot.waitUntil(lambda: "does not exist" in window.messages.current, timeout=5000)
    assert window.state.dataset is None and not window.jobs.busy


def _raising(exc: BaseException):
    yield Progress(0, 1, "working")
    raise exc


def _stop_iteration_inside():
    yield Progress(0, 1)
    next(iter(()))  # a StopIteration inside a generator becomes a RuntimeError (PEP 479)


@pytest.mark.parametrize("make_job, expected", [
    (lambda: _raising(RuntimeError("one of the variables needed for gradient computation "
                                   "has been modified by an inplace operation")),
     "RuntimeError: one of the variables needed"),
    (lambda: _raising(KeyboardInterrupt()), "KeyboardInterrupt"),
    (lambda: _raising(SystemExit(3)), "SystemExit: 3"),
    (lambda: _raising(RecursionError("maximum recursion depth exceeded")), "RecursionError"),
    (lambda: _raising(PermissionError(13, "Permission denied", "/ro/run/x.pt")),
     "/ro/run/x.pt: permission denied"),
    (_stop_iteration_inside, "RuntimeError: generator raised StopIteration"),
])
def test_every_exception_ends_the_job_with_a_message(qtbot, make_job, expected):
    """superqt swallows RuntimeError (it takes it for a deleted worker): no job may hang."""
    jobs = JobRunner()
    failures, ends = [], []
    jobs.failed.connect(lambda name, text: failures.append((name, text)))
    jobs.done.connect(lambda name, _r: ends.append(("done", name)))
    jobs.cancelled.connect(lambda name: ends.append(("cancelled", name)))
    with qtbot.waitSignal(jobs.failed, timeout=5000):
        jobs.start("job", make_job(), "the job")
    assert len(failures) == 1 and failures[0][0] == "job"
    assert failures[0][1].startswith("the job: " + expected)
    assert ends == [] and not jobs.busy and jobs.names() == []
    assert jobs.wait_all(3)  # the worker thread ended too (quitting never waits it out)


class _PaintCounter(QtCore.QObject):
    def __init__(self, widget):
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        if event.type() == QtCore.QEvent.Type.Paint:
            self.count += 1
        return False


def _held_job(steps: list, release: threading.Event):
    yield from steps
    release.wait(10)


@pytest.mark.parametrize("steps", [[], [Progress(0, 2, "half way")]], ids=["no total", "0 of 2"])
def test_a_running_job_does_not_repaint_the_status_bar_while_nothing_changes(qtbot, steps):
    """Fusion animates a progress bar at 60 fps; beside the 3D views each repaint composes
    the window through (software) GL and slowed classify 2-3x. The bar stands still: hidden
    until the job gives a total, then repainted only when its step changes."""
    jobs = JobRunner()
    status = JobStatus(jobs)
    holder = QtWidgets.QMainWindow()
    holder.statusBar().addPermanentWidget(status)
    qtbot.addWidget(holder)
    holder.show()
    qtbot.waitExposed(holder)
    release = threading.Event()
    jobs.start("held", _held_job(steps, release), "a held job")
    qtbot.waitUntil(lambda: status.isVisible() and status.label.text() != "", timeout=5000)
    qtbot.wait(100)  # the job's first records are shown
    assert status.bar.isVisible() == bool(steps)
    paints = _PaintCounter(status.bar)
    qtbot.wait(600)
    release.set()
    assert paints.count <= 2, f"the progress bar was painted {paints.count} times in 0.6 s"
    qtbot.waitUntil(lambda: not jobs.busy, timeout=5000)
    assert not status.isVisible()


def test_a_job_outliving_its_window_ends_quietly(qtbot):
    # the window (the runner's parent) is deleted while its job still yields and returns:
    # the late signals must not raise in the event loop (pytest-qt fails the test if so)
    owner = QtCore.QObject()
    jobs = JobRunner(owner)
    go, yielded = threading.Event(), threading.Event()

    def job():
        yield Progress(0, 2, "started")
        go.wait(10)
        yield Progress(1, 2, "late", result="late result")
        yielded.set()
        return

    jobs.start("slow", job())
    qtbot.waitUntil(lambda: jobs.label("slow") == "slow", timeout=5000)
    import shiboken6

    shiboken6.delete(owner)  # the runner goes with it
    assert not shiboken6.isValid(jobs)
    go.set()
    assert yielded.wait(10)
    qtbot.wait(300)  # the queued yield and return reach the deleted runner's callbacks

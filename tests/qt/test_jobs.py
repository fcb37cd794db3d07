"""Background jobs: cancel keeps the GUI responsive, errors become messages, never crashes."""

from __future__ import annotations

import time

from PySide6 import QtCore

from mer_viewer.core.errors import DatasetError
from mer_viewer.core.progress import Progress
from mer_viewer.qt.workers import JobRunner
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

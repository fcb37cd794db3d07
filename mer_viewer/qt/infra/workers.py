"""Long core jobs (generators of Progress) in worker threads: progress, cancel, errors as signals."""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6 import QtCore
from superqt.utils import GeneratorWorker

from ...core.errors import MerError, describe_error  # noqa: F401 - re-exported
from ...core.progress import Progress

#: Progress reaches the GUI at most this often (ms): a fast job must not flood the event loop.
PROGRESS_INTERVAL_MS = 80
#: Jobs wait for files and for each other; on a 2-core machine the default pool of 2 threads
#: would queue a flow behind a slow cloud (6 for jobs, 2 for the background lanes).
MIN_THREADS = 8


class JobFailed(Exception):
    """Carries any exception of a job's generator out of superqt's worker loop.

    superqt's ``GeneratorWorker`` takes a ``RuntimeError`` (torch raises many) for "this
    worker was deleted" and then emits neither ``errored`` nor ``finished``: the job would
    never end. Wrapped in this type, every failure, ``BaseException`` included, reaches
    ``errored``.
    """

    def __init__(self, original: BaseException):
        super().__init__(describe_error(original))
        self.original = original


def guarded(job: Iterator[Progress]) -> Iterator[Progress]:
    """``job``, with every exception it raises turned into :class:`JobFailed`."""
    try:
        return (yield from job)
    except GeneratorExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - reported to the user by JobRunner
        raise JobFailed(exc) from exc


def original_error(exc: BaseException) -> BaseException:
    return exc.original if isinstance(exc, JobFailed) else exc


class _ClosingWorker(GeneratorWorker):
    """A GeneratorWorker that closes its generator when it stops, so ``finally`` blocks run
    in the worker thread (a process pool shut down on cancel, temp files removed)."""

    def work(self):  # noqa: D102 - superqt's loop, plus the close
        try:
            return super().work()
        finally:
            try:
                self._gen.close()
            except Exception:  # a generator that fails while closing: the job is over anyway
                pass


@dataclass
class _Running:
    worker: GeneratorWorker
    label: str
    last: Progress | None = None
    result: Any = None
    cancelled: bool = False
    background: bool = False


class JobRunner(QtCore.QObject):
    """Runs named jobs; starting a job under a running name cancels the older one.

    ``progress(name, Progress)`` is throttled; ``partial(name, result)`` carries every
    non-None ``Progress.result`` in order (jobs yield few of them); ``done(name, result)``
    the last result, ``failed(name, message)`` a one-line error, ``cancelled(name)``.
    ``busy`` tells whether any job runs (the screenshot waits for idle).

    A ``background`` job (reading ahead, decoding frames: see :class:`Lane`) is no job to
    the user: it is not shown, not counted in ``busy`` or ``names``, and says only
    ``partial`` and ``failed`` (an exception it lets out is a bug, shown like any other);
    ``cancel_all`` and ``wait_all`` cover it too.
    """

    progress = QtCore.Signal(str, object)
    partial = QtCore.Signal(str, object)
    done = QtCore.Signal(str, object)
    failed = QtCore.Signal(str, str)
    cancelled = QtCore.Signal(str)
    started = QtCore.Signal(str, str)
    busyChanged = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        pool = QtCore.QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), MIN_THREADS))
        self._jobs: dict[str, _Running] = {}
        self._retired: list[GeneratorWorker] = []  # cancelled workers still unwinding
        self._timer = QtCore.QTimer(self, interval=PROGRESS_INTERVAL_MS)
        self._timer.timeout.connect(self._flush_progress)
        self._dirty: set[str] = set()
        self._busy = False

    # --- control ---------------------------------------------------------------------------
    def start(self, name: str, job: Iterator[Progress], label: str = "",
              background: bool = False) -> None:
        """Run the generator ``job`` in a worker thread under ``name``."""
        self.cancel(name)
        worker = _ClosingWorker(lambda: (yield from guarded(job)))
        running = _Running(worker, label or name, background=background)
        worker.yielded.connect(lambda p, r=running, n=name: self._on_yield(n, r, p))
        worker.returned.connect(lambda _v, r=running, n=name: self._on_return(n, r))
        worker.errored.connect(lambda e, r=running, n=name: self._on_error(n, r, e))
        worker.aborted.connect(lambda r=running, n=name: self._on_abort(n, r))
        worker.finished.connect(lambda w=worker: self._forget(w))
        self._jobs[name] = running
        self._retired.append(worker)
        if not background:
            self.started.emit(name, running.label)
        worker.start()
        if not background:
            self._timer.start()
            self._after_change()

    def cancel(self, name: str) -> None:
        """Ask job ``name`` to stop at its next yield; its results are ignored from now on."""
        running = self._jobs.pop(name, None)
        if running is None:
            return
        running.cancelled = True
        running.worker.quit()
        if not running.background:
            self.cancelled.emit(name)
        self._after_change()

    def cancel_all(self) -> None:
        for name in list(self._jobs):
            self.cancel(name)

    def is_running(self, name: str) -> bool:
        return name in self._jobs

    @property
    def busy(self) -> bool:
        return any(not r.background for r in self._jobs.values())

    def names(self) -> list[str]:
        return [name for name, r in self._jobs.items() if not r.background]

    def label(self, name: str) -> str:
        running = self._jobs.get(name)
        return running.label if running else ""

    def wait_all(self, timeout_s: float = 10.0) -> bool:
        """Block until every worker thread (cancelled ones too) has ended: for shutdown only."""
        deadline = time.monotonic() + timeout_s
        while self._retired and time.monotonic() < deadline:
            QtCore.QCoreApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            QtCore.QThread.msleep(10)
        return not self._retired

    # --- worker callbacks (GUI thread) -------------------------------------------------------
    def _current(self, name: str, running: _Running) -> bool:
        # a worker's signal may arrive after the runner's window was deleted (closed while
        # the job unwound): nothing to tell then, and emitting would raise
        return (shiboken6.isValid(self) and self._jobs.get(name) is running
                and not running.cancelled)

    def _on_yield(self, name: str, running: _Running, record: object) -> None:
        if not self._current(name, running) or not isinstance(record, Progress):
            return
        running.last = record
        if not running.background:
            self._dirty.add(name)
        if record.result is not None:
            running.result = record.result
            self.partial.emit(name, record.result)

    def _on_return(self, name: str, running: _Running) -> None:
        if not self._current(name, running):
            return
        del self._jobs[name]
        self._dirty.discard(name)
        if not running.background:
            self.done.emit(name, running.result)
        self._after_change()

    def _on_error(self, name: str, running: _Running, exc: BaseException) -> None:
        if not self._current(name, running):
            return
        del self._jobs[name]
        self._dirty.discard(name)
        exc = original_error(exc)
        if not isinstance(exc, MerError):
            traceback.print_exception(type(exc), exc, exc.__traceback__)
        self.failed.emit(name, f"{running.label}: {describe_error(exc)}")
        self._after_change()

    def _on_abort(self, name: str, running: _Running) -> None:
        if shiboken6.isValid(self) and self._jobs.get(name) is running:  # aborted from outside cancel(): treat as cancel
            del self._jobs[name]
            if not running.background:
                self.cancelled.emit(name)
            self._after_change()

    def _forget(self, worker: GeneratorWorker) -> None:
        if worker in self._retired:
            self._retired.remove(worker)

    def _after_change(self) -> None:
        busy = self.busy
        if not busy:
            self._timer.stop()
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _flush_progress(self) -> None:
        for name in list(self._dirty):
            running = self._jobs.get(name)
            if running is not None and running.last is not None:
                self.progress.emit(name, running.last)
        self._dirty.clear()


class Lane:
    """Work on items one at a time, in order, in one background job of ``jobs`` at a time.

    ``put`` queues an item and starts a job when none runs; with ``latest_only`` it replaces
    the item still waiting, so a burst of requests (scrubbing, playback) never queues up
    behind the disk. ``work(item)`` runs in the job's thread and reports through signals of
    its own. Each run of the lane is a job of its own name (``NAME 1``, ``NAME 2``, …):
    a run that is ending never cancels, nor is cancelled by, the next.
    """

    def __init__(self, jobs: JobRunner, name: str, work: Callable[[Any], None],
                 latest_only: bool = False):
        self.jobs, self.name, self.work, self.latest_only = jobs, name, work, latest_only
        self._lock = threading.Lock()
        self._waiting: deque = deque()
        self._running = False
        self._runs = 0

    def put(self, item: Any) -> None:
        """Queue ``item`` (GUI thread)."""
        with self._lock:
            if self.latest_only:
                self._waiting.clear()
            self._waiting.append(item)
            if self._running:
                return
            self._running = True
            self._runs += 1
            name = f"{self.name} {self._runs}"
        self.jobs.start(name, self._run(), self.name, background=True)

    def clear(self) -> None:
        """Drop the items still waiting (the one being worked on finishes)."""
        with self._lock:
            self._waiting.clear()

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._running and not self._waiting

    def _run(self) -> Iterator[Progress]:
        ended = False
        try:
            while True:
                with self._lock:
                    if not self._waiting:
                        self._running, ended = False, True
                        return
                    item = self._waiting.popleft()
                self.work(item)
                yield Progress(0, 0, self.name)  # a cancel (shutdown) stops here
        finally:
            if not ended:  # cancelled or failed: the next put starts a new run
                with self._lock:
                    self._running = False

"""Reading ahead: the clips before and after the shown one, loaded into memory in the background."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Sequence

from PySide6 import QtCore

from ...core.dataset import Sample
from ...core.errors import MerError
from ...core.jobs import read_ahead
from ...core.pipeline import SamplingParams
from .memo import RecentClips
from .state import ViewerState, view_key
from .workers import JobRunner, Lane

#: ms after a clip switch is all shown before reading ahead (its repaint goes first).
DELAY_MS = 30


def first_frame(sample: Sample) -> int:
    """The frame a new clip opens on (``ViewerState.set_sample``: the one nearest the onset)."""
    numbers = sample.frames.numbers
    return min(numbers, key=lambda n: abs(n - sample.onset)) if numbers else sample.onset


class Prefetcher(QtCore.QObject):
    """After a clip switch, loads the neighbouring clips into ``recent`` as a revisit finds them.

    ``neighbours()`` says which clips (the browser's previous and next), ``samplings()``
    the 3D views' samplings. Only what the disk cache holds (``mer preprocess``) is read,
    one clip after another in a background lane of ``jobs``: the onset frame (the 16-bit
    depth PNG is most of it), the cloud, the aligned pair, the flow of the current method,
    then the 3D samplings (``core.jobs.read_ahead``). A clip whose cloud or pair is not
    cached is left alone. It is no job: the status bar and ``settled`` do not wait for it.
    """

    JOB = "read ahead"

    def __init__(self, state: ViewerState, recent: RecentClips, jobs: JobRunner,
                 neighbours: Callable[[], Sequence[Sample]],
                 samplings: Callable[[], dict[str, SamplingParams]],
                 parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.state, self.recent = state, recent
        self.neighbours, self.samplings = neighbours, samplings
        self.enabled = True
        self._lane = Lane(jobs, self.JOB, self._load)
        self._lock = threading.Lock()
        self._in_flight: set[tuple] = set()

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._in_flight

    def schedule(self, *_args) -> None:
        if self.enabled:
            QtCore.QTimer.singleShot(DELAY_MS, self.start)

    def start(self) -> None:
        state = self.state
        if state.sample is None or not self.enabled:
            return
        params, method, samplings = state.cloud_params, state.flow_method, self.samplings()
        for sample in self.neighbours():
            key = (view_key(sample), params)
            if self.recent.clip(key) is not None:
                continue
            with self._lock:
                if key in self._in_flight:
                    continue
                self._in_flight.add(key)
            self._lane.put((key, sample, params, method, samplings))

    def _load(self, job) -> None:
        """One clip, in the lane's thread, into ``recent``."""
        key, sample, params, method, samplings = job
        try:
            number = first_frame(sample)
            got = read_ahead(sample, number, params, method, samplings)
            if got is None or params != self.state.cloud_params:
                return  # not cached (the switch computes it), or read with old parameters
            self.recent.keep_frame(sample, number, *got["frame"])
            self.recent.keep_clip(key, got["cloud"], got["pair"])
            if got["flow"] is not None:
                self.recent.keep_flow(got["pair"], method, got["flow"])
            self.recent.keep_sampling(samplings, got["sampled"])
        except (MerError, OSError, ValueError):
            pass  # the switch itself will load it, and report what is wrong
        except Exception:  # noqa: BLE001 - a bug: printed, and reading ahead goes on
            traceback.print_exc()
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def shutdown(self) -> None:
        self.enabled = False
        self._lane.clear()  # the job runner stops the clip being read
        with self._lock:
            self._in_flight.clear()

"""Reading ahead: the clips before and after the shown one, loaded into memory in the background."""

from __future__ import annotations

import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

from PySide6 import QtCore

from ..core.dataset import Sample
from ..core.errors import MerError
from .state import view_key

#: ms after a clip switch is all shown before reading ahead (its repaint goes first).
DELAY_MS = 30


def first_frame(sample: Sample) -> int:
    """The frame a new clip opens on (``ViewerState.set_sample``: the one nearest the onset)."""
    numbers = sample.frames.numbers
    return min(numbers, key=lambda n: abs(n - sample.onset)) if numbers else sample.onset


class Prefetcher(QtCore.QObject):
    """After a clip switch, loads the browser's previous and next clips as a revisit finds them.

    Only what the disk cache holds (``mer preprocess``) is read, in one worker thread: the
    onset frame (the 16-bit depth PNG is most of it), the cloud, the aligned pair, the flow
    of the current method, then the 3D samplings. A clip whose cloud or pair is not cached
    is left alone. It is no job: the status bar and ``settled`` do not wait for it.
    """

    loaded = QtCore.Signal(object)  # dict of what one clip needs (worker → GUI thread)

    def __init__(self, window, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.window = window
        self.enabled = True
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._lock = threading.Lock()
        self._in_flight: set[tuple] = set()
        self.loaded.connect(self._store)

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._in_flight

    def schedule(self, *_args) -> None:
        if self.enabled:
            QtCore.QTimer.singleShot(DELAY_MS, self.start)

    def start(self) -> None:
        w = self.window
        state = w.state
        if state.sample is None or not self.enabled:
            return
        params, method = state.cloud_params, state.flow_method
        samplings = {side: w.cloud_panel.controls.sampling(side) for side in w.cloud_panel.views}
        for sample in w.browser.neighbours():
            key = (view_key(sample), params)
            if w.cloud_loader.memo.get(key) is not None:
                continue
            with self._lock:
                if key in self._in_flight:
                    continue
                self._in_flight.add(key)
            self._pool.submit(self._load, key, sample, params, method, samplings)

    def _load(self, key, sample, params, method, samplings) -> None:
        from ..core.cache import clip_files, load_cloud, load_flow, load_pair
        from .cloud_panel import sampling_job

        try:
            files = clip_files(sample, params)
            cloud, pair = load_cloud(files.cloud), load_pair(files.pair)
            if cloud is None or pair is None:
                return
            flow = load_flow(files.flow(method))
            number = first_frame(sample)
            rgb, depth = sample.frames.color(number), sample.frames.depth(number)
            self.window.views2d.loader.put(sample, number, rgb, depth)
            sampled = list(sampling_job(cloud, samplings))[-1].result
            self.loaded.emit({"key": key, "cloud": cloud, "pair": pair, "flow": flow,
                              "method": method, "samplings": samplings, "sampled": sampled})
        except (MerError, OSError, ValueError):
            pass  # the switch itself will load it, and report what is wrong
        except Exception:  # noqa: BLE001 - a bug: never lost in the executor's future
            traceback.print_exc()
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def _store(self, got: dict) -> None:
        w = self.window
        key = got["key"]
        if key[1] != w.state.cloud_params:
            return  # read with parameters changed since
        w.cloud_loader.memo.put(key, {"cloud": got["cloud"], "pair": got["pair"]})
        if got["flow"] is not None:
            w.views2d.remember_flow(got["pair"], got["method"], got["flow"])
        w.cloud_panel.remember_sampling(got["samplings"], got["sampled"])

    def shutdown(self) -> None:
        self.enabled = False
        self._pool.shutdown(wait=True, cancel_futures=True)

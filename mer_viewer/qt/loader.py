"""Background loading for the views: frames (latest request wins) and the current clip's cloud."""

from __future__ import annotations

import threading
import traceback
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numpy as np
from PySide6 import QtCore

from ..core.dataset import Sample
from ..core.errors import MerError
from ..core.pipeline import CloudParams, align_pair, cloud_from_pair
from ..core.progress import Progress
from .memo import Memo
from .state import ViewerState, view_key
from .workers import JobRunner, describe_error

FRAME_CACHE = 24  # decoded frames kept (~3.7 MB each at 1280×720 RGB + depth)


class FrameLoader(QtCore.QObject):
    """Decodes colour + depth frames in one background thread; a newer request replaces an
    older one still waiting, so scrubbing and playback never queue up behind the disk."""

    frameReady = QtCore.Signal(str, int, object, object)  # sample id, frame, rgb, depth
    frameFailed = QtCore.Signal(str, int, str)  # sample id, frame, one-line message

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frames")
        self._lock = threading.Lock()
        self._pending: tuple[Sample, int] | None = None
        self._running = False
        self._cache: OrderedDict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def request(self, sample: Sample, number: int) -> None:
        key = (sample.frames.color_dir.as_posix() + sample.id, number)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self._pending = None  # an older request must not overwrite this frame
        if hit is not None:
            self.frameReady.emit(sample.id, number, *hit)
            return
        with self._lock:
            self._pending = (sample, number)
            if self._running:
                return
            self._running = True
        self._pool.submit(self._drain)

    def put(self, sample: Sample, number: int, rgb: np.ndarray, depth: np.ndarray) -> None:
        """Keep a frame decoded elsewhere (read ahead); any thread."""
        self._store((sample.frames.color_dir.as_posix() + sample.id, number), rgb, depth)

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._running and self._pending is None

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def shutdown(self) -> None:
        with self._lock:
            self._pending = None
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _drain(self) -> None:
        while True:
            with self._lock:
                job, self._pending = self._pending, None
                if job is None:
                    self._running = False
                    return
            sample, number = job
            try:
                rgb = sample.frames.color(number)
                depth = sample.frames.depth(number)
            except Exception as exc:  # noqa: BLE001 - reported for its frame; the loader goes on
                if not isinstance(exc, (MerError, OSError)):
                    traceback.print_exc()  # a bug, not a bad file: keep the details
                self.frameFailed.emit(sample.id, number,
                                      f"frame {number} of {sample.id}: {describe_error(exc)}")
                continue
            key = (sample.frames.color_dir.as_posix() + sample.id, number)
            self._store(key, rgb, depth)
            self.frameReady.emit(sample.id, number, rgb, depth)

    def _store(self, key, rgb, depth) -> None:
        with self._lock:
            self._cache[key] = (rgb, depth)
            while len(self._cache) > FRAME_CACHE:
                self._cache.popitem(last=False)


def cloud_job(sample: Sample, params: CloudParams, flow_method: str = "tvl1",
              use_cache: bool = True) -> Iterator[Progress]:
    """The current clip's cloud and aligned pair, from the disk cache when there, and the
    pair's flow by ``flow_method`` when that is cached too (``mer preprocess`` caches all).

    What the cache holds comes first as one ``("cached", {"cloud", "pair", "flow"})``
    result (the views then update at once); what it lacks is computed, stored and
    yielded as ``("pair", AlignedPair)`` and ``("cloud", MotionCloud)`` (the flow is the
    flow view's job). A cached cloud shows before the slower face alignment.
    """
    from ..core.cache import clip_files, load_cloud, load_flow, load_pair, save_cloud, save_pair

    files = clip_files(sample, params)
    cloud = load_cloud(files.cloud) if use_cache else None
    pair = load_pair(files.pair) if use_cache else None
    flow = load_flow(files.flow(flow_method)) if pair is not None else None
    found = {k: v for k, v in (("cloud", cloud), ("pair", pair), ("flow", flow)) if v is not None}
    if found:
        yield Progress(1, 3, "from the cache", ("cached", found))
    if pair is None:
        yield Progress(1, 3, "finding the face and aligning apex to onset")
        pair = align_pair(sample, params)
        if use_cache:
            _store(save_pair, pair, files.pair)
        yield Progress(2, 3, "aligned", ("pair", pair))
    if cloud is None:
        cloud = cloud_from_pair(pair, params, sampling=None)
        if use_cache:
            _store(save_cloud, cloud, files.cloud)
        yield Progress(3, 3, "cloud ready", ("cloud", cloud))
    yield Progress(3, 3, "done")


def _store(save, value, path) -> None:
    try:
        save(value, path)
    except OSError:
        pass  # a read-only cache only costs time


class CloudLoader(QtCore.QObject):
    """Recomputes the cloud when the clip or the cloud parameters change (job ``cloud``).

    The clouds and aligned pairs of recent clips stay in memory: a revisit shows them
    without a job (face detection alone takes a few hundred ms). Create it after the
    views, so that on a new clip they have cleared themselves before it shows those.
    """

    JOB = "cloud"

    def __init__(self, state: ViewerState, jobs: JobRunner, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        state.sampleChanged.connect(self.reload)
        state.cloudParamsChanged.connect(self.reload)
        jobs.partial.connect(self._on_partial)
        self.memo = Memo()  # (view key, CloudParams) -> {"cloud": ..., "pair": ...}
        self._sample_id = ""
        self._key: tuple | None = None
        self._found: dict = {}

    def reload(self, *_args) -> None:
        sample = self.state.sample
        if sample is None:
            self.jobs.cancel(self.JOB)
            return
        self._sample_id = sample.id
        self._key = (view_key(sample), self.state.cloud_params)
        self._found = {}
        hit = self.memo.get(self._key)
        if hit is not None:
            self.jobs.cancel(self.JOB)
            self.state.set_result(sample.id, cloud=hit["cloud"], pair=hit["pair"])
            return
        self.jobs.start(self.JOB, cloud_job(sample, self.state.cloud_params,
                                            self.state.flow_method),
                        f"motion cloud of {sample.id}")

    def _on_partial(self, name: str, result: object) -> None:
        if name != self.JOB or not isinstance(result, tuple):
            return
        kind, value = result
        if kind == "cached":
            self.state.set_result(self._sample_id, **value)
            found = {k: v for k, v in value.items() if k != "flow"}
        elif kind == "cloud":
            self.state.set_result(self._sample_id, cloud=value)
            found = {kind: value}
        elif kind == "pair":
            self.state.set_result(self._sample_id, pair=value)
            found = {kind: value}
        else:
            return
        self._found.update(found)
        if self._key is not None and len(self._found) == 2:
            self.memo.put(self._key, dict(self._found))

"""A clip's products read through the disk cache, and ``preprocess``, which fills it in parallel.

Per clip and parameter hash the motion cloud, the aligned pair and the optical flows are
cached (what the 3D and 2D views need): :class:`ClipProducts` is the one place that
decides "load, else compute and store". Where the files are and how they are written:
:mod:`.cache_files` (its names are importable from here too).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, TypeVar

from . import cache_files
from .cache_files import (
    ClipFiles,
    cache_file,
    clip_files,
    load_cloud,
    load_flow,
    load_pair,
    save_cloud,
    save_flow,
    save_pair,
    source_signature,
)
from .dataset import Sample
from .errors import CacheWarning, MerError, write_reason
from .flow import DEFAULT_FLOW, FlowField, FlowMethod, pair_flow
from .pipeline import (
    AlignedPair,
    CloudParams,
    MotionCloud,
    SamplingParams,
    align_pair,
    cloud_from_pair,
)
from .progress import Progress
from .threads import limit_to_one_thread, one_thread

__all__ = [
    "CachedProducts", "ClipFiles", "ClipProducts", "PreprocessOutcome", "cache_file",
    "cached_cloud", "cached_flow", "cached_pair", "clip_files", "load_cloud", "load_flow",
    "load_pair", "preprocess", "save_cloud", "save_flow", "save_pair", "source_signature",
    "warn_cache_problem",
]

T = TypeVar("T")

#: Cache problems already warned about in this process (one warning per folder and reason).
_warned: set[str] = set()


def _try_store(save: Callable[[T, Path], None], value: T, path: Path) -> str:
    """Cache ``value``; "" when stored, else why not (``<folder>: cache not written (...)``).

    A read-only or full cache, or a cache path through a file, only costs time later.
    """
    try:
        save(value, path)
    except OSError as exc:
        return (f"{path.parent}: cache not written ({write_reason(path, exc)}); "
                "results are computed again each time")
    return ""


def warn_cache_problem(problem: str) -> None:
    """Warn (CacheWarning) that the cache is not used, once per problem and process."""
    if problem and problem not in _warned:
        _warned.add(problem)
        warnings.warn(problem, CacheWarning, stacklevel=3)


class CachedProducts(TypedDict, total=False):
    """What the disk cache holds of one clip (see :meth:`ClipProducts.cached`)."""

    cloud: MotionCloud
    pair: AlignedPair
    flow: FlowField


class ClipProducts:
    """One clip's products for one parameter set (aligned pair, motion cloud, optical flows),
    read through the disk cache: from the cache when there and valid, else computed and stored.

    The one place that decides "load, else compute and store": the commands, ``preprocess``,
    the viewer's loaders and its reading ahead all go through it. The cache is optional:
    with ``use_cache`` off nothing is read or written, and a cache that cannot be written
    (read-only, full, a path through a file) costs time, never the result: ``cache_error``
    says why (the last problem), with ``warn`` also a CacheWarning once per process.
    What was loaded or computed stays on the object (the cloud is made from the pair just
    aligned); ``pair`` is one known already (it is then neither loaded nor stored). One
    thread at a time.
    """

    def __init__(self, sample: Sample, params: CloudParams = CloudParams(),
                 root: Path | None = None, use_cache: bool = True, warn: bool = True,
                 pair: AlignedPair | None = None):
        self.sample, self.params, self.use_cache, self.warn = sample, params, use_cache, warn
        self.files = clip_files(sample, params, root)
        self.cache_error = ""
        self._pair: AlignedPair | None = pair
        self._cloud: MotionCloud | None = None
        self._flows: dict[str, FlowField] = {}
        self._looked: set[str] = set()  # what the cache was asked for already

    # --- from the cache only (None when absent, unreadable, or the cache is off) --------------
    def _lookup(self, what: str, load: Callable[[], T | None]) -> T | None:
        if what in self._looked or not self.use_cache:
            return None
        self._looked.add(what)
        return load()

    def cached_pair(self) -> AlignedPair | None:
        if self._pair is None:
            self._pair = self._lookup("pair", lambda: load_pair(self.files.pair))
        return self._pair

    def cached_cloud(self) -> MotionCloud | None:
        if self._cloud is None:
            self._cloud = self._lookup("cloud", lambda: load_cloud(self.files.cloud))
        return self._cloud

    def cached_flow(self, method: FlowMethod) -> FlowField | None:
        if method not in self._flows:
            flow = self._lookup(f"flow-{method}", lambda: load_flow(self.files.flow(method)))
            if flow is not None and flow.method == method:
                self._flows[method] = flow
        return self._flows.get(method)

    def cached(self, flow_method: FlowMethod | None = None) -> CachedProducts:
        """What the cache holds: ``{"cloud", "pair", "flow"}``, those found (the flow by
        ``flow_method`` is looked up only with a pair, which it belongs to)."""
        found: CachedProducts = {}
        cloud, pair = self.cached_cloud(), self.cached_pair()
        if cloud is not None:
            found["cloud"] = cloud
        if pair is not None:
            found["pair"] = pair
            flow = self.cached_flow(flow_method) if flow_method is not None else None
            if flow is not None:
                found["flow"] = flow
        return found

    # --- read-through ---------------------------------------------------------------------------
    def pair(self) -> AlignedPair:
        """The aligned pair (face, landmarks, alignment, onset/apex crops)."""
        pair = self.cached_pair()
        if pair is None:
            pair = self._pair = align_pair(self.sample, self.params)
            self._store(save_pair, pair, self.files.pair)
        return pair

    def cloud(self) -> MotionCloud:
        """The unsampled motion cloud (made from the pair, which is stored with it)."""
        cloud = self.cached_cloud()
        if cloud is None:
            cloud = self._cloud = cloud_from_pair(self.pair(), self.params, sampling=None)
            self._store(save_cloud, cloud, self.files.cloud)
        return cloud

    def flow(self, method: FlowMethod) -> FlowField:
        """The optical flow of the pair by ``method``."""
        if self.cached_flow(method) is None:
            self._flows[method] = pair_flow(self.pair(), method)
            self._store(save_flow, self._flows[method], self.files.flow(method))
        return self._flows[method]

    def _store(self, save: Callable[[T, Path], None], value: T, path: Path) -> None:
        if not self.use_cache:
            return
        problem = _try_store(save, value, path)
        if problem:
            self.cache_error = problem
            if self.warn:
                warn_cache_problem(problem)


def cached_pair(sample: Sample, params: CloudParams = CloudParams(), root: Path | None = None,
                use_cache: bool = True) -> AlignedPair:
    """The aligned pair of ``sample``: from the cache when valid, else computed and stored."""
    return ClipProducts(sample, params, root, use_cache).pair()


def cached_flow(sample: Sample, params: CloudParams = CloudParams(),
                method: FlowMethod = DEFAULT_FLOW,
                pair: AlignedPair | None = None, root: Path | None = None,
                use_cache: bool = True) -> FlowField:
    """The optical flow of ``sample``'s aligned pair (``pair`` when given, else the cached or
    computed one): from the cache, else computed and stored."""
    return ClipProducts(sample, params, root, use_cache, pair=pair).flow(method)


def cached_cloud(sample: Sample, params: CloudParams = CloudParams(),
                 sampling: SamplingParams | None = SamplingParams(),
                 root: Path | None = None, use_cache: bool = True) -> MotionCloud:
    """The motion cloud of ``sample``: from the cache when valid, else computed and stored
    (with its aligned pair, which the 2D views use)."""
    cloud = ClipProducts(sample, params, root, use_cache).cloud()
    return cloud if sampling is None else cloud.resample(sampling)


@dataclass(frozen=True)
class PreprocessOutcome:
    """What happened to one sample in ``preprocess``: ok (cached or computed) or its error.

    ``flow_error`` says why the optical flow failed (the cloud and pair are cached then);
    ``cache_error`` why what was computed could not be cached (the sample is still ok).
    """

    sample_id: str
    ok: bool
    cached: bool = False
    error: str = ""
    flow_error: str = ""
    cache_error: str = ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _preprocess_one(sample: Sample, params: CloudParams, root: Path | None,
                    flow: FlowMethod | None = None) -> PreprocessOutcome:
    # one clip's arrays are small: extra BLAS/OpenCV threads only cost CPU (threads.py)
    with one_thread():
        return _preprocess_clip(sample, params, root, flow)


def _preprocess_clip(sample: Sample, params: CloudParams, root: Path | None,
                     flow: FlowMethod | None) -> PreprocessOutcome:
    try:
        clip = ClipProducts(sample, params, root, warn=False)  # the caller warns, once
        found = clip.cached()
        missing_flow = flow if flow is not None and clip.cached_flow(flow) is None else None
        if len(found) == 2 and missing_flow is None:
            return PreprocessOutcome(sample.id, True, cached=True)
        clip.pair()
        clip.cloud()
    except (MerError, ValueError, OSError) as exc:
        return PreprocessOutcome(sample.id, False, error=_first_line(exc))
    if missing_flow is not None:
        try:
            clip.flow(missing_flow)
        except Exception as exc:  # noqa: BLE001 - OpenCV errors too; the cloud is still good
            return PreprocessOutcome(sample.id, True, flow_error=_first_line(exc),
                                     cache_error=clip.cache_error)
    return PreprocessOutcome(sample.id, True, cache_error=clip.cache_error)


def _files_exist(sample: Sample, params: CloudParams, root: Path | None,
                 flow: FlowMethod | None) -> bool:
    try:
        files = clip_files(sample, params, root)
    except MerError:
        return False  # a missing frame: the worker reports it
    return (files.cloud.is_file() and files.pair.is_file()
            and (flow is None or files.flow(flow).is_file()))


def preprocess(samples: Sequence[Sample], params: CloudParams = CloudParams(),
               workers: int | None = None, root: Path | None = None,
               flow: FlowMethod | None = None, pool=None) -> Iterator[Progress]:
    """Fill the cache for ``samples``; yields one Progress per sample (result: PreprocessOutcome).

    Caches each sample's cloud and aligned pair, and with ``flow`` its optical flow
    by that method (what the viewer shows first). A failed sample or flow never
    stops the run, nor does a cache that cannot be written (each sample is computed
    and checked all the same; a CacheWarning says so once); the final record's
    result is the list of every outcome.

    ``pool``: ``pool(fn, calls)`` yields ``fn(*args)`` of every ``args`` of ``calls`` as
    they finish (``cluster.map_on_ray``: one Ray task per clip, writing into this cache
    folder); default: a pool of ``workers`` processes here.
    """
    total = len(samples)
    outcomes: list[PreprocessOutcome] = []
    workers = max(1, workers or os.cpu_count() or 1)
    # Clips whose files are all there are only checked, here: no pool is started for them
    # (forking a large process holds the GIL while it copies it, a GUI's thread included).
    here = [s for s in samples if (workers == 1 and pool is None)
            or _files_exist(s, params, root, flow)]
    known = {id(s) for s in here}
    pending = [s for s in samples if id(s) not in known]
    for sample in here:
        outcome = _preprocess_one(sample, params, root, flow)
        warn_cache_problem(outcome.cache_error)
        outcomes.append(outcome)
        yield Progress(len(outcomes), total, outcome.sample_id, outcome)
    if pending and pool is not None:
        # the tasks write where this process reads (cache_files' folder, as patched in tests)
        folder = root or cache_files.cache_dir() / "clouds"
        for outcome in pool(_preprocess_one, [(s, params, folder, flow) for s in pending]):
            warn_cache_problem(outcome.cache_error)
            outcomes.append(outcome)
            yield Progress(len(outcomes), total, outcome.sample_id, outcome)
    elif pending:
        with ProcessPoolExecutor(max_workers=min(workers, len(pending)),
                                 initializer=limit_to_one_thread) as pool:
            # The first submit forks the workers: fork them with one OpenCV thread here, as
            # a forked child that changes OpenCV's thread count waits forever for the
            # parent's OpenCV threads, which did not come along.
            with one_thread():
                futures = [pool.submit(_preprocess_one, s, params, root, flow) for s in pending]
            try:
                for future in as_completed(futures):
                    outcome = future.result()
                    warn_cache_problem(outcome.cache_error)
                    outcomes.append(outcome)
                    yield Progress(len(outcomes), total, outcome.sample_id, outcome)
            finally:
                for future in futures:
                    future.cancel()
    yield Progress(total, total, "done", outcomes)

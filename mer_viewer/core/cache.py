"""Per clip and parameter hash: the motion cloud, the aligned pair and the optical flow are
cached on disk (what the 3D and 2D views need); ``preprocess`` fills the cache in parallel."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .dataset import Sample
from .errors import CacheWarning, FrameError, MerError, write_reason
from .face import Alignment, Box
from .flow import DEFAULT_FLOW, FlowField, FlowMethod, pair_flow
from .paths import cache_dir
from .pipeline import (
    AlignedPair,
    CloudParams,
    MotionCloud,
    SamplingParams,
    align_pair,
    cloud_from_pair,
)
from .progress import Progress

_ARRAYS = ("points_m", "rgb", "delta_m", "motion", "colors", "pixels", "kept", "centre")
_PAIR_ARRAYS = ("onset_rgb", "apex_rgb", "onset_depth_mm", "apex_depth_mm")
#: What a damaged or foreign cache file raises in ``np.load``: the entry is then recomputed.
_UNREADABLE = (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile)


def source_signature(sample: Sample) -> list:
    """Path, size and modification time of the four frame files a cloud is made from."""
    frames = sample.frames
    paths = [("colour", frames.color_path(sample.onset)), ("colour", frames.color_path(sample.apex)),
             ("depth", frames.depth_path(sample.onset)), ("depth", frames.depth_path(sample.apex))]
    out = []
    for kind, path in paths:
        try:
            stat = path.stat()
        except OSError:
            raise FrameError(path, f"{kind} frame file does not exist") from None
        out.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return out


@dataclass(frozen=True)
class ClipFiles:
    """The cache files of one clip for one parameter set (the sources are looked at once).

    All share one stem, so the same parameters (their hash includes the pipeline
    version), onset, apex and frame files (path, size, mtime) decide all of them.
    """

    stem: Path

    @property
    def cloud(self) -> Path:
        return self.stem.with_name(self.stem.name + ".npz")

    @property
    def pair(self) -> Path:
        return self.stem.with_name(self.stem.name + ".pair.npz")

    def flow(self, method: FlowMethod) -> Path:
        return self.stem.with_name(f"{self.stem.name}.flow-{method}.npz")


def clip_files(sample: Sample, params: CloudParams, root: Path | None = None) -> ClipFiles:
    """Where the cloud, pair and flows of ``sample`` for ``params`` are cached."""
    signature = json.dumps([params.key(), sample.onset, sample.apex, source_signature(sample)])
    digest = hashlib.sha1(signature.encode()).hexdigest()[:20]
    safe_id = "".join(c if c.isalnum() or c in "._-" else "_" for c in sample.id)
    return ClipFiles((root or cache_dir() / "clouds") / f"{safe_id}-{digest}")


def cache_file(sample: Sample, params: CloudParams, root: Path | None = None) -> Path:
    """Where the cloud of ``sample`` for ``params`` is cached; changes when sources change."""
    return clip_files(sample, params, root).cloud


def _meta(data: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(data).encode(), np.uint8)


def _write_npz(path: Path, arrays: dict) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def save_cloud(cloud: MotionCloud, path: Path) -> None:
    """Write the sampling-independent part of a cloud atomically (temp file + rename)."""
    arrays = {name: getattr(cloud, name) for name in _ARRAYS}
    arrays["box"] = np.asarray(cloud.box, dtype=np.int64)
    arrays["scale"] = np.float64(cloud.scale)
    arrays["meta"] = _meta({"sample_id": cloud.sample_id, "provenance": cloud.provenance})
    _write_npz(path, arrays)


def load_cloud(path: Path) -> MotionCloud | None:
    """A cached cloud (unsampled), or None when the file is absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS}
            meta = json.loads(data["meta"].tobytes().decode())
            box = Box(*(int(v) for v in data["box"]))
            scale = float(data["scale"])
    except _UNREADABLE:
        return None
    return MotionCloud(sample_id=meta["sample_id"], box=box, scale=scale,
                       provenance=meta["provenance"], **arrays)


def save_pair(pair: AlignedPair, path: Path) -> None:
    """Write an aligned pair (face, landmarks, alignment, onset/apex crops) atomically."""
    arrays = {name: getattr(pair, name) for name in _PAIR_ARRAYS}
    arrays["box"] = np.asarray(pair.box, dtype=np.int64)
    arrays["matrix"] = np.asarray(pair.alignment.matrix, dtype=np.float64)
    if pair.landmarks is not None:
        arrays["landmarks"] = pair.landmarks
    alignment = {k: v for k, v in pair.alignment.as_dict().items() if k != "matrix"}
    arrays["meta"] = _meta({"sample_id": pair.sample_id, "face_method": pair.face_method,
                            "alignment": alignment, "frame_shape": list(pair.frame_shape),
                            "timings_ms": pair.timings_ms})
    _write_npz(path, arrays)


def load_pair(path: Path) -> AlignedPair | None:
    """A cached aligned pair, or None when the file is absent, unreadable or inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _PAIR_ARRAYS}
            meta = json.loads(data["meta"].tobytes().decode())
            box = Box(*(int(v) for v in data["box"]))
            matrix = data["matrix"]
            landmarks = data["landmarks"] if "landmarks" in data.files else None
        shape = (box.height, box.width)
        if matrix.shape != (2, 3) or any(a.shape[:2] != shape for a in arrays.values()):
            return None
        matrix.setflags(write=False)
        alignment = Alignment(matrix=matrix, **meta["alignment"])
        return AlignedPair(sample_id=meta["sample_id"], box=box, landmarks=landmarks,
                           face_method=meta["face_method"], alignment=alignment,
                           frame_shape=tuple(meta["frame_shape"]),
                           timings_ms=meta["timings_ms"], **arrays)
    except _UNREADABLE:
        return None


def save_flow(flow: FlowField, path: Path) -> None:
    """Write a flow field with its colour coding atomically."""
    _write_npz(path, {"flow": flow.flow, "rgb": flow.rgb, "max_px": np.float64(flow.max_px),
                      "meta": _meta({"method": flow.method})})


def load_flow(path: Path) -> FlowField | None:
    """A cached flow field, or None when the file is absent, unreadable or inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as data:
            flow, rgb, top = data["flow"], data["rgb"], float(data["max_px"])
            method = json.loads(data["meta"].tobytes().decode())["method"]
    except _UNREADABLE:
        return None
    if flow.ndim != 3 or flow.shape[2] != 2 or rgb.shape != flow.shape[:2] + (3,):
        return None
    return FlowField(method, flow, rgb, top)


#: Cache problems already warned about in this process (one warning per folder and reason).
_warned: set[str] = set()


def _try_store(save, value, path: Path) -> str:
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
        self._pair, self._cloud = pair, None
        self._flows: dict[str, FlowField] = {}
        self._looked: set[str] = set()  # what the cache was asked for already

    # --- from the cache only (None when absent, unreadable, or the cache is off) --------------
    def _lookup(self, what: str, load):
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

    def cached(self, flow_method: FlowMethod | None = None) -> dict:
        """What the cache holds: ``{"cloud", "pair", "flow"}``, those found (the flow by
        ``flow_method`` is looked up only with a pair, which it belongs to)."""
        found = {"cloud": self.cached_cloud(), "pair": self.cached_pair()}
        if found["pair"] is not None and flow_method is not None:
            found["flow"] = self.cached_flow(flow_method)
        return {k: v for k, v in found.items() if v is not None}

    # --- read-through ---------------------------------------------------------------------------
    def pair(self) -> AlignedPair:
        """The aligned pair (face, landmarks, alignment, onset/apex crops)."""
        if self.cached_pair() is None:
            self._pair = align_pair(self.sample, self.params)
            self._store(save_pair, self._pair, self.files.pair)
        return self._pair

    def cloud(self) -> MotionCloud:
        """The unsampled motion cloud (made from the pair, which is stored with it)."""
        if self.cached_cloud() is None:
            self._cloud = cloud_from_pair(self.pair(), self.params, sampling=None)
            self._store(save_cloud, self._cloud, self.files.cloud)
        return self._cloud

    def flow(self, method: FlowMethod) -> FlowField:
        """The optical flow of the pair by ``method``."""
        if self.cached_flow(method) is None:
            self._flows[method] = pair_flow(self.pair(), method)
            self._store(save_flow, self._flows[method], self.files.flow(method))
        return self._flows[method]

    def _store(self, save, value, path: Path) -> None:
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
    try:
        clip = ClipProducts(sample, params, root, warn=False)  # the caller warns, once
        found = clip.cached()
        need_flow = flow is not None and clip.cached_flow(flow) is None
        if len(found) == 2 and not need_flow:
            return PreprocessOutcome(sample.id, True, cached=True)
        clip.pair()
        clip.cloud()
    except (MerError, ValueError, OSError) as exc:
        return PreprocessOutcome(sample.id, False, error=_first_line(exc))
    if need_flow:
        try:
            clip.flow(flow)
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
               flow: FlowMethod | None = None) -> Iterator[Progress]:
    """Fill the cache for ``samples``; yields one Progress per sample (result: PreprocessOutcome).

    Caches each sample's cloud and aligned pair, and with ``flow`` its optical flow
    by that method (what the viewer shows first). A failed sample or flow never
    stops the run, nor does a cache that cannot be written (each sample is computed
    and checked all the same; a CacheWarning says so once); the final record's
    result is the list of every outcome.
    """
    total = len(samples)
    outcomes: list[PreprocessOutcome] = []
    workers = max(1, workers or os.cpu_count() or 1)
    # Clips whose files are all there are only checked, here: no pool is started for them
    # (forking a large process holds the GIL while it copies it, a GUI's thread included).
    here = [s for s in samples if workers == 1 or _files_exist(s, params, root, flow)]
    known = {id(s) for s in here}
    pending = [s for s in samples if id(s) not in known]
    for sample in here:
        outcome = _preprocess_one(sample, params, root, flow)
        warn_cache_problem(outcome.cache_error)
        outcomes.append(outcome)
        yield Progress(len(outcomes), total, outcome.sample_id, outcome)
    if pending:
        with ProcessPoolExecutor(max_workers=min(workers, len(pending))) as pool:
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

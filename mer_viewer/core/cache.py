"""Motion clouds cached per clip and parameter hash; ``preprocess`` fills the cache in parallel."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .atomic import atomic_path
from .dataset import Sample
from .errors import FrameError, MerError
from .face import Box
from .paths import cache_dir
from .pipeline import CloudParams, MotionCloud, SamplingParams, motion_cloud
from .progress import Progress

_ARRAYS = ("points_m", "rgb", "delta_m", "motion", "colors", "pixels", "kept", "centre")


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


def cache_file(sample: Sample, params: CloudParams, root: Path | None = None) -> Path:
    """Where the cloud of ``sample`` for ``params`` is cached; changes when sources change."""
    signature = json.dumps([params.key(), sample.onset, sample.apex, source_signature(sample)])
    digest = hashlib.sha1(signature.encode()).hexdigest()[:20]
    safe_id = "".join(c if c.isalnum() or c in "._-" else "_" for c in sample.id)
    return (root or cache_dir() / "clouds") / f"{safe_id}-{digest}.npz"


def save_cloud(cloud: MotionCloud, path: Path) -> None:
    """Write the sampling-independent part of a cloud atomically (temp file + rename)."""
    arrays = {name: getattr(cloud, name) for name in _ARRAYS}
    arrays["box"] = np.asarray(cloud.box, dtype=np.int64)
    arrays["scale"] = np.float64(cloud.scale)
    arrays["meta"] = np.frombuffer(
        json.dumps({"sample_id": cloud.sample_id, "provenance": cloud.provenance}).encode(), np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def load_cloud(path: Path) -> MotionCloud | None:
    """A cached cloud (unsampled), or None when the file is absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS}
            meta = json.loads(data["meta"].tobytes().decode())
            box = Box(*(int(v) for v in data["box"]))
            scale = float(data["scale"])
    except (OSError, KeyError, ValueError):
        return None
    return MotionCloud(sample_id=meta["sample_id"], box=box, scale=scale,
                       provenance=meta["provenance"], **arrays)


def cached_cloud(sample: Sample, params: CloudParams = CloudParams(),
                 sampling: SamplingParams | None = SamplingParams(),
                 root: Path | None = None, use_cache: bool = True) -> MotionCloud:
    """The motion cloud of ``sample``: from the cache when valid, else computed and stored."""
    path = cache_file(sample, params, root)
    cloud = load_cloud(path) if use_cache else None
    if cloud is None:
        cloud = motion_cloud(sample, params, sampling=None)
        if use_cache:
            save_cloud(cloud, path)
    return cloud if sampling is None else cloud.resample(sampling)


@dataclass(frozen=True)
class PreprocessOutcome:
    """What happened to one sample in ``preprocess``: ok (cached or computed) or its error."""

    sample_id: str
    ok: bool
    cached: bool = False
    error: str = ""


def _preprocess_one(sample: Sample, params: CloudParams, root: Path | None) -> PreprocessOutcome:
    try:
        path = cache_file(sample, params, root)
        if load_cloud(path) is not None:
            return PreprocessOutcome(sample.id, True, cached=True)
        save_cloud(motion_cloud(sample, params, sampling=None), path)
        return PreprocessOutcome(sample.id, True)
    except (MerError, ValueError, OSError) as exc:
        return PreprocessOutcome(sample.id, False, error=str(exc).splitlines()[0])


def preprocess(samples: Sequence[Sample], params: CloudParams = CloudParams(),
               workers: int | None = None, root: Path | None = None) -> Iterator[Progress]:
    """Fill the cache for ``samples``; yields one Progress per sample (result: PreprocessOutcome).

    A failed sample never stops the run; the final record's result is the
    list of every outcome.
    """
    total = len(samples)
    outcomes: list[PreprocessOutcome] = []
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1:
        for i, sample in enumerate(samples, start=1):
            outcome = _preprocess_one(sample, params, root)
            outcomes.append(outcome)
            yield Progress(i, total, outcome.sample_id, outcome)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_preprocess_one, s, params, root) for s in samples]
            try:
                for i, future in enumerate(as_completed(futures), start=1):
                    outcome = future.result()
                    outcomes.append(outcome)
                    yield Progress(i, total, outcome.sample_id, outcome)
            finally:
                for future in futures:
                    future.cancel()
    yield Progress(total, total, "done", outcomes)

"""A clip's cache files: where they are (named by the parameters and the source frames) and
their format (npz, uncompressed, written atomically; a damaged or foreign file reads back as
None). What is made again exactly on load is not stored: a cloud's pixel coordinates (from
its ``kept`` mask) and a flow's colour coding; files that hold them (pipeline version 1)
still load."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .dataset import Sample
from .errors import FrameError
from .face import Alignment, Box
from .flow import FlowField, FlowMethod
from .paths import cache_dir
from .pipeline import AlignedPair, CloudParams, MotionCloud, kept_pixels

_ARRAYS = ("points_m", "rgb", "delta_m", "motion", "colors", "kept", "centre")
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
            stored_pixels = data["pixels"] if "pixels" in data.files else None
        kept = arrays["kept"]
        if kept.shape != (box.height, box.width) or kept.dtype != bool:
            return None
        pixels = kept_pixels(np.flatnonzero(kept), box.width, box)
        if stored_pixels is not None and not np.array_equal(stored_pixels, pixels):
            return None
    except _UNREADABLE:
        return None
    return MotionCloud(sample_id=meta["sample_id"], box=box, scale=scale,
                       provenance=meta["provenance"], pixels=pixels, **arrays)


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
    """Write a flow field atomically (its colour coding is made again on load)."""
    _write_npz(path, {"flow": flow.flow, "max_px": np.float64(flow.max_px),
                      "meta": _meta({"method": flow.method})})


def load_flow(path: Path) -> FlowField | None:
    """A cached flow field, or None when the file is absent, unreadable or inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as data:
            flow, _max = data["flow"], float(data["max_px"])
            method = json.loads(data["meta"].tobytes().decode())["method"]
            stored_rgb = data["rgb"] if "rgb" in data.files else None  # version 1 files
    except _UNREADABLE:
        return None
    if flow.ndim != 3 or flow.shape[2] != 2:
        return None
    if stored_rgb is not None and stored_rgb.shape != flow.shape[:2] + (3,):
        return None
    # the coding is made again from the flow (files of older versions scaled it otherwise)
    return FlowField.of(flow, method)

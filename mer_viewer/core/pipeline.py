"""One clip → one MotionCloud: face, alignment, denoising, back-projection, motion, sampling."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np

from .dataset import Sample
from .denoise import denoise_depth, face_depth_range
from .errors import FaceNotFoundError, FrameError, PipelineError
from .face import (
    Alignment,
    AlignMethod,
    Box,
    align,
    find_face,
    follow_landmarks,
    warp_depth,
    warp_rgb,
)
from .geometry import Intrinsics, backproject
from .motion import RANK_KEYS, MotionParams, RankKey, compute_motion, network_input
from .sampling import SampleMethod, sample_indices

#: Bump when a change to the pipeline alters its results, so old cache entries are not reused.
#: 2: apex landmarks fitted in the onset's face rectangle, the apex colour warped by OpenCV,
#: cache files without the arrays rebuilt on load (cloud pixels, flow colour).
PIPELINE_VERSION = 2


@dataclass(frozen=True)
class CloudParams:
    """Everything that decides a clip's motion cloud (SPEC §1 steps 1–7); lengths in mm/px.

    ``align``: ecc | landmarks | none. ``denoise_sigma_px``: Gaussian σ of the
    face-only depth smoothing, 0 = the paper literally. ``margin``: crop box
    margin around the landmarks. ``depth_fallback``: when dlib finds no face,
    use the nearest depth blob instead of failing. ``intrinsics``: None = the
    CAS(ME)³ camera for the frame size.
    """

    align: AlignMethod = "ecc"
    denoise_sigma_px: float = 3.0
    margin: float = 0.10
    depth_fallback: bool = False
    motion: MotionParams = field(default_factory=MotionParams)
    intrinsics: Intrinsics | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CloudParams:
        """Inverse of :meth:`as_dict` (as stored in checkpoints and run directories)."""
        data = dict(data)
        data["motion"] = MotionParams(**data.get("motion", {}))
        if data.get("intrinsics") is not None:
            data["intrinsics"] = Intrinsics(**data["intrinsics"])
        return cls(**data)

    def key(self) -> str:
        """Stable hash of the parameters and the pipeline version (cache key part)."""
        text = json.dumps([PIPELINE_VERSION, self.as_dict()], sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SamplingParams:
    """How N points are chosen from a cloud (SPEC §1 step 8)."""

    points: int = 2048
    method: SampleMethod = "sort"
    rank: RankKey = "color_l2"
    seed: int = 0


@dataclass(frozen=True, eq=False)
class AlignedPair:
    """Onset and apex of a clip on the onset pixel grid of the face box.

    ``onset_rgb``/``apex_rgb`` (h, w, 3) uint8; ``onset_depth_mm``/``apex_depth_mm``
    (h, w) float32 mm after denoising (0 = invalid); the apex warped onto the
    onset grid by ``alignment``. ``box`` is in full-frame pixels.
    """

    sample_id: str
    box: Box
    landmarks: np.ndarray | None
    face_method: Literal["dlib", "depth"]
    alignment: Alignment
    onset_rgb: np.ndarray
    apex_rgb: np.ndarray
    onset_depth_mm: np.ndarray
    apex_depth_mm: np.ndarray
    frame_shape: tuple[int, int]
    timings_ms: dict[str, float]


@dataclass(frozen=True, eq=False)
class MotionCloud:
    """The motion point cloud of one clip (K kept face points) and N sampled from it.

    Per kept point: ``points_m`` (K, 3) float32 onset xyz in metres, camera
    frame; ``rgb`` (K, 3) uint8 onset colour; ``delta_m`` (K, 3) float32 ΔP
    after offset removal; ``motion`` (K, 3) float32 (r in metres, θ, φ in
    radians); ``colors`` (K, 3) float32 (r̂, θ̂, φ̂) in [0, 1]; ``pixels``
    (K, 2) int32 full-frame (u, v). ``kept`` (h, w) bool marks kept pixels of
    ``box``. ``centre`` (3,) and ``scale`` normalise xyz for the network.
    ``sampled`` (N,) int64 indexes the kept points for ``sampling``; the
    last ``padded`` of them repeat earlier ones. ``provenance`` records the
    parameters, face method, alignment, counts and timings.
    """

    sample_id: str
    box: Box
    points_m: np.ndarray
    rgb: np.ndarray
    delta_m: np.ndarray
    motion: np.ndarray
    colors: np.ndarray
    pixels: np.ndarray
    kept: np.ndarray
    centre: np.ndarray
    scale: float
    provenance: dict
    sampling: SamplingParams = SamplingParams()
    sampled: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    padded: int = 0

    def __len__(self) -> int:
        return len(self.points_m)

    def rank_key(self, name: RankKey = "color_l2") -> np.ndarray:
        """(K,) float64 sort key: ‖(r̂, θ̂, φ̂)‖₂ or the amplitude r."""
        if name == "color_l2":
            return np.linalg.norm(self.colors.astype(np.float64), axis=1)
        if name == "amplitude":
            return self.motion[:, 0].astype(np.float64)
        raise ValueError(f"rank key must be one of {RANK_KEYS}, got {name!r}")

    def resample(self, sampling: SamplingParams) -> MotionCloud:
        """The same cloud with N points chosen by ``sampling`` (cheap: no image work)."""
        chosen = sample_indices(self.rank_key(sampling.rank), sampling.points, sampling.method,
                                sampling.seed, points=self.points_m)
        return replace(self, sampling=sampling, sampled=chosen.indices, padded=chosen.padded)

    def _inputs_of(self, index) -> np.ndarray:
        return network_input(self.points_m[index], self.colors[index], self.centre, self.scale)

    @property
    def inputs(self) -> np.ndarray:
        """(K, 6) float32 network input of every kept point: (xyz − c) / scale ⊕ (r̂, θ̂, φ̂)."""
        return self._inputs_of(slice(None))

    @property
    def network_input(self) -> np.ndarray:
        """(N, 6) float32 network input of the sampled points (computed for those only)."""
        return self._inputs_of(self.sampled)

    def sampled_arrays(self) -> dict[str, np.ndarray]:
        """The npz of SPEC §6: points, colors, motion, pixels, input for the N sampled points."""
        idx = self.sampled
        return {
            "points": self.points_m[idx],
            "colors": self.colors[idx],
            "motion": self.motion[idx],
            "pixels": self.pixels[idx],
            "input": self.network_input,
        }


def kept_pixels(indices: np.ndarray, width: int, box: Box) -> np.ndarray:
    """Flat indices into the (h, ``width``) face box -> (K, 2) int32 full-frame (u, v)."""
    rows, cols = np.divmod(indices, width)
    return np.stack([cols + box.x0, rows + box.y0], axis=1).astype(np.int32)


def _timed(timings: dict[str, float], name: str, start: float) -> float:
    now = time.perf_counter()
    timings[name] = timings.get(name, 0.0) + (now - start) * 1e3
    return now


def align_pair(sample: Sample, params: CloudParams = CloudParams()) -> AlignedPair:
    """Steps 1 and 1b: read onset and apex, find the face, align apex to onset, denoise depth."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    frames = sample.frames
    onset_path, apex_path = frames.color_path(sample.onset), frames.color_path(sample.apex)
    onset_rgb, apex_rgb = frames.color(sample.onset), frames.color(sample.apex)
    onset_depth, apex_depth = frames.depth(sample.onset), frames.depth(sample.apex)
    t = _timed(timings, "decode", t)

    face = find_face(onset_rgb, onset_depth, source=onset_path, margin=params.margin,
                     depth_fallback=params.depth_fallback)
    apex_landmarks = None
    if face.landmarks is not None and params.align != "none":
        try:
            apex_landmarks = follow_landmarks(apex_rgb, face, source=apex_path)
        except FaceNotFoundError:
            pass  # ECC then starts from the identity, which recovers ≤ 1 px head motion
    t = _timed(timings, "detect", t)

    for number, depth in ((sample.onset, onset_depth), (sample.apex, apex_depth)):
        if not (depth[face.box.slices] > 0).any():
            raise FrameError(frames.depth_path(number), "no valid depth in the face region "
                             "(all zero)")
    return pair_on_face(sample.id, face, onset_rgb, onset_depth, apex_rgb, apex_depth,
                        apex_landmarks, params, timings)


def pair_on_face(sample_id: str, face, onset_rgb: np.ndarray, onset_depth: np.ndarray,
                 apex_rgb: np.ndarray, apex_depth: np.ndarray, apex_landmarks: np.ndarray | None,
                 params: CloudParams = CloudParams(),
                 timings: dict[str, float] | None = None) -> AlignedPair:
    """Steps 1 (alignment) and 1b of decoded full frames on the onset's ``face`` (FaceDetection).

    Any frame can play the apex: the motion curve aligns every frame of a clip this way.
    """
    timings = {} if timings is None else timings
    t = time.perf_counter()
    box = face.box
    alignment = align(onset_rgb, apex_rgb, face.landmarks, apex_landmarks, box, params.align)
    apex_rgb_crop = warp_rgb(apex_rgb, alignment, box)
    apex_depth_crop = warp_depth(apex_depth, alignment, box)
    t = _timed(timings, "align", t)

    onset_depth_crop = onset_depth[box.slices].astype(np.float32)
    if params.denoise_sigma_px > 0:
        # Both maps are smoothed over the same pixels (valid in both frames): holes
        # differ between frames, and a different support on a sloped surface would
        # shift the local mean by up to a millimetre, as large as the motion.
        common = (onset_depth_crop > 0) & (apex_depth_crop > 0)
        depth_range = face_depth_range(onset_depth_crop, mask=common)
        onset_depth_crop = denoise_depth(onset_depth_crop, params.denoise_sigma_px, common,
                                         depth_range)
        apex_depth_crop = denoise_depth(apex_depth_crop, params.denoise_sigma_px, common,
                                        depth_range)
    _timed(timings, "denoise", t)
    return AlignedPair(
        sample_id=sample_id, box=box, landmarks=face.landmarks, face_method=face.method,
        alignment=alignment, onset_rgb=onset_rgb[box.slices].copy(), apex_rgb=apex_rgb_crop,
        onset_depth_mm=onset_depth_crop, apex_depth_mm=apex_depth_crop,
        frame_shape=onset_rgb.shape[:2], timings_ms=timings,
    )


def cloud_from_pair(pair: AlignedPair, params: CloudParams = CloudParams(),
                    sampling: SamplingParams | None = SamplingParams()) -> MotionCloud:
    """Steps 2–8 on an aligned pair: back-project, motion features, colours, sampling."""
    timings = dict(pair.timings_ms)
    t = time.perf_counter()
    height, width = pair.frame_shape
    intrinsics = params.intrinsics or Intrinsics.casme3(width, height)
    origin = (pair.box.x0, pair.box.y0)
    onset_points = backproject(pair.onset_depth_mm, intrinsics, origin).reshape(-1, 3)
    apex_points = backproject(pair.apex_depth_mm, intrinsics, origin).reshape(-1, 3)
    t = _timed(timings, "backproject", t)

    try:
        result = compute_motion(onset_points, apex_points, params.motion)
    except ValueError as exc:
        raise PipelineError(f"{pair.sample_id}: {exc}") from None
    h, w = pair.onset_depth_mm.shape
    pixels = kept_pixels(result.indices, w, pair.box)
    t = _timed(timings, "motion", t)

    alignment = pair.alignment
    provenance = {
        "pipeline_version": PIPELINE_VERSION,
        "params": params.as_dict(),
        "face_method": pair.face_method,
        "alignment": {
            "method": alignment.method, "requested": alignment.requested,
            "converged": alignment.converged, "shift_px": alignment.shift_px,
            "ecc_score": alignment.ecc_score, "fallback_reason": alignment.fallback_reason,
            "matrix": np.asarray(alignment.matrix).tolist(),
        },
        "counts": {
            "pixels": int(h * w), "kept": int(result.indices.size),
            "invalid": result.dropped_invalid, "background": result.dropped_background,
            "spikes": result.dropped_spike,
        },
        "r_reference_m": result.r_reference,
        "timings_ms": timings,
    }
    cloud = MotionCloud(
        sample_id=pair.sample_id, box=pair.box,
        points_m=result.points.astype(np.float32),
        rgb=pair.onset_rgb.reshape(-1, 3)[result.indices],
        delta_m=result.delta.astype(np.float32),
        motion=np.stack([result.r, result.theta, result.phi], axis=1).astype(np.float32),
        colors=result.colors, pixels=pixels, kept=result.kept.reshape(h, w),
        centre=np.asarray(result.centre, dtype=np.float64), scale=float(result.scale),
        provenance=provenance,
    )
    if sampling is None:
        return cloud
    t = time.perf_counter()
    cloud = cloud.resample(sampling)
    _timed(timings, "sample", t)
    return cloud


def motion_cloud(sample: Sample, params: CloudParams = CloudParams(),
                 sampling: SamplingParams | None = SamplingParams()) -> MotionCloud:
    """Clip + parameters → MotionCloud (no cache; see :mod:`mer_viewer.core.cache`)."""
    return cloud_from_pair(align_pair(sample, params), params, sampling)

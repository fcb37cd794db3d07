"""Onset→apex motion of face points: filters, offset removal, spherical features, colours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

OffsetMethod = Literal["none", "median", "kabsch"]
OFFSET_METHODS: tuple[str, ...] = get_args(OffsetMethod)
RankKey = Literal["color_l2", "amplitude"]
RANK_KEYS: tuple[str, ...] = get_args(RankKey)

_M_PER_MM = 1e-3


@dataclass(frozen=True)
class MotionParams:
    """Parameters of steps 3–7 of the method (SPEC §1); lengths in millimetres.

    ``face_filter_k``: keep points within k · mean distance of the onset centroid.
    ``offset``: global motion removed from ΔP (none | median | kabsch).
    ``spike_mm``: points with |ΔZ| above it (after offset removal) are dropped.
    ``noise_floor_mm``: points with r below it get θ̂ = φ̂ = 0 (black).
    ``r_percentile``: r̂ = clip(r / P(r), 0, 1) with P this percentile of r.
    """

    face_filter_k: float = 1.5
    offset: OffsetMethod = "median"
    spike_mm: float = 8.0
    noise_floor_mm: float = 0.3
    r_percentile: float = 99.0

    def __post_init__(self) -> None:
        if self.offset not in OFFSET_METHODS:
            raise ValueError(f"offset must be one of {OFFSET_METHODS}, got {self.offset!r}")
        if not self.face_filter_k > 0:
            raise ValueError(f"face_filter_k must be positive, got {self.face_filter_k}")
        if not (self.spike_mm > 0 and self.noise_floor_mm >= 0):
            raise ValueError("spike_mm must be positive and noise_floor_mm non-negative")
        if not 0 < self.r_percentile <= 100:
            raise ValueError(f"r_percentile must be in (0, 100], got {self.r_percentile}")


def motion_vectors(onset: np.ndarray, apex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ΔP = apex − onset per pixel: ``(M, 3), (M, 3) m -> ((M, 3) float64 m, (M,) bool valid)``.

    A pixel is valid when both points are finite (NaN marks invalid depth); ΔP
    of invalid pixels is NaN.
    """
    onset = np.asarray(onset, dtype=np.float64).reshape(-1, 3)
    apex = np.asarray(apex, dtype=np.float64).reshape(-1, 3)
    if onset.shape != apex.shape:
        raise ValueError(f"onset {onset.shape} and apex {apex.shape} differ in shape")
    delta = apex - onset
    return delta, np.asarray(np.isfinite(delta).all(axis=1))


def face_filter(points: np.ndarray, k: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Drop background: ``(M, 3) m -> ((M,) bool keep, (3,) float64 centre c)``.

    c is the mean of the points; keep ‖P − c‖ ≤ k · mean ‖P − c‖.
    """
    return _face_mask(_components(points, "face"), k)


def _face_mask(xyz: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`face_filter` of ``(3, M)`` coordinates."""
    centre = xyz.mean(axis=1)
    distance = _length(*(xyz - centre[:, None]))
    return distance <= k * distance.mean(), centre


def kabsch(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares rigid transform: ``(K, 3), (K, 3) -> ((3, 3) R, (3,) t)`` with target ≈ R·source + t.

    Kabsch/SVD with the reflection correction, so R is a proper rotation.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    covariance = (source - source_mean).T @ (target - target_mean)
    u, _, vt = np.linalg.svd(covariance)
    reflect = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    rotation = vt.T @ np.diag([1.0, 1.0, reflect]) @ u.T
    return rotation, target_mean - rotation @ source_mean


def rigid_offset(
    onset: np.ndarray,
    delta: np.ndarray,
    max_iterations: int = 30,
    tolerance_m: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray]:
    """Rigid head motion fitted on low-motion points: ``(M, 3), (M, 3) m -> ((3, 3) R, (3,) t)``.

    The first fit uses the points whose ‖ΔP‖ is at most its median; each
    further fit uses the points whose residual after the previous fit is at
    most its median, until the fitted displacement of every point changes by
    less than ``tolerance_m``. A local deformation (the expression) biases the
    first fit; refitting moves it out of the set.
    """
    onset = np.asarray(onset, dtype=np.float64)
    apex = onset + delta
    radius = float(np.linalg.norm(onset, axis=1).max())
    residual = np.linalg.norm(delta, axis=1)
    rotation, translation = np.eye(3), np.zeros(3)
    for _ in range(max_iterations):
        still = residual <= np.median(residual)
        if np.count_nonzero(still) < 3:
            break
        previous_rotation, previous_translation = rotation, translation
        rotation, translation = kabsch(onset[still], apex[still])
        residual = np.linalg.norm(apex - (onset @ rotation.T + translation), axis=1)
        # Bound on how far any point's fitted displacement moved in this step.
        change = np.linalg.norm(rotation - previous_rotation, 2) * radius + np.linalg.norm(
            translation - previous_translation
        )
        if change < tolerance_m:
            break
    return rotation, translation


def remove_offset(
    onset: np.ndarray, delta: np.ndarray, method: OffsetMethod = "median"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remove global motion: ``(M, 3) m, (M, 3) m -> ((M, 3) ΔP', (3, 3) R, (3,) t)``.

    The removed displacement of point P is R·P + t − P: ``median`` gives
    R = I, t = median ΔP; ``kabsch`` the rigid fit of :func:`rigid_offset`;
    ``none`` R = I, t = 0.
    """
    if method not in OFFSET_METHODS:
        raise ValueError(f"offset must be one of {OFFSET_METHODS}, got {method!r}")
    corrected, rotation, translation = _remove_offset(
        _components(onset, "onset"), _components(delta, "delta"), method)
    return _rows(corrected), rotation, translation


def _remove_offset(points: np.ndarray, delta: np.ndarray,
                   method: OffsetMethod) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`remove_offset` of ``(3, M)`` coordinates: ``((3, M) ΔP', R, t)``."""
    rotation, translation = np.eye(3), np.zeros(3)
    if method == "median" and delta.shape[1]:
        translation = np.median(delta, axis=1)
        return delta - translation[:, None], rotation, translation
    if method == "kabsch" and delta.shape[1]:
        rotation, translation = rigid_offset(_rows(points), _rows(delta))
        rigid = (rotation - np.eye(3)) @ points + translation[:, None]
        return delta - rigid, rotation, translation
    return delta, rotation, translation


def spike_filter(delta: np.ndarray, spike_mm: float = 8.0) -> np.ndarray:
    """Keep points whose depth change is plausible: ``(M, 3) m -> (M,) bool`` (|ΔZ| ≤ spike_mm)."""
    return _plausible_depth_change(np.asarray(delta).reshape(-1, 3)[:, 2], spike_mm)


def _plausible_depth_change(dz: np.ndarray, spike_mm: float) -> np.ndarray:
    return np.abs(dz) <= spike_mm * _M_PER_MM


def spherical(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spherical motion features: ``(M, 3) m -> r (M,) m, θ (M,) rad, φ (M,) rad`` (float64).

    r = ‖ΔP‖, θ = atan2(Δy, Δx) ∈ [−π, π], φ = atan2(Δz, √(Δx² + Δy²)) ∈ [−π/2, π/2].
    """
    return _spherical(*_components(delta, "delta"))


def _spherical(dx: np.ndarray, dy: np.ndarray,
               dz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`spherical` of the three coordinates of ΔP."""
    return _length(dx, dy, dz), np.arctan2(dy, dx), np.arctan2(dz, np.hypot(dx, dy))


def reference_amplitude(r: np.ndarray, percentile: float = 99.0, noise_floor_mm: float = 0.3) -> float:
    """The r that maps to r̂ = 1: ``max(P_percentile(r), noise floor)`` in metres.

    The floor keeps a still face dark: without it, residual numerical noise of
    a motionless face would be stretched to full brightness.
    """
    r = np.asarray(r, dtype=np.float64)
    reference = float(np.percentile(r, percentile)) if r.size else 0.0
    return max(reference, noise_floor_mm * _M_PER_MM, np.finfo(np.float64).tiny)


def normalise(
    r: np.ndarray,
    theta: np.ndarray,
    phi: np.ndarray,
    r_reference: float,
    noise_floor_mm: float = 0.3,
) -> np.ndarray:
    """Colours (r̂, θ̂, φ̂): ``(M,) m, (M,) rad, (M,) rad -> (M, 3) float64`` in [0, 1].

    r̂ = clip(r / r_reference, 0, 1), θ̂ = (θ + π) / 2π, φ̂ = (φ + π/2) / π;
    points with r below the noise floor get θ̂ = φ̂ = 0 (black, their r̂ is small).
    """
    r = np.asarray(r, dtype=np.float64)
    colors = np.empty((r.size, 3), dtype=np.float64)
    colors[:, 0] = np.clip(r / r_reference, 0.0, 1.0)
    colors[:, 1] = np.clip((np.asarray(theta) + np.pi) / (2 * np.pi), 0.0, 1.0)
    colors[:, 2] = np.clip((np.asarray(phi) + np.pi / 2) / np.pi, 0.0, 1.0)
    colors[r < noise_floor_mm * _M_PER_MM, 1:] = 0.0
    return colors


def network_input(
    points: np.ndarray, colors: np.ndarray, centre: np.ndarray, scale: float
) -> np.ndarray:
    """Network input: ``(N, 3) m, (N, 3) [0, 1] -> (N, 6) float32`` = ((P − c) / scale) ⊕ colour."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    features = np.empty((len(points), 6), dtype=np.float32)
    features[:, :3] = (points - centre) / scale
    features[:, 3:] = colors
    return features


@dataclass(frozen=True, eq=False)
class MotionResult:
    """Motion features of the kept face points (K of the M input pixels), steps 3–7.

    Arrays are float64 unless noted; lengths in metres, angles in radians.
    ``indices`` (K,) int64 and ``kept`` (M,) bool locate kept points in the
    input; ``points`` (K, 3) onset points; ``delta`` (K, 3) ΔP after offset
    removal; ``r, theta, phi`` (K,); ``colors`` (K, 3) float32 (r̂, θ̂, φ̂);
    ``centre`` (3,) c; ``scale`` largest ‖P − c‖ of kept points;
    ``r_reference`` the r with r̂ = 1; ``offset_rotation`` (3, 3),
    ``offset_translation`` (3,) the removed global motion (R·P + t − P);
    ``dropped_invalid``, ``dropped_background``, ``dropped_spike`` how many input
    points each step removed. The network input and the sort keys are the
    clip's :class:`~mer_viewer.core.pipeline.MotionCloud`'s.
    """

    indices: np.ndarray
    kept: np.ndarray
    points: np.ndarray
    delta: np.ndarray
    r: np.ndarray
    theta: np.ndarray
    phi: np.ndarray
    colors: np.ndarray
    centre: np.ndarray
    scale: float
    r_reference: float
    offset_rotation: np.ndarray
    offset_translation: np.ndarray
    dropped_invalid: int
    dropped_background: int
    dropped_spike: int

    def __post_init__(self) -> None:
        # Results are cached and shared between views: make accidental edits fail loudly.
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def __len__(self) -> int:
        return int(self.indices.size)


def _components(points: np.ndarray, name: str) -> np.ndarray:
    """``(M, 3)`` or ``(h, w, 3)`` -> ``(3, M)`` float64, each coordinate contiguous."""
    points = np.asarray(points)
    if points.shape[-1:] != (3,):
        raise ValueError(f"{name} points must have 3 coordinates, got shape {points.shape}")
    return np.array(points.reshape(-1, 3).T, dtype=np.float64, order="C")


def _length(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """‖(x, y, z)‖ per point, summed in ``np.linalg.norm``'s order."""
    return np.sqrt(x * x + y * y + z * z)


def _rows(components: np.ndarray) -> np.ndarray:
    """``(3, K)`` -> ``(K, 3)`` C-contiguous."""
    return np.ascontiguousarray(components.T)


def compute_motion(
    onset: np.ndarray, apex: np.ndarray, params: MotionParams = MotionParams()
) -> MotionResult:
    """Steps 3–7 on two clouds in the same pixel order: ``(M, 3), (M, 3) m -> MotionResult``.

    ``(h, w, 3)`` grids from :func:`~mer_viewer.core.geometry.backproject` are
    accepted and flattened row-major, so ``indices`` are flat crop indices.

    NaN rows (invalid depth) in either cloud are dropped, then background
    (face filter on onset points), global offset removed, depth spikes
    dropped (judged after offset removal), features and colours computed.
    Raises ValueError when no point survives.

    The steps of :func:`motion_vectors`, :func:`face_filter`, :func:`remove_offset`,
    :func:`spike_filter` and :func:`spherical`, by their ``(3, M)`` forms: one contiguous
    array per coordinate (``(M, 3)`` rows make every per-point reduction a slow strided one).
    """
    onset_xyz, apex_xyz = _components(onset, "onset"), _components(apex, "apex")
    if onset_xyz.shape != apex_xyz.shape:
        raise ValueError(f"onset {np.shape(onset)} and apex {np.shape(apex)} differ in shape")
    size = onset_xyz.shape[1]
    delta_xyz = apex_xyz - onset_xyz
    valid = np.isfinite(delta_xyz).all(axis=0)
    indices = np.flatnonzero(valid)
    if indices.size == 0:
        raise ValueError("no pixel has valid depth in both onset and apex")

    points = onset_xyz[:, indices]
    face, centre = _face_mask(points, params.face_filter_k)
    dropped_background = int(indices.size - np.count_nonzero(face))
    indices, points = indices[face], points[:, face]

    corrected, rotation, translation = _remove_offset(points, delta_xyz[:, indices], params.offset)
    not_spike = _plausible_depth_change(corrected[2], params.spike_mm)
    dropped_spike = int(indices.size - np.count_nonzero(not_spike))
    indices, points, corrected = indices[not_spike], points[:, not_spike], corrected[:, not_spike]
    if indices.size == 0:
        raise ValueError("every valid point was dropped as background or depth spike")

    r, theta, phi = _spherical(*corrected)
    r_reference = reference_amplitude(r, params.r_percentile, params.noise_floor_mm)
    colors = normalise(r, theta, phi, r_reference, params.noise_floor_mm).astype(np.float32)
    scale = float(_length(*(points - centre[:, None])).max()) or 1.0
    kept = np.zeros(size, dtype=bool)
    kept[indices] = True
    return MotionResult(
        indices=indices,
        kept=kept,
        points=_rows(points),
        delta=_rows(corrected),
        r=r,
        theta=theta,
        phi=phi,
        colors=colors,
        centre=centre,
        scale=scale,
        r_reference=r_reference,
        offset_rotation=rotation,
        offset_translation=translation,
        dropped_invalid=int(size - np.count_nonzero(valid)),
        dropped_background=dropped_background,
        dropped_spike=dropped_spike,
    )

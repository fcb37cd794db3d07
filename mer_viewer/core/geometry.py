"""Pinhole camera intrinsics, back-projection of depth maps to metric points, display coordinates."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Focal length of the CAS(ME)³ depth/colour camera in pixels (fx = fy).
CASME3_FOCAL_PX = 1324.65
#: CAS(ME)³ depth PNGs store millimetres: PNG units per metre.
MM_PER_M = 1000.0


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the full frame (OpenCV camera frame: x right, y down, z forward).

    ``fx, fy`` focal lengths and ``cx, cy`` principal point in full-frame pixels;
    ``width, height`` the full frame in pixels; ``depth_scale`` depth-map units
    per metre (1000 for millimetre PNGs).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    depth_scale: float = MM_PER_M

    def __post_init__(self) -> None:
        if not (self.fx > 0 and self.fy > 0 and self.depth_scale > 0):
            raise ValueError(f"focal lengths and depth_scale must be positive: {self}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"frame size must be positive: {self}")

    @classmethod
    def casme3(cls, width: int = 1280, height: int = 720) -> Intrinsics:
        """CAS(ME)³ intrinsics: fx = fy = 1324.65 px, principal point at the frame centre."""
        return cls(
            fx=CASME3_FOCAL_PX,
            fy=CASME3_FOCAL_PX,
            cx=width / 2.0,
            cy=height / 2.0,
            width=int(width),
            height=int(height),
        )

    def to_open3d(self):
        """The same intrinsics as ``open3d.camera.PinholeCameraIntrinsic`` (imports Open3D)."""
        import open3d as o3d

        return o3d.camera.PinholeCameraIntrinsic(
            self.width, self.height, self.fx, self.fy, self.cx, self.cy
        )


@dataclass(frozen=True)
class _Rays:
    """Per-pixel ray slopes X/Z and Y/Z of a crop, as separable vectors and as flat grids."""

    x_of_col: np.ndarray  # (w,) float32: (u - cx) / fx
    y_of_row: np.ndarray  # (h,) float32: (v - cy) / fy
    x_flat: np.ndarray  # (h*w,) float32, row-major
    y_flat: np.ndarray  # (h*w,) float32, row-major


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@lru_cache(maxsize=16)
def _rays(intrinsics: Intrinsics, shape: tuple[int, int], origin_uv: tuple[int, int]) -> _Rays:
    # Cached because a clip back-projects many frames with the same crop.
    h, w = shape
    x0, y0 = origin_uv
    x_of_col = ((np.arange(w, dtype=np.float64) + x0 - intrinsics.cx) / intrinsics.fx).astype(
        np.float32
    )
    y_of_row = ((np.arange(h, dtype=np.float64) + y0 - intrinsics.cy) / intrinsics.fy).astype(
        np.float32
    )
    x_flat = np.tile(x_of_col, h)
    y_flat = np.repeat(y_of_row, w)
    return _Rays(*(_readonly(a) for a in (x_of_col, y_of_row, x_flat, y_flat)))


@lru_cache(maxsize=4)
def _uint16_depth_table(depth_scale: float) -> np.ndarray:
    """(65536,) float32 metres per uint16 depth value, NaN for 0 (a table look-up beats dividing)."""
    table = np.arange(65536, dtype=np.float32) / np.float32(depth_scale)
    table[0] = np.nan
    return _readonly(table)


def _check_crop(shape: tuple[int, ...], intrinsics: Intrinsics, origin_uv: tuple[int, int]) -> None:
    if len(shape) != 2:
        raise ValueError(f"depth must be a 2-D (H, W) array, got shape {shape}")
    h, w = shape
    x0, y0 = origin_uv
    if x0 < 0 or y0 < 0 or x0 + w > intrinsics.width or y0 + h > intrinsics.height:
        raise ValueError(
            f"a {w}x{h} crop at (u, v) = ({x0}, {y0}) leaves the "
            f"{intrinsics.width}x{intrinsics.height} frame"
        )


def depth_to_metres(depth: np.ndarray, depth_scale: float = MM_PER_M) -> np.ndarray:
    """Depth map in PNG units to metres: ``(H, W) uint16|float -> (H, W) float32``, NaN where invalid.

    Invalid means 0 for integer maps, and 0, negative or NaN for float maps
    (denoised or warped depth).
    """
    depth = np.asarray(depth)
    if depth.dtype == np.uint16:
        return np.take(_uint16_depth_table(float(depth_scale)), depth)
    z = depth.astype(np.float32) / np.float32(depth_scale)
    z[~(depth > 0)] = np.nan
    return z


def valid_mask(depth: np.ndarray) -> np.ndarray:
    """Pixels with a depth measurement: ``(H, W) -> (H, W) bool`` (d > 0 and not NaN)."""
    return np.asarray(depth) > 0


def backproject(
    depth: np.ndarray, intrinsics: Intrinsics, origin_uv: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Back-project a depth crop: ``(h, w) uint16|float -> (h, w, 3) float32`` metres.

    ``depth`` is a crop of the full frame in PNG units (mm for CAS(ME)³) whose
    top-left pixel is full-frame pixel ``origin_uv = (x0, y0)``. Pixel (i, j)
    has full-frame coordinates u = x0 + j, v = y0 + i and becomes
    ``Z = d / depth_scale, X = (u - cx) Z / fx, Y = (v - cy) Z / fy``.
    Invalid pixels (see :func:`valid_mask`) are NaN in all three coordinates.
    """
    depth = np.asarray(depth)
    origin_uv = (int(origin_uv[0]), int(origin_uv[1]))
    _check_crop(depth.shape, intrinsics, origin_uv)
    rays = _rays(intrinsics, depth.shape, origin_uv)
    z = depth_to_metres(depth, intrinsics.depth_scale)
    points = np.empty(depth.shape + (3,), dtype=np.float32)
    np.multiply(z, rays.x_of_col[None, :], out=points[..., 0])
    np.multiply(z, rays.y_of_row[:, None], out=points[..., 1])
    points[..., 2] = z
    return points


def backproject_valid(
    depth: np.ndarray, intrinsics: Intrinsics, origin_uv: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Back-project only valid pixels: ``(h, w) uint16|float -> (N, 3) float32`` metres.

    Points are in row-major pixel order, the order of Open3D's
    ``PointCloud.create_from_depth_image(..., project_valid_depth_only=True)``;
    ``pixels_of(valid_mask(depth), origin_uv)`` gives their full-frame pixels.
    """
    depth = np.asarray(depth)
    origin_uv = (int(origin_uv[0]), int(origin_uv[1]))
    _check_crop(depth.shape, intrinsics, origin_uv)
    rays = _rays(intrinsics, depth.shape, origin_uv)
    flat_depth = depth.reshape(-1)
    flat_index = np.flatnonzero(valid_mask(flat_depth))
    z = depth_to_metres(np.take(flat_depth, flat_index), intrinsics.depth_scale)
    points = np.empty((flat_index.size, 3), dtype=np.float32)
    np.multiply(z, np.take(rays.x_flat, flat_index), out=points[:, 0])
    np.multiply(z, np.take(rays.y_flat, flat_index), out=points[:, 1])
    points[:, 2] = z
    return points


def pixels_of_indices(
    flat_index: np.ndarray, crop_shape: tuple[int, int], origin_uv: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Full-frame pixels of row-major crop indices: ``(N,) int -> (N, 2) int32 (u, v)``.

    For clouds made by ``backproject(...).reshape(-1, 3)``, e.g. the kept
    indices of a motion result.
    """
    flat_index = np.asarray(flat_index, dtype=np.int64).reshape(-1)
    rows, cols = np.divmod(flat_index, int(crop_shape[1]))
    pixels = np.empty((flat_index.size, 2), dtype=np.int32)
    pixels[:, 0] = cols + int(origin_uv[0])
    pixels[:, 1] = rows + int(origin_uv[1])
    return pixels


def pixels_of(mask: np.ndarray, origin_uv: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Full-frame pixels of a crop's true entries: ``(h, w) bool -> (N, 2) int32 (u, v)``, row-major."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    return pixels_of_indices(np.flatnonzero(mask), mask.shape, origin_uv)


def project(points: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Project camera-frame points to full-frame pixels: ``(N, 3) m -> (N, 2) float64 (u, v)``.

    The inverse of back-projection (u = fx X / Z + cx); NaN where Z <= 0.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(points[:, 2] > 0, points[:, 2], np.nan)
        u = intrinsics.fx * points[:, 0] / z + intrinsics.cx
        v = intrinsics.fy * points[:, 1] / z + intrinsics.cy
    return np.stack([u, v], axis=1)


def display_points(points_m: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(K, 3) camera-frame metres -> (K, 3) mm around ``centre`` with z up and the face
    toward −y: display (x, y, z) = (X, Z, −Y), a rotation (no mirror), so a camera
    at azimuth −90° sees the face as the sensor did, u to the right."""
    p = (np.asarray(points_m, dtype=np.float64) - np.asarray(centre, dtype=np.float64)) * 1e3
    return np.stack([p[:, 0], p[:, 2], -p[:, 1]], axis=1).astype(np.float32)

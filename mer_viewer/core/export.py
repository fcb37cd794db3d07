"""Write clouds and flow to files: PLY with colours (Open3D), the npz of SPEC §6, flow PNG/npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import MerError
from .pipeline import MotionCloud


def write_ply(path: Path, points: np.ndarray, colors: np.ndarray) -> None:
    """(N, 3) metres and (N, 3) colours in [0, 1] -> binary PLY via Open3D, atomically."""
    import open3d as o3d

    cloud = o3d.geometry.PointCloud()
    cloud.points = o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64))
    cloud.colors = o3d.utility.Vector3dVector(np.clip(np.asarray(colors, np.float64), 0, 1))
    with atomic_path(path) as tmp:
        if not o3d.io.write_point_cloud(tmp, cloud, write_ascii=False):
            raise MerError(f"{path}: Open3D could not write the PLY file")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays -> uncompressed npz, written atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        # numpy's stub reads **arrays as possibly holding its bool `allow_pickle` keyword
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def export_cloud(cloud: MotionCloud, path: Path) -> None:
    """The sampled points of ``cloud`` to ``.npz`` (SPEC §6 keys) or ``.ply`` (r̂θ̂φ̂ colours)."""
    path = Path(path)
    arrays = cloud.sampled_arrays()
    suffix = path.suffix.lower()
    if suffix == ".npz":
        write_npz(path, arrays)
    elif suffix == ".ply":
        write_ply(path, arrays["points"], arrays["colors"])
    else:
        raise MerError(f"{path}: unknown cloud format {suffix!r}; use .npz or .ply")


def write_png(path: Path, rgb: np.ndarray) -> None:
    """(h, w, 3) uint8 RGB -> PNG, written atomically."""
    import cv2

    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise MerError(f"{path}: could not write the image")

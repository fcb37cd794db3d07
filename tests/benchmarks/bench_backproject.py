"""Benchmark: depth → point cloud, ours against Open3D measured in the same run.

Run ``python -m tests.benchmarks.bench_backproject [--repeats N]``. Prints the
median wall time of each method (median over 3 interleaved rounds of N repeats) and the ratio Open3D / ours
(above 1 means ours is faster). Ray grids are cached per crop, so "ours"
is the steady state of a clip; the one-off grid build is listed separately.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mer_viewer.core.geometry import Intrinsics, _rays, backproject, backproject_valid


def median_ms(function, repeats: int) -> float:
    function()  # warm-up: caches, page faults, lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def synthetic_depth(shape, seed=0) -> np.ndarray:
    """uint16 mm depth at 0.5–0.9 m with 20 % holes, like a face frame with background."""
    rng = np.random.default_rng(seed)
    depth = rng.integers(500, 900, size=shape).astype(np.uint16)
    depth[rng.random(shape) < 0.2] = 0
    return depth


def open3d_cloud(depth: np.ndarray, intrinsics: Intrinsics, origin_uv=(0, 0)):
    import open3d as o3d

    h, w = depth.shape
    camera = o3d.camera.PinholeCameraIntrinsic(
        w, h, intrinsics.fx, intrinsics.fy,
        intrinsics.cx - origin_uv[0], intrinsics.cy - origin_uv[1],
    )

    def run():
        cloud = o3d.geometry.PointCloud.create_from_depth_image(
            o3d.geometry.Image(depth), camera,
            depth_scale=intrinsics.depth_scale, depth_trunc=1e9,
            project_valid_depth_only=True,
        )
        return np.asarray(cloud.points)

    return run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args(argv)

    intrinsics = Intrinsics.casme3()
    full = synthetic_depth((720, 1280))
    origin = (490, 160)
    crop = np.ascontiguousarray(synthetic_depth((400, 300), seed=1))
    cases = [
        ("1280x720 grid (H,W,3)", full, (0, 0), backproject),
        ("1280x720 valid (N,3)", full, (0, 0), backproject_valid),
        ("300x400 crop grid", crop, origin, backproject),
        ("300x400 crop valid", crop, origin, backproject_valid),
    ]
    print(f"median of {args.repeats} repeats, milliseconds; ratio = Open3D / ours")
    print(f"{'case':<24} {'ours':>8} {'open3d':>8} {'ratio':>7}")
    for name, depth, origin_uv, ours in cases:
        # Interleaved rounds, so a burst of load on a shared machine hits both sides.
        ours_ms, open3d_ms = [], []
        for _ in range(3):
            ours_ms.append(median_ms(lambda: ours(depth, intrinsics, origin_uv), args.repeats))
            open3d_ms.append(median_ms(open3d_cloud(depth, intrinsics, origin_uv), args.repeats))
        ours_ms, open3d_ms = float(np.median(ours_ms)), float(np.median(open3d_ms))
        print(f"{name:<24} {ours_ms:8.2f} {open3d_ms:8.2f} {open3d_ms / ours_ms:6.1f}x")

    def cold_grid():
        _rays.cache_clear()
        _rays(intrinsics, full.shape, (0, 0))

    print(f"{'ray grid build (once)':<24} {median_ms(cold_grid, args.repeats):8.2f}")


if __name__ == "__main__":
    main()

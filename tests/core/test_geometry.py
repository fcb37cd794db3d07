"""Back-projection against Open3D and against the pinhole formula written out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mer_viewer.core.geometry import (
    Intrinsics,
    _rays,
    backproject,
    backproject_valid,
    depth_to_metres,
    pixels_of,
    pixels_of_indices,
    project,
    valid_mask,
)

# Deliberately unequal focal lengths and an off-centre principal point, so a
# swapped axis or a forgotten crop origin cannot cancel out.
SKEWED = Intrinsics(fx=1300.0, fy=1350.0, cx=611.5, cy=377.25, width=1280, height=720)


def random_depth(shape, seed=0, invalid_share=0.3):
    rng = np.random.default_rng(seed)
    depth = rng.integers(300, 2500, size=shape).astype(np.uint16)
    depth[rng.random(shape) < invalid_share] = 0
    return depth


def open3d_points(depth_full: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    o3d = pytest.importorskip("open3d")
    cloud = o3d.geometry.PointCloud.create_from_depth_image(
        o3d.geometry.Image(np.ascontiguousarray(depth_full)),
        o3d.camera.PinholeCameraIntrinsic(
            intrinsics.width, intrinsics.height,
            intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy,
        ),
        depth_scale=intrinsics.depth_scale,
        depth_trunc=1e9,
        project_valid_depth_only=True,
    )
    return np.asarray(cloud.points)


def test_casme3_intrinsics():
    intrinsics = Intrinsics.casme3()
    assert (intrinsics.fx, intrinsics.fy) == (1324.65, 1324.65)
    assert (intrinsics.cx, intrinsics.cy) == (640.0, 360.0)
    assert (intrinsics.width, intrinsics.height, intrinsics.depth_scale) == (1280, 720, 1000.0)
    assert Intrinsics.casme3(640, 480).cx == 320.0


@pytest.mark.parametrize("intrinsics", [Intrinsics.casme3(), SKEWED], ids=["casme3", "skewed"])
def test_full_frame_matches_open3d_in_order(intrinsics):
    depth = random_depth((720, 1280), seed=1)
    expected = open3d_points(depth, intrinsics)

    points = backproject_valid(depth, intrinsics)
    pixels = pixels_of(valid_mask(depth))
    assert points.dtype == np.float32 and points.shape == expected.shape
    np.testing.assert_allclose(points, expected, rtol=0, atol=1e-6)

    grid = backproject(depth, intrinsics)
    np.testing.assert_allclose(grid[depth > 0], expected, rtol=0, atol=1e-6)
    assert np.isnan(grid[depth == 0]).all()
    np.testing.assert_array_equal(pixels, np.argwhere(depth > 0)[:, ::-1])


@pytest.mark.parametrize("intrinsics", [Intrinsics.casme3(), SKEWED], ids=["casme3", "skewed"])
def test_crop_with_origin_matches_open3d_on_full_frame(intrinsics):
    x0, y0, w, h = 417, 133, 300, 400
    crop = random_depth((h, w), seed=2)
    full = np.zeros((720, 1280), dtype=np.uint16)
    full[y0:y0 + h, x0:x0 + w] = crop
    expected = open3d_points(full, intrinsics)

    points = backproject_valid(crop, intrinsics, origin_uv=(x0, y0))
    np.testing.assert_allclose(points, expected, rtol=0, atol=1e-6)
    grid = backproject(crop, intrinsics, origin_uv=(x0, y0))
    np.testing.assert_allclose(grid[valid_mask(crop)], expected, rtol=0, atol=1e-6)

    pixels = pixels_of(valid_mask(crop), (x0, y0))
    np.testing.assert_array_equal(pixels, np.argwhere(full > 0)[:, ::-1])
    flat_index = np.flatnonzero(np.isfinite(grid.reshape(-1, 3)[:, 2]))
    np.testing.assert_array_equal(pixels_of_indices(flat_index, crop.shape, (x0, y0)), pixels)
    np.testing.assert_allclose(project(points, intrinsics), pixels, atol=1e-3)


def test_single_pixel_by_hand():
    intrinsics = Intrinsics.casme3()
    depth = np.zeros((5, 7), dtype=np.uint16)
    depth[3, 2] = 650
    grid = backproject(depth, intrinsics, origin_uv=(100, 50))
    u, v, z = 102, 53, 0.65
    np.testing.assert_allclose(
        grid[3, 2], [(u - 640) * z / 1324.65, (v - 360) * z / 1324.65, z], rtol=1e-6
    )
    assert np.isnan(grid[0, 0]).all() and np.isnan(grid[4, 6]).all()


def test_float_depth_matches_uint16_and_treats_nan_as_invalid():
    depth = random_depth((40, 60), seed=3)
    as_float = depth.astype(np.float32)
    as_float[as_float == 0] = np.nan
    as_float[0, 0] = -5.0  # negative depth is invalid too
    expected = backproject(depth, SKEWED, (10, 20))
    expected[0, 0] = np.nan
    np.testing.assert_allclose(backproject(as_float, SKEWED, (10, 20)), expected, rtol=1e-7)
    np.testing.assert_array_equal(valid_mask(as_float), np.isfinite(expected[..., 2]))
    assert np.isnan(depth_to_metres(np.array([0.0, np.nan]))).all()


def test_ray_grids_are_cached_and_read_only():
    intrinsics = Intrinsics.casme3()
    depth = random_depth((30, 20), seed=4)
    backproject(depth, intrinsics, (5, 6))
    hits = _rays.cache_info().hits
    backproject(depth + 1, intrinsics, (5, 6))
    assert _rays.cache_info().hits == hits + 1
    rays = _rays(intrinsics, (30, 20), (5, 6))
    with pytest.raises(ValueError):
        rays.x_of_col[0] = 1.0


def test_crop_outside_frame_is_rejected():
    with pytest.raises(ValueError, match="leaves"):
        backproject(np.ones((10, 10), np.uint16), Intrinsics.casme3(), origin_uv=(1275, 0))
    with pytest.raises(ValueError, match="2-D"):
        backproject(np.ones((4, 4, 1), np.uint16), Intrinsics.casme3())


@settings(max_examples=50, deadline=None)
@given(
    u=st.integers(0, 1279),
    v=st.integers(0, 719),
    d=st.integers(1, 65535),
)
def test_projection_inverts_backprojection(u, v, d):
    depth = np.array([[d]], dtype=np.uint16)
    point = backproject(depth, SKEWED, origin_uv=(u, v)).reshape(1, 3)
    np.testing.assert_allclose(project(point, SKEWED), [[u, v]], atol=1e-3)

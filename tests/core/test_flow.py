"""Optical flow accuracy on known motion, colour coding and optical strain."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mer_viewer.core import flow


@pytest.fixture(scope="module")
def textured() -> np.ndarray:
    """(160, 160, 3) uint8 RGB: the astronaut's face, a natural texture."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[60:220, 150:310])


def _translated(image: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """The image moved by ``shift`` px: a point at p appears at p + shift."""
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("method", flow.FLOW_METHODS)
@pytest.mark.parametrize("shift", [(0.6, -0.4), (-2.3, 1.2)])
def test_median_flow_equals_a_known_translation(textured, method, shift):
    result = flow.optical_flow(textured, _translated(textured, shift), method)
    assert result.shape == textured.shape[:2] + (2,) and result.dtype == np.float32
    median = np.median(result[20:-20, 20:-20].reshape(-1, 2), axis=0)
    print(f"\n{method} shift {shift}: median flow {median.round(3)}")
    np.testing.assert_allclose(median, shift, atol=0.1)


@pytest.mark.parametrize("method", flow.FLOW_METHODS)
def test_global_lighting_change_is_matched_away(textured, method):
    shift = (0.6, -0.4)
    apex = np.clip(_translated(textured, shift) * 1.15 + 8, 0, 255).astype(np.uint8)
    median = np.median(flow.optical_flow(textured, apex, method)[20:-20, 20:-20].reshape(-1, 2),
                       axis=0)
    np.testing.assert_allclose(median, shift, atol=0.1)


def test_match_brightness_removes_gain_and_offset(textured):
    grey = cv2.cvtColor(textured, cv2.COLOR_RGB2GRAY)
    brighter = np.clip(grey * 1.15 + 8, 0, 255).astype(np.uint8)
    assert np.abs(flow.match_brightness(grey, brighter).astype(int) - grey).mean() < 1.0


def test_flow_rejects_mismatched_crops_and_unknown_methods(textured):
    with pytest.raises(ValueError, match="differ"):
        flow.optical_flow(textured, textured[:-1])
    with pytest.raises(ValueError, match="unknown"):
        flow.optical_flow(textured, textured, "lucas")


@pytest.mark.parametrize("direction, rgb", [((1, 0), (255, 0, 0)),       # right: red
                                            ((-1, 0), (0, 255, 255)),    # left: cyan
                                            ((0, 1), (128, 255, 0)),     # down (y down): 90°
                                            ((0, -1), (128, 0, 255))])   # up: 270°, violet
def test_flow_colors_follow_the_hsv_convention(direction, rgb):
    field = np.broadcast_to(np.float32(direction) * 2.0, (4, 4, 2))
    color = flow.flow_to_rgb(field, max_magnitude=2.0)[0, 0]
    np.testing.assert_allclose(color, rgb, atol=2)
    assert flow.flow_to_rgb(np.zeros((3, 3, 2), np.float32)).max() == 0  # no motion is black
    half = flow.flow_to_rgb(field, max_magnitude=4.0)[0, 0]
    assert abs(int(half.max()) - 128) <= 1  # value scales with magnitude


def _hue(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.reshape(1, -1, 3), cv2.COLOR_RGB2HSV)[0, :, 0].astype(int)


def test_flow_hue_matches_the_color_wheel():
    size = 101
    wheel = flow.color_wheel(size)
    assert wheel.shape == (size, size, 3) and wheel.dtype == np.uint8
    assert wheel[0, 0].max() == 0  # outside the disc
    angles = np.radians(np.arange(0, 360, 15))
    radius = 40
    cols = np.rint(50 + radius * np.cos(angles)).astype(int)
    rows = np.rint(50 + radius * np.sin(angles)).astype(int)
    wheel_hue = _hue(wheel[rows, cols])
    field = np.stack([np.cos(angles), np.sin(angles)], axis=-1)[None].astype(np.float32)
    flow_hue = _hue(flow.flow_to_rgb(field * 3.0, max_magnitude=4.0))
    difference = np.abs(wheel_hue - flow_hue)
    assert np.minimum(difference, 180 - difference).max() <= 3  # hue in [0, 180), ≈ 2° per unit


def test_magnitude():
    field = np.zeros((2, 3, 2), np.float32)
    field[..., 0], field[..., 1] = 3, -4
    np.testing.assert_allclose(flow.magnitude(field), 5.0)


def _linear_field(a, b, c, d, shape=(40, 50)) -> np.ndarray:
    """u = a x + b y, v = c x + d y (px), x along columns, y along rows."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    return np.stack([a * xs + b * ys, c * xs + d * ys], axis=-1)


def test_strain_of_rigid_motion_is_zero():
    translation = np.broadcast_to(np.float32([1.7, -0.4]), (30, 30, 2))
    np.testing.assert_allclose(flow.optical_strain(translation), 0.0, atol=1e-6)
    rotation = _linear_field(0, -0.01, 0.01, 0)  # infinitesimal rotation: skew-symmetric
    np.testing.assert_allclose(flow.optical_strain(rotation), 0.0, atol=1e-6)


def test_strain_of_stretch_and_shear_is_analytic():
    stretch = flow.optical_strain(_linear_field(0.03, 0, 0, -0.02))
    np.testing.assert_allclose(stretch, np.hypot(0.03, 0.02), rtol=1e-4)
    shear = flow.optical_strain(_linear_field(0, 0.04, 0, 0))  # u = 0.04 y
    np.testing.assert_allclose(shear, 0.04 / np.sqrt(2), rtol=1e-4)


def test_a_few_long_wrong_vectors_do_not_darken_the_flow_view():
    # uniform 1 px motion to the right, plus 0.5 % wild 20 px vectors (as DIS leaves in
    # textureless skin): the real motion is shown at full brightness, the max still reported
    from mer_viewer.core.flow import FlowField

    flow = np.zeros((100, 100, 2), np.float32)
    flow[..., 0] = 1.0
    flow[::20, ::10] = (0.0, 20.0)  # 50 of 10,000 pixels
    field = FlowField.of(flow, "dis")
    assert field.max_px == pytest.approx(20.0)
    assert field.scale_px == pytest.approx(1.0)
    value = field.rgb.max(axis=2)  # HSV value, full saturation
    assert np.median(value) == 255
    plain = FlowField.of(np.zeros((4, 4, 2), np.float32), "dis")  # no motion: black
    assert plain.rgb.max() == 0 and plain.max_px == 0.0

"""Depth denoising: noise drops, background never bleeds in, holes stay holes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mer_viewer.core.denoise import DenoiseParams, denoise_depth, denoise_face, face_depth_range


def _face_surface(size: int = 200) -> np.ndarray:
    """A smooth face-like dome in mm: 600 at the centre, 40 mm deeper 100 px away."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    r2 = ((xs - size / 2) / 100.0) ** 2 + ((ys - size / 2) / 120.0) ** 2
    return 600.0 + 40.0 * r2 + 3.0 * np.sin(xs / 25.0)


def _sensor(truth: np.ndarray, rng, noise_mm: float = 0.5) -> np.ndarray:
    """Gaussian noise then 1 mm quantisation, as a 16-bit PNG stores it."""
    return np.rint(truth + rng.normal(0, noise_mm, truth.shape)).astype(np.uint16)


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_noise_and_quantisation_drop_by_a_large_factor():
    truth = _face_surface()
    measured = _sensor(truth, np.random.default_rng(0))
    smoothed = denoise_depth(measured, sigma_px=3.0)
    inner = np.s_[10:-10, 10:-10]
    before, after = _rms(measured[inner], truth[inner]), _rms(smoothed[inner], truth[inner])
    print(f"\nRMS error vs truth: raw {before:.3f} mm, denoised {after:.3f} mm "
          f"(×{before / after:.1f} smaller)")
    assert smoothed.dtype == np.float32
    assert after < before / 4


def test_matches_an_independent_normalised_convolution():
    rng = np.random.default_rng(1)
    depth = _sensor(_face_surface(120), rng).astype(np.float64)
    depth[rng.random(depth.shape) < 0.1] = 0
    valid = depth > 0
    numerator = ndimage.gaussian_filter(depth * valid, 3.0, mode="constant", truncate=3.0)
    denominator = ndimage.gaussian_filter(valid.astype(float), 3.0, mode="constant", truncate=3.0)
    expected = np.where(valid, numerator / np.where(valid, denominator, 1), 0)
    np.testing.assert_allclose(denoise_depth(depth, 3.0), expected, atol=2e-3)


def _face_on_background(rng) -> tuple[np.ndarray, np.ndarray]:
    """A flat face disc at 600 mm with holes, a background 300 mm behind it."""
    ys, xs = np.mgrid[0:160, 0:160]
    face = (xs - 80) ** 2 + (ys - 80) ** 2 < 50**2
    depth = np.where(face, 600, 900).astype(np.uint16)
    depth[rng.random(depth.shape) < 0.05] = 0
    return depth, face


def test_background_does_not_bleed_into_face_edges():
    depth, face = _face_on_background(np.random.default_rng(2))
    depth_range = face_depth_range(depth)
    assert depth_range is not None and depth_range[0] < 600 < depth_range[1] < 900
    smoothed = denoise_depth(depth, 3.0, depth_range_mm=depth_range)
    face_pixels = face & (depth > 0)
    edge = face_pixels & ~ndimage.binary_erosion(face, iterations=4)
    assert edge.sum() > 100
    np.testing.assert_allclose(smoothed[face_pixels], 600.0, atol=1e-3)
    # Background pixels are outside the range: left exactly as they were.
    background = ~face & (depth > 0)
    np.testing.assert_array_equal(smoothed[background], depth[background])
    # Without the range the same blur drags the face edge towards the background.
    blind = denoise_depth(depth, 3.0)
    assert np.abs(blind[edge] - 600.0).max() > 30.0


def test_invalid_pixels_stay_zero_and_face_mask_limits_the_smoothing():
    rng = np.random.default_rng(3)
    depth = _sensor(_face_surface(100), rng)
    depth[rng.random(depth.shape) < 0.1] = 0
    mask = np.zeros(depth.shape, bool)
    mask[20:80, 20:80] = True
    smoothed = denoise_depth(depth, 2.0, face_mask=mask)
    np.testing.assert_array_equal(smoothed[depth == 0], 0)
    np.testing.assert_array_equal(smoothed[~mask], depth[~mask])
    assert np.abs(smoothed[mask & (depth > 0)] - depth[mask & (depth > 0)]).max() > 0


def test_sigma_zero_is_the_paper_unchanged():
    depth = _sensor(_face_surface(50), np.random.default_rng(4))
    out = denoise_depth(depth, sigma_px=0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, depth)
    with pytest.raises(ValueError):
        denoise_depth(depth, sigma_px=-1)


def test_denoise_face_finds_the_range_itself():
    depth, face = _face_on_background(np.random.default_rng(5))
    smoothed = denoise_face(depth, DenoiseParams(sigma_px=3.0))
    face_pixels = face & (depth > 0)
    np.testing.assert_allclose(smoothed[face_pixels], 600.0, atol=1e-3)
    np.testing.assert_array_equal(smoothed[~face], depth[~face])
    np.testing.assert_array_equal(denoise_face(depth, DenoiseParams(sigma_px=0)), depth)

"""Depth sensor model of the demo corpus: noise, quantisation to mm and holes.

Noise σ = 0.5 mm per pixel, independent between pixels (the noise model of SPEC §1/§5;
a spatially correlated part can be switched on with DEPTH_NOISE_CORRELATED_MM), added
before rounding to whole millimetres. Holes (0 = invalid) come in small clumps where the surface is seen at
a grazing angle (certain at silhouettes and occluding contours such as the jaw
line), plus a few isolated ones.
"""

from __future__ import annotations

import cv2
import numpy as np

from .demo_scene import FX

DEPTH_NOISE_WHITE_MM = 0.5
# Correlated noise survives the σ 3 px denoising step and then hides sub-mm motion (measured:
# sorted-point precision 0.06 with 0.43 mm correlated over 2 px); off by default.
DEPTH_NOISE_CORRELATED_MM = 0.0
DEPTH_NOISE_CORRELATION_PX = 2.0
HOLE_CORRELATION_PX = 1.2
ISOLATED_HOLE_RATE = 0.001


def _unit_blur_kernel(sigma_px: float) -> np.ndarray:
    kernel = cv2.getGaussianKernel(int(6 * sigma_px) | 1, sigma_px)
    return kernel / np.sqrt(np.sum(kernel**2))  # blurred unit white noise keeps unit variance


_NOISE_KERNEL = _unit_blur_kernel(DEPTH_NOISE_CORRELATION_PX)
_HOLE_KERNEL = _unit_blur_kernel(HOLE_CORRELATION_PX)


def _correlated_normal(rng: np.random.Generator, shape, kernel: np.ndarray) -> np.ndarray:
    """(H, W) float32 standard normal noise, spatially correlated by ``kernel``."""
    white = rng.standard_normal(shape, dtype=np.float32)
    return cv2.sepFilter2D(white, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def sensor_depth(depth_mm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ideal depth (H, W) float mm, 0 = nothing -> (H, W) uint16 mm as a depth sensor gives it.

    Gaussian noise of σ 0.5 mm before rounding to whole mm. Holes (0) come in small clumps,
    with a probability that rises with the surface slope seen from the camera
    (certain at silhouettes), plus a few isolated ones.
    """
    grad_v, grad_u = np.gradient(depth_mm)
    mm_per_px = np.maximum(depth_mm, 1.0) / FX
    view_angle_deg = np.degrees(np.arctan(np.hypot(grad_u, grad_v) / mm_per_px))
    p_hole = np.clip((view_angle_deg - 62.0) / 22.0, 0, 1) ** 2 * 0.9
    # a correlated field mapped to about uniform (logistic ≈ normal CDF): clumped holes
    clumps = 1.0 / (1.0 + np.exp(-1.702 * _correlated_normal(rng, depth_mm.shape, _HOLE_KERNEL)))
    holes = (clumps < p_hole) | (rng.random(depth_mm.shape, dtype=np.float32) < ISOLATED_HOLE_RATE)
    noisy = depth_mm + DEPTH_NOISE_WHITE_MM * rng.standard_normal(depth_mm.shape, dtype=np.float32)
    if DEPTH_NOISE_CORRELATED_MM > 0:
        noisy += DEPTH_NOISE_CORRELATED_MM * _correlated_normal(rng, depth_mm.shape, _NOISE_KERNEL)
    keep = (depth_mm > 0) & ~holes
    return np.where(keep, np.rint(noisy), 0).astype(np.uint16)

"""Depth denoising over face pixels: a Gaussian normalised by the valid-pixel mask."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DenoiseParams:
    """Depth smoothing options; ``sigma_px = 0`` reproduces the paper (no smoothing).

    ``relief_mm`` is the face's depth extent behind its nearest point used by
    ``face_depth_range`` (nose tip to ears ≈ 100–120 mm, plus slack).
    """

    sigma_px: float = 3.0
    relief_mm: float = 150.0


def face_depth_range(depth_mm: np.ndarray, mask: np.ndarray | None = None,
                     relief_mm: float = 150.0, front_slack_mm: float = 20.0,
                     percentile: float = 1.0) -> tuple[float, float] | None:
    """(H, W) depth mm (0 = invalid) -> (near, far) mm of the face, or None without valid depth.

    ``near`` is the ``percentile`` of the valid depth (inside ``mask`` if given,
    e.g. the face box), minus ``front_slack_mm``; ``far`` is that percentile plus
    ``relief_mm``. A low percentile rather than the minimum ignores isolated spikes.
    """
    depth = np.asarray(depth_mm, dtype=np.float32)
    valid = depth > 0
    if mask is not None:
        valid &= mask.astype(bool)
    if not valid.any():
        return None
    nearest = float(np.percentile(depth[valid], percentile))
    return nearest - front_slack_mm, nearest + relief_mm


def smoothing_mask(depth_mm: np.ndarray, face_mask: np.ndarray | None = None,
                   depth_range_mm: tuple[float, float] | None = None) -> np.ndarray:
    """(H, W) bool: pixels that take part in the smoothing (valid, in the mask and the range)."""
    depth = np.asarray(depth_mm)
    used = depth > 0
    if face_mask is not None:
        used &= face_mask.astype(bool)
    if depth_range_mm is not None:
        near, far = depth_range_mm
        used &= (depth >= near) & (depth <= far)
    return used


def _gaussian(image: np.ndarray, sigma_px: float) -> np.ndarray:
    size = 2 * int(np.ceil(3.0 * sigma_px)) + 1
    # Zeros beyond the border: numerator and denominator both lose those taps,
    # so the normalised result uses only pixels inside the frame.
    return cv2.GaussianBlur(image, (size, size), sigma_px, sigmaY=sigma_px,
                            borderType=cv2.BORDER_CONSTANT)


def denoise_depth(depth_mm: np.ndarray, sigma_px: float = 3.0, face_mask: np.ndarray | None = None,
                  depth_range_mm: tuple[float, float] | None = None) -> np.ndarray:
    """(H, W) depth mm (uint16 or float, 0 = invalid) -> (H, W) float32 mm, 0 = invalid.

    Each used pixel (valid, inside ``face_mask`` if given, inside ``depth_range_mm``
    = (near, far) mm if given) becomes blur(d·m) / blur(m), a Gaussian of
    ``sigma_px`` over used pixels only, so neither holes nor a background outside
    the face's depth range bleed in. Pixels not used keep their value (invalid
    stay 0). ``sigma_px = 0`` returns the input unchanged as float32.
    """
    depth = np.asarray(depth_mm, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map, got shape {depth.shape}")
    if sigma_px < 0:
        raise ValueError(f"sigma_px must be ≥ 0, got {sigma_px}")
    if sigma_px == 0:
        return depth.copy()
    used = smoothing_mask(depth, face_mask, depth_range_mm)
    if not used.any():
        return depth.copy()
    weight = used.astype(np.float32)
    # Subtract a reference depth first: float32 sums of ~600 mm values lose
    # about 1e-4 mm, which matters against sub-millimetre motion.
    reference = float(np.median(depth[used]))
    numerator = _gaussian(np.where(used, depth - reference, 0.0).astype(np.float32), sigma_px)
    denominator = _gaussian(weight, sigma_px)
    out = depth.copy()
    out[used] = numerator[used] / denominator[used] + reference
    return out


def denoise_face(depth_mm: np.ndarray, params: DenoiseParams = DenoiseParams(),
                 face_mask: np.ndarray | None = None) -> np.ndarray:
    """``denoise_depth`` over the face's own depth range (``face_depth_range`` within the mask)."""
    if params.sigma_px == 0:
        return np.asarray(depth_mm, dtype=np.float32).copy()
    depth_range = face_depth_range(depth_mm, face_mask, params.relief_mm)
    return denoise_depth(depth_mm, params.sigma_px, face_mask, depth_range)

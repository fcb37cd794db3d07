"""A synthetic MotionCloud with known points and colours, for rendering tests."""

from __future__ import annotations

import numpy as np

from mer_viewer.core.face import Box
from mer_viewer.core.pipeline import MotionCloud


def grid_cloud(n_side: int = 60, seed: int = 0) -> MotionCloud:
    """A flat 12 cm square of points 0.6 m from the camera, facing it.

    The left half moves (r̂ = 1, θ̂ = φ̂ = 0: pure red), the right half barely (black);
    rank keys grow from left to right within each half so sorting picks the left half.
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:n_side, 0:n_side]
    u = (xs + 600).ravel().astype(np.int32)
    v = (ys + 300).ravel().astype(np.int32)
    z = np.full(u.shape, 0.6)
    fx = 1324.65
    points = np.stack([(u - 640) * z / fx * 3, (v - 360) * z / fx * 3, z], axis=1)
    k = len(u)
    left = xs.ravel() < n_side // 2
    colors = np.zeros((k, 3), np.float32)
    colors[left, 0] = 1.0
    colors[~left, 0] = rng.uniform(0.0, 0.05, (~left).sum())
    motion = np.zeros((k, 3), np.float32)
    motion[:, 0] = colors[:, 0] * 2e-3
    box = Box(600, 300, 600 + n_side, 300 + n_side)
    kept = np.ones((n_side, n_side), bool)
    return MotionCloud(
        sample_id="synthetic", box=box, points_m=points.astype(np.float32),
        rgb=np.full((k, 3), 128, np.uint8), delta_m=np.zeros((k, 3), np.float32),
        motion=motion, colors=colors, pixels=np.stack([u, v], axis=1), kept=kept,
        centre=points.mean(axis=0), scale=float(np.linalg.norm(points - points.mean(0),
                                                               axis=1).max()),
        provenance={"r_reference_m": 2e-3})

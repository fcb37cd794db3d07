"""Per-point colours of a motion cloud for each colour mode."""

from __future__ import annotations

import numpy as np

#: mode -> (menu text, colour map of a single channel or None)
COLOR_MODES: dict[str, tuple[str, str | None]] = {
    "motion": ("motion (r̂, θ̂, φ̂) as RGB", None),
    "rgb": ("onset RGB", None),
    "r": ("r̂ amplitude", "inferno"),
    "theta": ("θ̂ direction in the image plane", "CET-C6"),
    "phi": ("φ̂ elevation out of the image plane", "CET-D1"),
    "saliency": ("saliency of the classifier", "inferno"),
}
CHANNEL = {"r": 0, "theta": 1, "phi": 2}


def colormap_colors(values: np.ndarray, cmap_name: str) -> np.ndarray:
    """(K,) values in [0, 1] -> (K, 3) float32 colours of a pyqtgraph colour map."""
    import pyqtgraph as pg

    lut = pg.colormap.get(cmap_name).getLookupTable(0.0, 1.0, 256, alpha=False)
    idx = np.clip(np.rint(np.nan_to_num(values) * 255), 0, 255).astype(np.int64)
    return lut[idx].astype(np.float32) / 255.0


def point_colors(cloud, mode: str, saliency: np.ndarray | None = None) -> np.ndarray:
    """(K, 3) float32 colours in [0, 1] of every kept point of ``cloud`` for ``mode``."""
    if mode == "motion":
        return np.asarray(cloud.colors, dtype=np.float32)
    if mode == "rgb":
        return np.asarray(cloud.rgb, dtype=np.float32) / 255.0
    if mode in CHANNEL:
        colors = colormap_colors(cloud.colors[:, CHANNEL[mode]], COLOR_MODES[mode][1])
        colors[motionless(cloud.colors)] = 0.0  # θ̂ = 0 is θ = −180°, not "no motion"
        return colors
    if mode == "saliency":
        if saliency is None or len(saliency) != len(cloud):
            return np.full((len(cloud), 3), 0.35, dtype=np.float32)
        s = np.asarray(saliency, dtype=np.float64)
        scored = s[s > 0]  # the network's points; the rest of the face has none (0)
        top = np.percentile(scored, 99) if scored.size else 0.0
        return colormap_colors(np.clip(s / top, 0, 1) if top > 0 else s * 0, "inferno")
    raise ValueError(f"unknown colour mode {mode!r}")


def motionless(colors: np.ndarray) -> np.ndarray:
    """(K, 3) (r̂, θ̂, φ̂) -> (K,) bool: points with r below the noise floor, which the
    motion cloud marks with θ̂ = φ̂ = 0 (SPEC §1 step 7; a moving point does not have both:
    φ̂ = 0 means motion straight along z, where θ = atan2(0, 0) = 0, θ̂ = 0.5)."""
    colors = np.asarray(colors)
    return (colors[:, 1] == 0) & (colors[:, 2] == 0)


def dimmed(colors: np.ndarray, amount: float = 0.7) -> np.ndarray:
    """Colours pushed toward dark grey, for the points that were not sampled."""
    grey = np.float32(0.22)
    return colors * (1 - amount) + grey * amount


def rgba(colors: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    out = np.empty((len(colors), 4), dtype=np.float32)
    out[:, :3] = colors
    out[:, 3] = alpha
    return out

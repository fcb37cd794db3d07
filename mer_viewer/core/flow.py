"""Dense 2D optical flow between aligned onset/apex crops, its colour coding and strain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

FlowMethod = Literal["tvl1", "dis", "farneback"]
FLOW_METHODS: tuple[FlowMethod, ...] = ("tvl1", "dis", "farneback")

#: What ``mer preprocess``, ``mer flow`` and the flow view compute unless told otherwise.
#: Against the demo truth's image-plane motion (tests/benchmarks/bench_flow.py, README
#: "Performance"), DIS MEDIUM at full resolution has half of OpenCV TV-L1's end-point
#: error in the moving regions (0.13 vs 0.26 px) at 1/100 of its time (~23 ms a clip, one core).
DEFAULT_FLOW: FlowMethod = "dis"

#: DIS preset: MEDIUM is the most accurate of OpenCV's three presets (finest
#: pyramid level, more gradient-descent iterations, variational refinement);
#: FAST/ULTRAFAST or half resolution save ~20 ms a clip at twice its error (bench_flow).
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM

#: Farneback parameters (OpenCV tutorial values, one more level for ~300 px crops).
FARNEBACK: dict[str, Any] = dict(pyr_scale=0.5, levels=4, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2,
                 flags=0)


def _grey_u8(image: np.ndarray) -> np.ndarray:
    """(h, w, 3) RGB or (h, w) grey -> (h, w) uint8 grey."""
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def match_brightness(reference: np.ndarray, image: np.ndarray) -> np.ndarray:
    """(h, w) uint8 grey -> ``image`` with the mean and standard deviation of ``reference``.

    Removes a global gain and offset of lighting between two frames.
    """
    ref, img = reference.astype(np.float32), image.astype(np.float32)
    spread = float(img.std())
    gain = float(ref.std()) / spread if spread > 0 else 1.0
    return np.clip(np.rint((img - img.mean()) * gain + ref.mean()), 0, 255).astype(np.uint8)


def optical_flow(onset_rgb_crop: np.ndarray, apex_rgb_crop: np.ndarray,
                 method: FlowMethod = DEFAULT_FLOW, match_lighting: bool = True) -> np.ndarray:
    """Two (h, w, 3) uint8 RGB (or (h, w) grey) crops -> (h, w, 2) float32 flow in px.

    OpenCV's convention: ``flow[y, x] = (dx, dy)`` with onset(x, y) ≈
    apex(x + dx, y + dy), x right and y down. Pass the aligned crops (the warped
    apex on the onset grid) so the flow shows face motion, not head motion.
    ``match_lighting`` first gives the apex the onset's grey mean and spread:
    TV-L1 assumes constant brightness, and a global ×1.15 + 8 lighting change
    otherwise biased its median flow by ~1 px (and made it ~8× slower).
    Local lighting changes remain; ``False`` gives the raw flow.
    """
    if method not in FLOW_METHODS:
        raise ValueError(f"unknown flow method {method!r}; expected one of {FLOW_METHODS}")
    onset, apex = _grey_u8(onset_rgb_crop), _grey_u8(apex_rgb_crop)
    if onset.shape != apex.shape:
        raise ValueError(f"crops differ in size: {onset.shape} vs {apex.shape}")
    if match_lighting:
        apex = match_brightness(onset, apex)
    # OpenCV's stubs want an array for the output flow; None (allocate one) is what we mean
    if method == "tvl1":
        flow = cv2.optflow.DualTVL1OpticalFlow.create().calc(  # type: ignore[call-overload]
            onset, apex, None)
    elif method == "dis":
        flow = cv2.DISOpticalFlow.create(DIS_PRESET).calc(  # type: ignore[call-overload]
            onset, apex, None)
    else:
        flow = cv2.calcOpticalFlowFarneback(onset, apex, None, **FARNEBACK)
    return np.asarray(flow, dtype=np.float32)


def magnitude(flow: np.ndarray) -> np.ndarray:
    """(h, w, 2) flow px -> (h, w) float32 length px."""
    return np.hypot(flow[..., 0], flow[..., 1]).astype(np.float32)


def direction(flow: np.ndarray) -> np.ndarray:
    """(h, w, 2) flow -> (h, w) float32 angle in [0, 2π): 0 = right, π/2 = down (image y)."""
    return np.mod(np.arctan2(flow[..., 1], flow[..., 0]), 2 * np.pi).astype(np.float32)


#: the flow view's full brightness: this percentile of the lengths (longer ones clip)
SCALE_PERCENTILE = 99.0


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """(h, w, 2) flow px -> (h, w, 3) uint8 RGB, OpenCV's HSV coding.

    Hue = direction (red = right, yellow-green = down, cyan = left, violet = up,
    as y points down), saturation full, value = magnitude / ``max_magnitude``
    clipped to 1 (default: the largest magnitude in ``flow``). No motion is
    black, like motionless points in the motion cloud. ``color_wheel`` is the legend.
    """
    length = magnitude(flow)
    if max_magnitude is None:
        max_magnitude = float(length.max()) if length.size else 0.0
    scale = 1.0 / max_magnitude if max_magnitude > 0 else 0.0
    hsv = np.empty(flow.shape[:2] + (3,), dtype=np.uint8)
    # OpenCV stores hue in [0, 180) for uint8 images: degrees / 2.
    hsv[..., 0] = np.rint(np.degrees(direction(flow)) / 2.0).astype(np.int32) % 180
    hsv[..., 1] = 255
    hsv[..., 2] = np.rint(np.clip(length * scale, 0.0, 1.0) * 255.0).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


@dataclass(frozen=True, eq=False)
class FlowField:
    """A clip's flow and what the flow view draws of it, computed once (and cached).

    ``flow`` (h, w, 2) float32 px on the onset face box (``optical_flow``);
    ``rgb`` (h, w, 3) uint8 its ``flow_to_rgb`` coding, full brightness at ``scale_px``
    (the 99th percentile of the lengths: DIS leaves a few long wrong vectors in
    textureless skin, which would otherwise darken the face's real motion);
    ``max_px`` its largest length.
    """

    method: FlowMethod
    flow: np.ndarray
    rgb: np.ndarray
    max_px: float
    scale_px: float = 0.0

    @classmethod
    def of(cls, flow: np.ndarray, method: FlowMethod) -> FlowField:
        flow = np.asarray(flow, dtype=np.float32)
        length = magnitude(flow)
        top = float(length.max()) if flow.size else 0.0
        scale = float(np.percentile(length, SCALE_PERCENTILE)) if flow.size else 0.0
        scale = scale if scale > 0 else top
        return cls(method, flow, flow_to_rgb(flow, max_magnitude=scale), top, scale)


def pair_flow(pair, method: FlowMethod = DEFAULT_FLOW) -> FlowField:
    """The flow of an aligned pair (``pipeline.AlignedPair``): onset crop -> warped apex crop."""
    return FlowField.of(optical_flow(pair.onset_rgb, pair.apex_rgb, method), method)


def color_wheel(size: int = 128) -> np.ndarray:
    """Legend for ``flow_to_rgb``: (size, size, 3) uint8 disc, colour of the flow from its centre.

    A pixel at offset (dx, dy) from the centre (y down) shows the colour of the
    flow (dx, dy) with the disc radius as ``max_magnitude``; outside the disc is black.
    """
    centre = (size - 1) / 2.0
    radius = max(size / 2.0, 1e-6)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    flow = np.stack([xs - centre, ys - centre], axis=-1)
    wheel = flow_to_rgb(flow, max_magnitude=radius)
    wheel[magnitude(flow) > radius] = 0
    return wheel


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """(h, w, 2) flow px -> (h, w) float32 optical strain magnitude (dimensionless).

    sqrt(εxx² + εyy² + ½(∂u/∂y + ∂v/∂x)²) with εxx = ∂u/∂x, εyy = ∂v/∂y from
    central differences (``np.gradient``), the Frobenius norm of the symmetric
    strain tensor used in MER papers (Liong et al.). Rigid translation and
    rotation give 0.
    """
    u = flow[..., 0].astype(np.float64)
    v = flow[..., 1].astype(np.float64)
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    strain = np.sqrt(du_dx**2 + dv_dy**2 + 0.5 * (du_dy + dv_dx) ** 2)
    return strain.astype(np.float32)

"""Render one demo sample: RGB-D frames from onset to offset, and its ground truth.

Camera as CAS(ME)³: 1280×720, fx = fy = 1324.65 px, principal point (640, 360),
depth registered to the RGB grid, uint16 mm, 0 = invalid.

Every onset pixel p of the head is a surface point P(p) = backproject(p, Z(p)).
In frame f it moves to P'(p) = R_f (P(p) + w_f D(p) − c) + c + t_f, where D is the
AU displacement field (mm, :mod:`.demo_aus`), w_f the expression envelope
(0 at onset, 1 at apex, ~0 at offset) and (R_f, t_f) a tiny rigid head motion
about the head centre c. The frame is rendered by inverse mapping: for each
output pixel q solve q = π(P'(p)) by fixed-point iteration p ← q − d(p),
d(p) = π(P'(p)) − p, then colour = texture(p) under a changed lighting, depth =
Z'(p) with sensor noise (σ 0.5 mm, rounded to mm) and holes (mostly on steep
slopes and silhouettes, some on dark surfaces, a few sparse ones).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from . import demo_head
from .demo_aus import au_displacement_mm
from .demo_head import SubjectLook, head_geometry, head_masks, head_relief_mm

WIDTH, HEIGHT = 1280, 720
FX = FY = 1324.65
CX, CY = WIDTH / 2, HEIGHT / 2
JPEG_QUALITY = 90
DEPTH_NOISE_MM = 0.5
MOVING_THRESHOLD_MM = 0.2
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

_texture_rgb: np.ndarray | None = None  # the astronaut, set once per process


def set_texture(texture_rgb: np.ndarray) -> None:
    """Give this process the (512, 512, 3) uint8 RGB face texture (worker initialiser)."""
    global _texture_rgb
    _texture_rgb = texture_rgb
    if cv2.getNumThreads() > 1 and _in_worker:
        cv2.setNumThreads(1)


_in_worker = False


def init_worker(texture_rgb: np.ndarray) -> None:
    """Process-pool initialiser: one OpenCV thread per worker, the texture in memory."""
    global _in_worker
    _in_worker = True
    set_texture(texture_rgb)


@dataclass(frozen=True)
class SampleSpec:
    """Everything needed to render one sample (one sheet row) deterministically."""

    subject: str  # "spNO.3"
    clip: str  # clip letter as in the sheet
    clip_folder: str  # clip folder name on disk (case may differ)
    depth_beside_colour: bool  # depth PNGs next to color/ instead of in depth/
    emotion: str  # 7-class name
    au: str
    objective_class: str
    kind: str  # "normal" or the anomaly it carries
    onset: int  # as in the sheet
    apex: int
    offset: int
    true_onset: int  # what was rendered
    true_apex: int
    true_offset: int
    skip_frames: tuple[int, ...]  # frames deliberately not written
    occluded: bool
    seed_words: tuple[int, ...]
    look: SubjectLook


def envelope(frame: int, onset: int, apex: int, offset: int, residual: float = 0.05) -> float:
    """Expression intensity at ``frame``: 0 at onset, 1 at apex, ``residual`` at offset."""
    if frame <= onset:
        return 0.0
    if frame <= apex:
        return 0.5 * (1 - np.cos(np.pi * (frame - onset) / (apex - onset)))
    if frame >= offset:
        return residual
    return residual + (1 - residual) * 0.5 * (1 + np.cos(np.pi * (frame - apex) / (offset - apex)))


def head_motion_progress(frame: int, onset: int, apex: int) -> float:
    """Share of the onset→apex head motion and lighting change reached at ``frame``."""
    return float(np.clip((frame - onset) / (apex - onset), 0.0, 1.3))


@lru_cache(maxsize=4)
def _texture_for(look: SubjectLook) -> np.ndarray:
    return demo_head.subject_texture(_texture_rgb, look)


@lru_cache(maxsize=4)
def background_bgr(look: SubjectLook) -> np.ndarray:
    """(720, 1280, 3) uint8 BGR: a smooth, static backdrop (compresses well)."""
    rng = np.random.default_rng(look.background_seed)
    base = rng.uniform(70, 200, 3)
    coarse = base + rng.normal(0, 18, (5, 9, 3)) + np.linspace(-25, 25, 5)[:, None, None]
    backdrop = cv2.resize(coarse.astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(backdrop, 0, 255).astype(np.uint8)


def rotation_matrix(rotvec: np.ndarray) -> np.ndarray:
    """(3,) rotation vector in radians -> (3, 3) rotation matrix."""
    return cv2.Rodrigues(np.asarray(rotvec, np.float64).reshape(3, 1))[0]


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` with constant zip timestamps (byte-identical reruns)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


class _Scene:
    """The onset geometry of one sample inside its region of interest (ROI)."""

    def __init__(self, spec: SampleSpec, rng: np.random.Generator):
        look = spec.look
        self.geo = geo = head_geometry(look)
        self.distance_mm = look.distance_mm + rng.uniform(-10, 10)
        self.z_centre_mm = self.distance_mm + look.head_depth_mm
        self.px_per_mm = FX / self.distance_mm
        self.centre_uv = np.asarray(look.centre_px) + rng.uniform(-12, 12, 2)

        rows = geo.head_half_width_mm > 0
        x_lo = min((geo.head_centre_mm - geo.head_half_width_mm)[rows].min(),
                   geo.neck_centre_mm - geo.neck_half_width_mm)
        x_hi = max((geo.head_centre_mm + geo.head_half_width_mm)[rows].max(),
                   geo.neck_centre_mm + geo.neck_half_width_mm)
        y_lo, y_hi = geo.row_y_mm[rows].min(), geo.neck_bottom_mm
        (u0, v0), (u1, v1) = self.to_px(np.array([[x_lo, y_lo], [x_hi, y_hi]]))
        self.u0, self.v0 = max(int(u0) - 6, 0), max(int(v0) - 6, 0)
        self.u1, self.v1 = min(int(u1) + 7, WIDTH), min(int(v1) + 7, HEIGHT)

        u, v = np.meshgrid(np.arange(self.u0, self.u1, dtype=np.float32),
                           np.arange(self.v0, self.v1, dtype=np.float32))
        self.grid_u, self.grid_v = u, v
        self.x_mm, self.y_mm = self.to_mm(u, v)
        self.head_mask, self.neck_mask = head_masks(geo, self.x_mm, self.y_mm, self.px_per_mm)
        head_h, neck_h = head_relief_mm(geo, look, self.x_mm, self.y_mm)
        self.depth_mm = np.where(self.neck_mask > self.head_mask,
                                 self.z_centre_mm - neck_h, self.z_centre_mm - head_h)
        self.landmarks_px = self.to_px(geo.landmarks_mm)

    def to_px(self, xy_mm: np.ndarray) -> np.ndarray:
        return np.asarray(xy_mm) * self.px_per_mm + self.centre_uv

    def to_mm(self, u: np.ndarray, v: np.ndarray):
        return ((u - self.centre_uv[0]) / self.px_per_mm, (v - self.centre_uv[1]) / self.px_per_mm)

    def roi_map(self, u: np.ndarray, v: np.ndarray):
        """Full-frame pixel coordinates -> cv2.remap maps into the ROI arrays."""
        return (u - self.u0).astype(np.float32), (v - self.v0).astype(np.float32)

    def texture_map(self, u: np.ndarray, v: np.ndarray):
        """Full-frame pixel coordinates -> cv2.remap maps into the subject texture."""
        x_mm, y_mm = self.to_mm(u, v)
        (s0, t0), (mx, my) = self.geo.face_centre_texture, self.geo.mm_per_texture_px
        return (s0 + x_mm / mx).astype(np.float32), (t0 + y_mm / my).astype(np.float32)

    def face_box(self) -> np.ndarray:
        """(4,) int xyxy full-frame box around the landmarks with a margin (brows to chin)."""
        (x0, y0), (x1, y1) = self.landmarks_px.min(axis=0), self.landmarks_px.max(axis=0)
        w, h = x1 - x0, y1 - y0
        box = np.array([x0 - 0.12 * w, y0 - 0.25 * h, x1 + 0.12 * w, y1 + 0.08 * h])
        box = np.round(box).astype(np.int32)
        return np.clip(box, [self.u0, self.v0, self.u0, self.v0], [self.u1, self.v1, self.u1, self.v1])


def _box_window(scene: _Scene, box: np.ndarray, ramp_px: float = 10.0) -> np.ndarray:
    """(H, W) weight: 1 well inside ``box``, falling smoothly to 0 at its edges."""
    inside = np.minimum.reduce([scene.grid_u - box[0], box[2] - 1 - scene.grid_u,
                                scene.grid_v - box[1], box[3] - 1 - scene.grid_v])
    t = np.clip(inside / ramp_px, 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)

"""Onset geometry of one demo sample: camera, placement, head masks and depth, the backdrop
and the hand occluder.

Camera as CAS(ME)³: 1280×720, fx = fy = 1324.65 px, principal point (640, 360).
Full-frame pixel (u, v) and face coordinates (x, y) in mm (:mod:`.demo_head`) are
related by the scale at the cheek plane: ``u = u_c + x · fx / distance_mm``.
Only a region of interest (ROI) around head and neck is computed; the rest of the
frame is the static backdrop.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .demo_head import SubjectLook, head_geometry, head_masks, head_relief_mm

WIDTH, HEIGHT = 1280, 720
FX = FY = 1324.65
CX, CY = WIDTH / 2, HEIGHT / 2


@lru_cache(maxsize=4)
def background_bgr(look: SubjectLook) -> np.ndarray:
    """(720, 1280, 3) uint8 BGR: a plain, softly shaded backdrop, static over the clip.

    Constant over 16×16 blocks (one JPEG colour block) with steps of at most a grey
    level or two between blocks: it looks smooth and costs almost nothing in JPEG.
    """
    rng = np.random.default_rng(look.background_seed)
    base = rng.uniform(90, 190) + rng.uniform(-12, 12, 3)
    coarse = base + rng.normal(0, 4, (3, 5, 3)) + np.linspace(8, -8, 3)[:, None, None]
    blocks = cv2.resize(coarse.astype(np.float32), (WIDTH // 16, HEIGHT // 16),
                        interpolation=cv2.INTER_LINEAR)
    blocks = np.clip(np.rint(blocks), 0, 255).astype(np.uint8)
    return cv2.resize(blocks, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)


class OnsetScene:
    """The onset geometry of one sample inside its region of interest (ROI)."""

    def __init__(self, look: SubjectLook, rng: np.random.Generator):
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
                                 self.z_centre_mm - neck_h, self.z_centre_mm - head_h).astype(np.float32)
        z = self.depth_mm
        self.points_mm = np.stack([(u - CX) * z / FX, (v - CY) * z / FY, z], axis=-1)  # (H, W, 3)
        self.landmarks_px = self.to_px(geo.landmarks_mm)

    def to_px(self, xy_mm: np.ndarray) -> np.ndarray:
        return np.asarray(xy_mm) * self.px_per_mm + self.centre_uv

    def to_mm(self, u: np.ndarray, v: np.ndarray):
        return ((u - self.centre_uv[0]) / self.px_per_mm, (v - self.centre_uv[1]) / self.px_per_mm)

    def roi_map(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-frame pixel coordinates -> cv2.remap maps into the ROI arrays."""
        return (u - self.u0).astype(np.float32), (v - self.v0).astype(np.float32)

    def texture_map(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-frame pixel coordinates -> cv2.remap maps into the subject texture."""
        x_mm, y_mm = self.to_mm(u, v)
        (s0, t0), (mx, my) = self.geo.face_centre_texture, self.geo.mm_per_texture_px
        return (s0 + x_mm / mx).astype(np.float32), (t0 + y_mm / my).astype(np.float32)

    def face_box(self) -> np.ndarray:
        """(4,) int32 xyxy full-frame face box: the landmarks' box plus 12 % at the sides,
        25 % above (forehead) and 18 % below (chin and jaw drop)."""
        (x0, y0), (x1, y1) = self.landmarks_px.min(axis=0), self.landmarks_px.max(axis=0)
        w, h = x1 - x0, y1 - y0
        box = np.array([x0 - 0.12 * w, y0 - 0.25 * h, x1 + 0.12 * w, y1 + 0.18 * h])
        box = np.round(box).astype(np.int32)
        return np.clip(box, [self.u0, self.v0, self.u0, self.v0], [self.u1, self.v1, self.u1, self.v1])


def box_window(scene: OnsetScene, box: np.ndarray, ramp_px: float = 10.0) -> np.ndarray:
    """(H, W) weight: 1 well inside ``box``, falling smoothly to 0 at its edges."""
    inside = np.minimum.reduce([scene.grid_u - box[0], box[2] - 1 - scene.grid_u,
                                scene.grid_v - box[1], box[3] - 1 - scene.grid_v])
    t = np.clip(inside / ramp_px, 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def _capsule_distance(x, y, a, b):
    ab = np.subtract(b, a)
    t = np.clip(((x - a[0]) * ab[0] + (y - a[1]) * ab[1]) / (ab @ ab), 0, 1)
    return np.hypot(x - a[0] - t * ab[0], y - a[1] - t * ab[1])


def hand_over_mouth(scene: OnsetScene, skin_rgb: np.ndarray):
    """A hand-like blob covering mouth and chin, about 40 mm in front of the lips.

    Returns ``(alpha, colour_rgb, depth_mm)``: (H, W) float32, (H, W, 3) float32, (H, W) float32.
    """
    lm, x, y = scene.geo.landmarks_mm, scene.x_mm, scene.y_mm
    mouth = lm[48:68].mean(axis=0)
    chin = lm[8]
    palm = np.array([mouth[0] + 22.0, 0.5 * (mouth[1] + chin[1]) + 6.0])
    palm_r = np.hypot((x - palm[0]) / 36.0, (y - palm[1]) / 32.0)
    inside_mm = (1 - palm_r) * 32.0  # approximate signed distance to the palm outline
    bump = np.clip(1 - palm_r, 0, 1)
    finger_mm = 7.0  # radius
    for k in range(4):  # fingers across the mouth, from the palm towards the other cheek
        start = palm + (10.0, -34.0 + 12.5 * k)
        end = (mouth[0] - 42.0 + 6.0 * abs(k - 1.5), mouth[1] - 20.0 + 12.0 * k)
        dist = _capsule_distance(x, y, start, end)
        inside_mm = np.maximum(inside_mm, finger_mm - dist)
        bump = np.maximum(bump, np.clip(1 - dist / finger_mm, 0, 1) ** 0.5 * 0.6)
    alpha = np.clip(0.5 + inside_mm * scene.px_per_mm, 0, 1).astype(np.float32)
    shade = (0.72 + 0.28 * np.sqrt(bump))[..., None]
    color = (skin_rgb * shade).astype(np.float32)
    mouth_px = scene.to_px(mouth).astype(int)
    lips_depth = scene.depth_mm[mouth_px[1] - scene.v0, mouth_px[0] - scene.u0]
    depth = (lips_depth - 40.0 - 8.0 * np.sqrt(bump)).astype(np.float32)
    return alpha, color, depth

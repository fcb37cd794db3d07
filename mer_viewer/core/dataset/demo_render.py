"""Render one demo sample: RGB-D frames from onset to offset, and its ground truth.

Output as CAS(ME)³: 1280×720 JPEG colour, depth registered to the RGB grid as
uint16 PNG in mm, 0 = invalid (camera in :mod:`.demo_scene`).

Every onset pixel p of the head is a surface point P(p) = backproject(p, Z(p)).
In frame f it moves to P'(p) = R_f (P(p) + w_f D(p) − c) + c + t_f, where D is the
AU displacement field (mm, :mod:`.demo_aus`), w_f the expression envelope
(0 at onset, 1 at apex, ~0 at offset) and (R_f, t_f) a tiny rigid head motion
about the head centre c. The frame is rendered by inverse mapping: for each
output pixel q solve q = π(P'(p)) by fixed-point iteration p ← q − d(p),
d(p) = π(P'(p)) − p, then colour = texture(p) under a changed lighting (RGB only),
depth = Z'(p) through the sensor model of :mod:`.demo_sensor`.
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
from .demo_head import SubjectLook
from .demo_scene import (
    CX,
    CY,
    FX,
    FY,
    HEIGHT,
    WIDTH,
    OnsetScene,
    background_bgr,
    box_window,
    hand_over_mouth,
)
from .demo_sensor import sensor_depth
from .labels import parse_au

JPEG_QUALITY = 85
PNG_COMPRESSION = 5
MOVING_THRESHOLD_MM = 0.2
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
MICRO_PEAK_MM = (0.3, 2.0)  # displacement at the strongest point of the face
MACRO_PEAK_MM = (2.0, 6.0)
MACRO_GAIN = 3.0  # a macro-expression's field is its micro one's × 3, then clipped

_texture_rgb: np.ndarray | None = None  # the astronaut, set once per process


def set_texture(texture_rgb: np.ndarray) -> None:
    """Give this process the (512, 512, 3) uint8 RGB face texture."""
    global _texture_rgb
    _texture_rgb = texture_rgb
    _texture_for.cache_clear()


def load_texture() -> np.ndarray:
    """The face texture: ``skimage.data.astronaut()``, (512, 512, 3) uint8 RGB, offline."""
    from skimage.data import astronaut  # lazy: only the demo builder needs scikit-image

    return astronaut()


def init_worker() -> None:
    """Process-pool initialiser: one OpenCV thread per worker process, the texture in memory."""
    cv2.setNumThreads(1)
    set_texture(load_texture())


@dataclass(frozen=True)
class SampleSpec:
    """Everything needed to render one sample (one sheet row) deterministically."""

    subject: str  # "spNO.3"
    clip: str  # clip letter as in the sheet
    clip_folder: str  # clip folder name on disk (case may differ)
    depth_beside_color: bool  # depth PNGs next to color/ instead of in depth/
    emotion: str  # as spelled in the sheet ("others", sometimes "Others")
    au: str  # e.g. "6+12", "L2+L1", "T28+14"
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
    sheet: str = "me"  # "me": a micro-expression; "mae": a macro-expression (MaE sheet)


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
    if _texture_rgb is None:
        raise RuntimeError("no face texture in this process: call set_texture or init_worker")
    return demo_head.subject_texture(_texture_rgb, look)


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


def _warp(scene: OnsetScene, displacement_mm: np.ndarray, weight: float,
          rotation: np.ndarray, translation_mm: np.ndarray, centre_mm: np.ndarray):
    """Inverse map of one frame: for each ROI pixel q, the onset pixel p it shows.

    Returns ``(p_u, p_v, depth_mm)``: (H, W) float32 full-frame coordinates of p and
    the moved surface depth Z'(p) (mm) seen at q.
    """
    if not weight and not translation_mm.any() and np.array_equal(rotation, np.eye(3)):
        return scene.grid_u, scene.grid_v, scene.depth_mm  # the onset itself
    points = scene.points_mm
    if weight:
        points = points + np.float32(weight) * displacement_mm
    moved = (points - centre_mm) @ rotation.T.astype(np.float32) + (centre_mm + translation_mm)
    moved = moved.astype(np.float32)
    shift = np.stack([FX * moved[..., 0] / moved[..., 2] + CX - scene.grid_u,
                      FY * moved[..., 1] / moved[..., 2] + CY - scene.grid_v], axis=-1)
    p_u, p_v = scene.grid_u - shift[..., 0], scene.grid_v - shift[..., 1]
    for _ in range(3):  # p = q - d(p) converges fast: d changes far less than a pixel per pixel
        at_p = cv2.remap(shift, *scene.roi_map(p_u, p_v), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
        p_u, p_v = scene.grid_u - at_p[..., 0], scene.grid_v - at_p[..., 1]
    depth = cv2.remap(np.ascontiguousarray(moved[..., 2]), *scene.roi_map(p_u, p_v),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return p_u, p_v, depth


@dataclass(frozen=True)
class _Lighting:
    """Change of the light on the head between onset and apex (RGB only)."""

    gain: float
    offset: float  # grey levels
    gradient: float  # relative gain change across one face width, left to right

    def apply(self, color: np.ndarray, scene: OnsetScene, progress: float, face_width_px: float):
        across = (scene.grid_u - scene.centre_uv[0]) / face_width_px
        gain = 1 + progress * ((self.gain - 1) + self.gradient * across)
        return color * gain[..., None] + progress * self.offset


def _expression_field(spec: SampleSpec, scene: OnsetScene, box: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float32 AU displacement (mm) at apex over the ROI, zero outside ``box``."""
    side_gain = [1.0, 1.0]
    if rng.random() < 0.25:  # occasional asymmetry of a bilateral AU
        side_gain[rng.integers(2)] = rng.uniform(0.5, 0.8)
    gain = spec.look.expressiveness * rng.uniform(0.8, 1.2)
    field = au_displacement_mm(spec.au, scene.geo.landmarks_mm, scene.x_mm, scene.y_mm,
                               gain, (side_gain[0], side_gain[1]))
    field *= box_window(scene, box)[..., None]
    peak = float(np.linalg.norm(field, axis=-1).max())
    if peak > 0 and spec.sheet == "mae":  # macro-expressions: the same AUs, 2–6 mm
        field *= np.clip(MACRO_GAIN * peak, *MACRO_PEAK_MM) / peak
    elif peak > 0:  # micro-expressions: 0.3–2 mm at the strongest point
        field *= np.clip(peak, *MICRO_PEAK_MM) / peak
    # 1/256 mm steps: exact in the float16 truth, and the truth compresses well
    return (np.round(field * 256) / 256).astype(np.float32)


def render_sample(spec: SampleSpec, out_root: Path) -> str:
    """Write the frames and the truth npz of ``spec`` under ``out_root``; return a short label."""
    rng = np.random.default_rng(np.random.SeedSequence(list(spec.seed_words)))
    scene = OnsetScene(spec.look, rng)
    texture = _texture_for(spec.look)
    background = background_bgr(spec.look)
    box = scene.face_box()
    displacement = _expression_field(spec, scene, box, rng)

    axis = rng.normal(size=3)  # head motion onset -> apex: under about a pixel
    rotvec = axis / np.linalg.norm(axis) * rng.uniform(0.0005, 0.002)
    translation = np.array([rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), rng.uniform(-0.8, 0.8)])
    centre = np.array([(scene.centre_uv[0] - CX) * scene.z_centre_mm / FX,
                       (scene.centre_uv[1] - CY) * scene.z_centre_mm / FY, scene.z_centre_mm])
    lighting = _Lighting(gain=1 + rng.choice([-1.0, 1.0]) * rng.uniform(0.03, 0.10),
                         offset=rng.uniform(-8, 8), gradient=rng.uniform(-0.08, 0.08))
    face_width_px = float(box[2] - box[0])
    hand = None
    if spec.occluded:
        s0, t0 = scene.geo.face_centre_texture
        hand = hand_over_mouth(scene, texture[int(t0) + 12, int(s0) - 25] * np.float32(1.04))

    clip_dir = out_root / spec.subject / spec.clip_folder
    color_dir = clip_dir / "color"
    depth_dir = clip_dir if spec.depth_beside_color else clip_dir / "depth"
    color_dir.mkdir(parents=True, exist_ok=True)
    depth_dir.mkdir(parents=True, exist_ok=True)
    roi = (slice(scene.v0, scene.v1), slice(scene.u0, scene.u1))
    frames = list(range(spec.true_onset, spec.true_offset + 1))
    weights = []
    for frame in frames:
        weight = envelope(frame, spec.true_onset, spec.true_apex, spec.true_offset)
        progress = head_motion_progress(frame, spec.true_onset, spec.true_apex)
        weights.append(weight)
        p_u, p_v, depth = _warp(scene, displacement, weight, rotation_matrix(rotvec * progress),
                                translation * progress, centre)
        roi_u, roi_v = scene.roi_map(p_u, p_v)
        alpha = np.clip(cv2.remap(scene.head_mask, roi_u, roi_v, cv2.INTER_LINEAR)
                        + cv2.remap(scene.neck_mask, roi_u, roi_v, cv2.INTER_LINEAR), 0, 1)
        color = cv2.remap(texture, *scene.texture_map(p_u, p_v), cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
        color = lighting.apply(color, scene, progress, face_width_px)
        depth = np.where(alpha >= 0.5, depth, 0).astype(np.float32)
        color_bgr = alpha[..., None] * color[..., ::-1] + (1 - alpha[..., None]) * background[roi]
        if hand is not None:
            hand_alpha, hand_color, hand_depth = hand
            color_bgr = (hand_alpha[..., None] * hand_color[..., ::-1]
                          + (1 - hand_alpha[..., None]) * color_bgr)
            depth = np.where(hand_alpha >= 0.5, hand_depth, depth)
        depth_u16 = sensor_depth(depth, rng)
        if frame in spec.skip_frames:
            continue
        full_color = background.copy()
        full_color[roi] = np.clip(np.rint(color_bgr), 0, 255).astype(np.uint8)
        full_depth = np.zeros((HEIGHT, WIDTH), np.uint16)
        full_depth[roi] = depth_u16
        jpeg = cv2.imencode(".jpg", full_color, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY,
                                                  cv2.IMWRITE_JPEG_OPTIMIZE, 1])[1]
        png = cv2.imencode(".png", full_depth, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])[1]
        (color_dir / f"{frame}.jpg").write_bytes(jpeg.tobytes())
        (depth_dir / f"{frame}.png").write_bytes(png.tobytes())

    _write_truth(spec, scene, box, displacement, rotvec, translation, centre, frames, weights,
                 lighting, out_root)
    return f"{spec.subject}/{spec.clip} onset {spec.onset}" + (" (macro)" if spec.sheet == "mae" else "")


def _write_truth(spec: SampleSpec, scene: OnsetScene, box, displacement, rotvec, translation,
                 centre, frames, weights, lighting: _Lighting, out_root: Path) -> None:
    """``demo_truth/<subject>_<clip>_<onset>.npz``: what was rendered, in the box of the onset."""
    crop = (slice(box[1] - scene.v0, box[3] - scene.v0), slice(box[0] - scene.u0, box[2] - scene.u0))
    surface = (scene.head_mask + scene.neck_mask)[crop] >= 0.5
    field = np.where(surface[..., None], displacement[crop], 0).astype(np.float16)
    rotation = rotation_matrix(rotvec)
    rigid = np.hstack([rotation, (centre + translation - rotation @ centre)[:, None]])
    truth = {
        "box_xyxy": box.astype(np.int32),
        "displacement_mm": field,
        "moving": np.linalg.norm(field.astype(np.float32), axis=-1) >= MOVING_THRESHOLD_MM,
        "aus": np.array(parse_au(spec.au)),
        "au": np.array(spec.au),
        "emotion": np.array(spec.emotion.lower()),
        "objective_class": np.array(spec.objective_class),
        "kind": np.array(spec.kind),
        "sheet": np.array(spec.sheet),
        "occluded": np.array(spec.occluded),
        "subject": np.array(spec.subject),
        "clip": np.array(spec.clip),
        "sheet_onset_apex_offset": np.array([spec.onset, spec.apex, spec.offset], np.int32),
        "true_onset_apex_offset": np.array([spec.true_onset, spec.true_apex, spec.true_offset],
                                           np.int32),
        "frames": np.array(frames, np.int32),
        "envelope": np.array(weights, np.float32),
        "rigid": rigid.astype(np.float64),
        "rigid_rotvec_rad": np.asarray(rotvec, np.float64),
        "rigid_translation_mm": np.asarray(translation, np.float64),
        "rigid_centre_mm": np.asarray(centre, np.float64),
        "lighting_gain_offset_gradient": np.array(
            [lighting.gain, lighting.offset, lighting.gradient], np.float64),
        "landmarks_onset_px": scene.landmarks_px.astype(np.float32),
        "intrinsics_fx_fy_cx_cy": np.array([FX, FY, CX, CY], np.float64),
    }
    truth_dir = out_root / "demo_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_npz(truth_dir / f"{spec.subject}_{spec.clip}_{spec.onset}.npz", truth)

"""3D head model of the demo corpus: a real face texture on a smooth surface in mm.

The texture is ``skimage.data.astronaut()`` (512×512 RGB, a real face that
dlib's HOG detector finds). Its 68 dlib landmarks are fixed below, so the
corpus does not depend on the dlib version. The head surface is described in
*face coordinates*: millimetres, x right, y down, origin at the face centre
(mean of the nose landmarks 27–30), aligned with the camera axes.

- Silhouette: per texture row a centre and a half-width, the union of a
  super-ellipse over hair and cranium and the jaw line (landmarks 0–16),
  smoothed; below it a neck (with the collar of the texture).
- Relief ``h`` (mm towards the camera, ≥ 0 at the face): a row-wise
  super-elliptic cross-section (flat front, vertical flanks at the silhouette)
  plus landmark-aligned features: nose ridge, tip and wings, eye sockets,
  brow ridge, cheekbones, maxilla, lips, chin. The nose tip ends up about
  30 mm in front of the cheeks.

Depth of a surface point is ``Z = z_centre_mm - h`` where ``z_centre_mm`` is
the depth of the head's silhouette plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: dlib 68 landmarks of ``skimage.data.astronaut()`` (x, y in texture pixels).
ASTRONAUT_LANDMARKS_68 = np.array([
    [179, 104], [179, 116], [180, 128], [181, 139], [185, 151], [191, 160], [200, 169],
    [209, 176], [221, 178], [232, 177], [243, 171], [253, 164], [260, 154], [265, 144],
    [268, 132], [270, 121], [272, 109], [186, 94], [192, 88], [200, 87], [208, 89],
    [216, 92], [236, 94], [244, 91], [252, 91], [260, 92], [265, 98], [226, 102],
    [225, 111], [225, 119], [225, 127], [214, 131], [219, 133], [224, 134], [229, 133],
    [234, 132], [195, 101], [200, 98], [207, 98], [212, 104], [206, 104], [200, 104],
    [237, 105], [243, 100], [250, 100], [255, 104], [250, 106], [244, 106], [200, 139],
    [209, 139], [218, 139], [223, 141], [230, 140], [237, 140], [245, 141], [237, 151],
    [229, 155], [222, 155], [216, 154], [208, 149], [203, 140], [218, 143], [223, 144],
    [229, 143], [243, 142], [229, 150], [223, 150], [217, 149],
], dtype=np.float64)

#: Index permutation that maps dlib landmarks of a face to those of its mirror image.
MIRROR_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65]
)

TEXTURE_SIZE = 512
#: Millimetres per texture pixel for a head of size factor 1 (jaw width ≈ 140 mm).
MM_PER_TEXTURE_PX = 1.5


@dataclass(frozen=True)
class SubjectLook:
    """Appearance and placement of one demo subject (drawn once per subject)."""

    number: int
    mirror: bool
    color_gain_rgb: tuple[float, float, float]
    gamma: float
    size: float  # physical scale of the head (1 = texture at 1.5 mm per pixel)
    aspect: float  # horizontal stretch of the face
    head_depth_mm: float  # front-to-silhouette depth of the head cross-section
    relief_scale: float  # scale of the facial features (brows, cheeks, lips, chin)
    nose_scale: float
    distance_mm: float  # depth of the cheek plane
    centre_px: tuple[float, float]  # face centre in the frame (u, v)
    expressiveness: float  # scale of this subject's AU displacements
    background_seed: int


@dataclass(frozen=True)
class HeadGeometry:
    """Silhouette and landmarks of a look in face coordinates (mm).

    ``row_y_mm[i]`` is the face-coordinate y of texture row i; ``head_centre_mm``
    and ``head_half_width_mm`` describe the head silhouette per row (half-width
    < 0: no head on that row), ``neck_*`` the neck.
    """

    landmarks_mm: np.ndarray  # (68, 2)
    row_y_mm: np.ndarray  # (512,)
    head_centre_mm: np.ndarray  # (512,)
    head_half_width_mm: np.ndarray  # (512,)
    neck_centre_mm: float
    neck_half_width_mm: float
    neck_top_mm: float
    neck_bottom_mm: float
    mm_per_texture_px: tuple[float, float]  # (x, y)
    face_centre_texture: tuple[float, float]  # texture pixel at face coordinates (0, 0)


def texture_landmarks(mirror: bool) -> np.ndarray:
    """(68, 2) float landmarks of the (possibly mirrored) texture, dlib index order."""
    if not mirror:
        return ASTRONAUT_LANDMARKS_68.copy()
    mirrored = ASTRONAUT_LANDMARKS_68[MIRROR_68].copy()
    mirrored[:, 0] = TEXTURE_SIZE - 1 - mirrored[:, 0]
    return mirrored


def subject_texture(base_rgb: np.ndarray, look: SubjectLook) -> np.ndarray:
    """(512, 512, 3) uint8 RGB -> (512, 512, 3) float32 RGB 0..255 with the look's colours."""
    tex = base_rgb[:, ::-1] if look.mirror else base_rgb
    tex = (tex.astype(np.float32) / 255.0) ** np.float32(look.gamma)
    tex = tex * np.asarray(look.color_gain_rgb, np.float32)
    return np.ascontiguousarray(np.clip(tex * 255.0, 0, 255), dtype=np.float32)


@lru_cache(maxsize=16)
def head_geometry(look: SubjectLook) -> HeadGeometry:
    """Silhouette rows and landmarks of ``look`` in face coordinates (cached)."""
    lm = texture_landmarks(look.mirror)
    mm_x = MM_PER_TEXTURE_PX * look.size * look.aspect
    mm_y = MM_PER_TEXTURE_PX * look.size
    centre_tex = lm[27:31].mean(axis=0)
    jaw = lm[16, 0] - lm[0, 0]
    rows = np.arange(TEXTURE_SIZE, dtype=np.float64)
    left = np.full(TEXTURE_SIZE, np.inf)
    right = np.full(TEXTURE_SIZE, -np.inf)

    # Hair and cranium: a super-ellipse above the ears, cut where the hair ends.
    cx, cy = 0.5 * (lm[0, 0] + lm[16, 0]), lm[27, 1] - 0.22 * jaw
    a, b, n = 0.70 * jaw, 0.64 * jaw, 2.6
    dy = np.abs(rows - cy) / b
    half = a * np.clip(1 - dy**n, 0, None) ** (1 / n)
    cranium = (dy < 1) & (rows <= lm[27, 1] + 0.26 * jaw)
    left[cranium] = cx - half[cranium]
    right[cranium] = cx + half[cranium]

    # Jaw line, dilated a little: the landmarks lie just inside the real outline.
    chin = lm[8] + (0, 3)
    jaw_left = np.vstack([lm[0:8], chin])
    jaw_right = np.vstack([lm[16:8:-1], chin])
    in_jaw = (rows >= min(lm[0, 1], lm[16, 1])) & (rows <= chin[1])
    jl = np.interp(rows, jaw_left[:, 1], jaw_left[:, 0] - 3, left=np.inf, right=np.inf)
    jr = np.interp(rows, jaw_right[:, 1], jaw_right[:, 0] + 3, left=-np.inf, right=-np.inf)
    jl[rows < lm[0, 1]] = np.inf
    jr[rows < lm[16, 1]] = -np.inf
    left = np.where(in_jaw, np.minimum(left, jl), left)
    right = np.where(in_jaw, np.maximum(right, jr), right)

    has_head = np.isfinite(left) & np.isfinite(right) & (right > left)
    valid = np.flatnonzero(has_head)
    centre = np.interp(rows, valid, 0.5 * (left[valid] + right[valid]))
    half_width = np.where(has_head, 0.5 * (right - left), -3.0)
    centre = _smooth_rows(centre, 2.0)
    half_width = _smooth_rows(half_width, 2.0)

    return HeadGeometry(
        landmarks_mm=np.column_stack([(lm[:, 0] - centre_tex[0]) * mm_x,
                                      (lm[:, 1] - centre_tex[1]) * mm_y]),
        row_y_mm=(rows - centre_tex[1]) * mm_y,
        head_centre_mm=(centre - centre_tex[0]) * mm_x,
        head_half_width_mm=half_width * mm_x,
        neck_centre_mm=(lm[8, 0] - centre_tex[0]) * mm_x,
        neck_half_width_mm=0.44 * jaw * mm_x,
        neck_top_mm=(lm[2, 1] - centre_tex[1]) * mm_y,
        neck_bottom_mm=(lm[8, 1] + 0.22 * jaw - centre_tex[1]) * mm_y,
        mm_per_texture_px=(mm_x, mm_y),
        face_centre_texture=(float(centre_tex[0]), float(centre_tex[1])),
    )


def _smooth_rows(values: np.ndarray, sigma: float) -> np.ndarray:
    """1D Gaussian smoothing with edge replication (a per-row profile)."""
    radius = int(3 * sigma + 0.5)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="valid")


def smooth_bump(x, y, centre, sigma_x, sigma_y):
    """Smooth bump of height 1 at ``centre``, compactly supported within 3 σ."""
    r2 = ((x - centre[0]) / sigma_x) ** 2 + ((y - centre[1]) / sigma_y) ** 2
    return np.exp(-0.5 * r2) * np.clip(1 - r2 / 9.0, 0, None) ** 2


def _ridge(x, y, a, b, height_a, height_b, sigma_a, sigma_b):
    """Bump along the segment a→b whose height and width vary linearly along it."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ab = b - a
    t = np.clip(((x - a[0]) * ab[0] + (y - a[1]) * ab[1]) / (ab @ ab), 0, 1)
    d2 = (x - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2
    sigma = sigma_a + t * (sigma_b - sigma_a)
    return (height_a + t * (height_b - height_a)) * np.exp(-0.5 * d2 / sigma**2)


def head_masks(geo: HeadGeometry, x: np.ndarray, y: np.ndarray, px_per_mm: float):
    """Soft masks (0..1, about one frame pixel of edge) of head and neck at face coords (mm)."""
    half = np.interp(y, geo.row_y_mm, geo.head_half_width_mm)
    centre = np.interp(y, geo.row_y_mm, geo.head_centre_mm)
    inside_mm = half - np.abs(x - centre)
    head = np.clip(0.5 + inside_mm * px_per_mm, 0, 1)
    neck_inside = np.minimum(geo.neck_half_width_mm - np.abs(x - geo.neck_centre_mm),
                             np.minimum(y - geo.neck_top_mm, geo.neck_bottom_mm - y))
    neck = np.clip(0.5 + neck_inside * px_per_mm, 0, 1) * (1 - head)
    return head.astype(np.float32), neck.astype(np.float32)


def head_relief_mm(geo: HeadGeometry, look: SubjectLook, x: np.ndarray, y: np.ndarray):
    """Relief h (mm towards the camera) of head and neck at face coords (x, y) in mm.

    Returns ``(head_h, neck_h)``, float32 arrays shaped like x. ``head_h`` is 0 at the
    silhouette; ``neck_h`` is negative (the neck lies behind the silhouette plane).
    """
    lm = geo.landmarks_mm
    half = np.interp(y, geo.row_y_mm, geo.head_half_width_mm)
    centre = np.interp(y, geo.row_y_mm, geo.head_centre_mm)
    widest = geo.head_half_width_mm.max()
    u = np.clip(np.abs(x - centre) / np.maximum(half, 1e-3), 0, 1)
    row_depth = look.head_depth_mm * np.clip(half / widest, 0, 1) ** 0.35
    base = row_depth * np.sqrt(1 - u**3)

    k, kn = look.relief_scale, look.nose_scale
    features = kn * _ridge(x, y, lm[27], lm[30], 7.0, 21.0, 4.5, 7.5)
    features += kn * 9.0 * smooth_bump(x, y, lm[30] + (0, 1.5), 7.0, 6.0)  # nose tip
    features += kn * 7.0 * (smooth_bump(x, y, lm[31], 5.0, 4.5) + smooth_bump(x, y, lm[35], 5.0, 4.5))
    for eye, brow, cheek_ref in ((range(36, 42), (17, 21), 2), (range(42, 48), (22, 26), 14)):
        eye_centre = lm[list(eye)].mean(axis=0)
        features -= 9.0 * k * smooth_bump(x, y, eye_centre, 14.0, 9.0)  # orbit
        features += 4.0 * k * smooth_bump(x, y, eye_centre, 6.0, 4.5)  # eyeball
        features += 4.5 * k * _ridge(x, y, lm[brow[0]], lm[brow[1]], 1.0, 1.0, 5.5, 5.5)
        cheekbone = 0.45 * lm[cheek_ref] + 0.55 * eye_centre + (0, 12.0)
        features += 6.0 * k * smooth_bump(x, y, cheekbone, 13.0, 11.0)
    features += 3.0 * k * smooth_bump(x, y, 0.5 * (lm[21] + lm[22]), 9.0, 8.0)  # glabella
    features += 3.0 * k * smooth_bump(x, y, 0.5 * (lm[21] + lm[22]) - (0, 28.0), 30.0, 20.0)  # forehead
    features += 7.0 * k * smooth_bump(x, y, lm[51] - (0, 3.0), 22.0, 13.0)  # maxilla
    features += 3.0 * k * _ridge(x, y, lm[49], lm[53], 1.0, 1.0, 3.5, 3.5)  # upper lip
    features += 3.5 * k * _ridge(x, y, lm[59], lm[55], 1.0, 1.0, 4.0, 4.0)  # lower lip
    features -= 3.0 * k * (smooth_bump(x, y, lm[48], 4.0, 4.0) + smooth_bump(x, y, lm[54], 4.0, 4.0))
    chin_line = lm[8] - lm[57]
    features -= 2.5 * k * smooth_bump(x, y, lm[57] + 0.3 * chin_line, 10.0, 4.0)  # labiomental fold
    features += 8.0 * k * smooth_bump(x, y, lm[57] + 0.68 * chin_line, 14.0, 9.0)  # chin
    # Features fade out towards the silhouette so its flanks stay steep and smooth.
    head_h = base + features * np.clip((1 - u) * 4, 0, 1)

    neck_u = np.clip(np.abs(x - geo.neck_centre_mm) / geo.neck_half_width_mm, 0, 1)
    neck_h = 0.45 * look.head_depth_mm * np.sqrt(1 - neck_u**2) - 0.75 * look.head_depth_mm
    return head_h.astype(np.float32), neck_h.astype(np.float32)

"""Action units of the demo corpus: emotion → AU strings, objective class, 3D displacement fields.

A displacement field is a sum of smooth bumps anchored on the 68 dlib landmarks
(FACS regions: brows for AU1/2/4, upper lids AU5, lower lids AU7, cheeks AU6,
nose wings AU9, upper lip AU10, lip corners AU12/14/15/20, lips AU23/24/28,
chin AU17, the whole jaw AU26), each with a direction in the camera frame
(x right, y down, z forward = away from the camera; a bulge towards the camera
has negative z). Skin that bunches bulges towards the camera, skin pulled back or
stretched sinks away from it: every bump has a depth component of 40–90 % of its
in-plane motion, as faces do (a purely in-plane field would be invisible to a
method that differences depth at the same pixel). Units are millimetres throughout.

Sides follow FACS: ``L`` is the subject's left, which is the *image right*
(dlib landmarks 8–16, 22–26, 42–47, 54). Anchors are written for the image-left
side and mirrored with :data:`~.demo_head.MIRROR_68`.
"""

from __future__ import annotations

import numpy as np

from .demo_head import MIRROR_68, smooth_bump
from .labels import au_numbers, parse_au

#: AU strings drawn for each emotion (an AU may appear with a side prefix). The three
#: groups of the 3-class task move different parts of the face, or the same part the
#: opposite way, so that emotions are learnable from where and how the face moved
#: (SPEC §5): positive raises the cheeks and pulls the lip corners up (AU6 always
#: with AU12: a lip-corner puller alone would move only the mouth corners, where the
#: negative AU15, AU20 and AU23 move too);
#: surprise lifts the whole forehead, the upper lids and drops the jaw (AU1+2, AU5,
#: AU26); negative lowers and draws the brows together, tightens the lower lids,
#: wrinkles the nose, raises the upper lip or the chin, pulls the lip corners down or
#: sideways and tightens the lips (AU4, 7, 9, 10, 15, 17, 20, 23). Prototypical fear
#: (AU1+2+4+5+20) shares its forehead and lids with surprise; its variants here keep
#: the AU4 and AU20 that set it apart.
EMOTION_AU_CHOICES: dict[str, tuple[str, ...]] = {
    "happy": ("6+12", "6+R12", "6+12", "R6+R12", "6+L12", "L12+6", "L6+L12"),
    "surprise": ("1+2", "1+2+5", "1+2+26", "1+2+5+26", "L2+L1", "2+1+26", "5+26"),
    "disgust": ("9", "9+10", "4+9", "10", "4+10", "4+9+10", "R10"),
    "sad": ("4+15", "15", "4+15+17", "15+17", "17", "L15", "4+17"),
    "anger": ("4+7", "4+7+17", "4+7+23", "23", "4+7+17+23", "4+23", "R4+R7"),
    "fear": ("4+20", "20", "4+7+20", "20+23", "4+17+20", "L20"),
    "others": ("14", "R14", "L14", "24", "28", "T28+14", "14+28"),
}

# (anchor landmark weights, offset mm, sigma_x mm, sigma_y mm, vector mm, bilateral)
# for the image-left side. "Outward" x is negative on that side.
_Bump = tuple[tuple[tuple[int, float], ...], tuple[float, float], float, float,
              tuple[float, float, float], bool]
_AU_BUMPS: dict[int, tuple[_Bump, ...]] = {
    1: ((((21, 1.0),), (0, -2), 9, 8, (0.0, -1.0, -0.5), True),),
    2: ((((17, 0.5), (18, 0.5)), (0, -2), 10, 8, (-0.15, -1.0, -0.5), True),),
    4: ((((20, 0.5), (21, 0.5)), (0, 0), 10, 7, (0.5, 0.8, -0.6), True),
        (((21, 0.5), (22, 0.5)), (0, 0), 6, 7, (0.0, 0.2, -0.8), False)),
    5: ((((37, 0.5), (38, 0.5)), (0, -1), 7, 3.5, (0.0, -0.8, 0.6), True),),
    6: ((((40, 0.3), (41, 0.3), (2, 0.4)), (0, 8), 12, 9, (0.0, -0.7, -0.8), True),
        (((36, 1.0),), (-6, 0), 5, 6, (0.1, -0.3, -0.4), True)),
    7: ((((40, 0.5), (41, 0.5)), (0, 1), 7, 3.5, (0.1, -0.6, -0.5), True),),
    9: ((((31, 1.0),), (-1, -2), 5.5, 6, (-0.15, -0.9, -0.7), True),
        (((28, 1.0),), (0, 0), 6, 6, (0.0, 0.3, -0.6), False)),
    10: ((((50, 1.0),), (0, -2), 8, 5, (0.0, -1.0, -0.7), True),),
    12: ((((48, 1.0),), (0, 0), 9, 8, (-0.8, -0.9, 0.7), True),),
    14: ((((48, 1.0),), (-3, 0), 7, 7, (-0.25, 0.0, 0.9), True),),
    15: ((((48, 1.0),), (0, 4), 8, 8, (-0.1, 0.9, 0.5), True),),
    17: ((((57, 0.4), (8, 0.6)), (0, 0), 12, 9, (0.0, -0.8, -0.8), False),
         (((57, 1.0),), (0, 0), 10, 4, (0.0, -0.5, -0.6), False)),
    20: ((((48, 1.0),), (0, 0), 9, 7, (-1.1, 0.15, 0.7), True),),
    23: ((((51, 1.0),), (0, 0), 11, 4, (0.0, 0.2, -0.5), False),
         (((57, 1.0),), (0, 0), 11, 4, (0.0, -0.2, -0.5), False),
         (((48, 1.0),), (0, 0), 6, 6, (0.5, 0.0, 0.4), True)),
    24: ((((51, 1.0),), (0, 0), 11, 4, (0.0, 0.6, 0.5), False),
         (((57, 1.0),), (0, 0), 11, 4, (0.0, -0.6, 0.5), False)),
    28: ((((51, 1.0),), (0, 0), 11, 4, (0.0, 0.2, 0.8), False),
         (((57, 1.0),), (0, 0), 11, 4, (0.0, -0.2, 0.8), False)),
}
JAW_DROP_VECTOR_MM = (0.0, 1.6, 0.8)  # AU26, at the chin
#: Scale of every bump's width (σ) above. The σ in the table place each bump on its
#: landmarks; real AUs move the skin well beyond them (AU1/2 the whole inner or outer
#: forehead, AU6/12 the cheek from the lid to the jaw). With 1.0 the moving regions
#: (≥ 0.2 mm) covered 8 % of the face crop; with 2.0 they cover about a quarter, as
#: on the realistic clips SPEC §1 was measured on (random sampling: 0.29 there).
AU_SPREAD = 2.0


def objective_class(au: str | int) -> str:
    """Objective class I..VII of an AU string (after Davison et al. 2018)."""
    numbers = set(au_numbers(parse_au(au)))
    if 20 in numbers or {1, 2, 4} <= numbers:
        return "VI"  # fear
    if numbers & {9, 10}:
        return "IV"  # disgust
    if 23 in numbers or {4, 7} <= numbers or ({4, 5} <= numbers and 1 not in numbers):
        return "III"  # anger
    if numbers & {6, 12}:
        return "I"  # happiness
    if {1, 2} <= numbers or numbers & {5, 25, 26}:
        return "II"  # surprise
    if numbers & {1, 15, 17}:
        return "V"  # sadness
    return "VII"


def _anchor(landmarks_mm: np.ndarray, weights, offset, mirrored: bool) -> np.ndarray:
    point = np.zeros(2)
    for index, weight in weights:
        point += weight * landmarks_mm[MIRROR_68[index] if mirrored else index]
    dx, dy = offset
    return point + (-dx if mirrored else dx, dy)


def au_displacement_mm(au: str, landmarks_mm: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray,
                       gain: float = 1.0, side_gain: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """3D displacement (mm, camera frame) of the AUs in ``au`` at face coordinates.

    ``landmarks_mm``: (68, 2) face coordinates; ``x_mm``, ``y_mm``: (H, W) grids.
    ``side_gain`` scales the subject's (right, left) side. Returns (H, W, 3) float32.
    """
    field = np.zeros(x_mm.shape + (3,), np.float32)
    for token in parse_au(au):
        side = token[0] if token[0] in "LR" else ""
        number = au_numbers((token,))[0]
        if number == 26:
            field += gain * _jaw_drop(landmarks_mm, x_mm, y_mm)
            continue
        for weights, offset, sx, sy, vector, bilateral in _AU_BUMPS.get(number, ()):
            # image-left side = subject's right (R), image-right = subject's left (L)
            instances = [(False, side_gain[0]), (True, side_gain[1])] if bilateral else [(False, 1.0)]
            for mirrored, s_gain in instances:
                if bilateral and side and side != ("L" if mirrored else "R"):
                    continue
                centre = _anchor(landmarks_mm, weights, offset, mirrored)
                bump = smooth_bump(x_mm, y_mm, centre, AU_SPREAD * sx, AU_SPREAD * sy).astype(np.float32)
                vx, vy, vz = vector
                direction = np.array([-vx if mirrored else vx, vy, vz], np.float32)
                field += (gain * s_gain) * bump[..., None] * direction
    return field


def _jaw_drop(landmarks_mm: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
    """AU26: everything below the mouth moves down, most at the chin, fading under it."""
    mouth_y = landmarks_mm[60:68, 1].mean()
    chin = landmarks_mm[8]
    t = np.clip((y_mm - mouth_y) / (chin[1] - mouth_y) + 0.1, 0, 1)
    weight = t * t * (3 - 2 * t)
    below = np.clip((y_mm - chin[1]) / 10.0, 0, 3)
    weight = weight * np.exp(-0.5 * below**2) * (1 - below / 3) ** 2
    jaw_half_width = 0.5 * (landmarks_mm[12, 0] - landmarks_mm[4, 0])
    weight = weight * smooth_bump(x_mm, y_mm, (chin[0], chin[1]), jaw_half_width, 1e9)
    return weight[..., None].astype(np.float32) * np.array(JAW_DROP_VECTOR_MM, np.float32)

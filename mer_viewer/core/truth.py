"""Where motion was found versus the demo corpus's ground truth (precision of sampled points)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import Sample
from .pipeline import MotionCloud

TRUTH_DIR = "demo_truth"


def truth_file(root: Path, sample: Sample) -> Path:
    return Path(root) / TRUTH_DIR / f"{sample.id}.npz"


def moving_mask(root: Path, sample: Sample, threshold_mm: float = 0.2):
    """(box_xyxy, (h, w) bool) pixels whose true AU displacement is at least ``threshold_mm``."""
    with np.load(truth_file(root, sample)) as truth:
        box = tuple(int(v) for v in truth["box_xyxy"])
        amount = np.linalg.norm(truth["displacement_mm"].astype(np.float32), axis=2)
    return box, amount >= threshold_mm


def in_moving_region(cloud: MotionCloud, box, moving: np.ndarray,
                     indices: np.ndarray | None = None) -> np.ndarray:
    """(n,) bool: whether each point (the sampled ones by default) lies in the moving region."""
    indices = cloud.sampled if indices is None else indices
    u, v = cloud.pixels[indices].T
    x0, y0, x1, y1 = box
    inside = (u >= x0) & (u < x1) & (v >= y0) & (v < y1)
    hit = np.zeros(len(indices), bool)
    hit[inside] = moving[v[inside] - y0, u[inside] - x0]
    return hit


def sampled_precision(root: Path, sample: Sample, cloud: MotionCloud) -> float:
    """Share of the sampled points of ``cloud`` that lie where the face truly moved."""
    box, moving = moving_mask(root, sample)
    return float(in_moving_region(cloud, box, moving).mean())


def true_apexes(root: Path, sheet: str = "me") -> dict[tuple[str, str, int], int]:
    """(subject, clip, onset as in the sheet) -> the apex frame that was rendered, from
    ``demo_truth/samples.csv`` (rows of ``sheet``; clips that exist only)."""
    import csv

    out = {}
    with open(Path(root) / TRUTH_DIR / "samples.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["sheet"] == sheet and row["kind"] != "missing_clip":
                out[(row["subject"], row["clip"], int(row["onset"]))] = int(row["true_apex"])
    return out


def apex_errors(root: Path, spotted: dict[tuple[str, str, int], int | None]) -> dict:
    """|spotted − true apex| in frames per row found in the truth; ``spotted`` maps
    (subject, clip, onset) -> apex (None: not spotted, counted as missed).

    Returns {"n", "median", "within_1", "errors": {key: error or None}}.
    """
    truth = true_apexes(root)
    errors = {key: (abs(apex - truth[key]) if apex is not None else None)
              for key, apex in spotted.items() if key in truth}
    found = np.array([e for e in errors.values() if e is not None], dtype=float)
    n = len(errors)
    return {"n": n, "median": float(np.median(found)) if found.size else float("nan"),
            "within_1": float((found <= 1).sum() / n) if n else float("nan"), "errors": errors}


def true_flow(root: Path, sample: Sample, pair) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image-plane motion the demo renderer applied, on the grid of ``pair``'s flow.

    ``pair`` is the clip's ``AlignedPair``. Each onset face pixel p (valid onset depth Z)
    is the surface point P = Z K⁻¹p; at the apex it is at R (P + D(p)) + t (the AU field D
    and the rigid head motion of the truth), seen at the apex pixel q = π(·); the aligned
    apex shows q at the onset pixel M⁻¹q (M the pair's alignment), so the true flow is
    M⁻¹q − p, in ``optical_flow``'s convention (onset(p) ≈ aligned apex(p + flow)).

    Returns ``(flow, face, moving)``: (h, w, 2) float32 px, (h, w) bool where it is known
    (valid onset depth), (h, w) bool where the AU field moves the face ≥ 0.2 mm.
    ValueError when ``sample``'s onset and apex are not the frames that were rendered.
    """
    with np.load(truth_file(root, sample)) as truth:
        onset, apex = (int(v) for v in truth["true_onset_apex_offset"][:2])
        if (sample.onset, sample.apex) != (onset, apex):
            raise ValueError(f"{sample.id}: onset/apex {sample.onset}/{sample.apex} are not the "
                             f"rendered {onset}/{apex}")
        tx0, ty0, tx1, ty1 = (int(v) for v in truth["box_xyxy"])
        field_truth = truth["displacement_mm"].astype(np.float64)
        moving_truth = truth["moving"]
        rigid = truth["rigid"]
        fx, fy, cx, cy = truth["intrinsics_fx_fy_cx_cy"]
    box = pair.box
    h, w = pair.onset_depth_mm.shape
    rows, cols = np.mgrid[0:h, 0:w]
    u, v = cols + box.x0, rows + box.y0
    field = np.zeros((h, w, 3))
    moving = np.zeros((h, w), bool)
    inside = (u >= tx0) & (u < tx1) & (v >= ty0) & (v < ty1)
    field[inside] = field_truth[v[inside] - ty0, u[inside] - tx0]
    moving[inside] = moving_truth[v[inside] - ty0, u[inside] - tx0]
    z = pair.onset_depth_mm.astype(np.float64)
    face = z > 0
    points = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=-1) + field
    moved = points @ rigid[:, :3].T + rigid[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.stack([fx * moved[..., 0] / moved[..., 2] + cx,
                      fy * moved[..., 1] / moved[..., 2] + cy, np.ones((h, w))], axis=-1)
    matrix = np.vstack([np.asarray(pair.alignment.matrix, np.float64), [0.0, 0.0, 1.0]])
    landed = q @ np.linalg.inv(matrix)[:2].T
    flow = np.stack([landed[..., 0] - u, landed[..., 1] - v], axis=-1)
    flow[~face] = 0.0
    return flow.astype(np.float32), face, moving & face

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

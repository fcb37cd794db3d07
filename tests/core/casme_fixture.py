"""A tiny CAS(ME)³ root built in the tests: both frame layouts and every anomaly of the sheet."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

W, H = 32, 24
SHEET = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
HEADERS = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]

#: (Subject, Filename, Onset, Apex, Offset, AU, Objective class, emotion) -> expected outcome
ROWS = [
    (("spNO.1", "a", 2, 5, 8, "L2+L1", "II", "surprise"), "ok"),
    (("spNO.1", "a", 3, 3, 8, "4", "III", "anger"), "onset equals apex"),
    (("spNO.1", "a", 6, 4, 9, "4+7", "III", "anger"), "apex before onset"),
    (("spNO.1", "a", 5, 9, 8, "9", "IV", "disgust"), "apex after offset"),
    (("spNO.1", "a", 4, 6, 0, "14", "VII", "Others"), "ok"),
    (("spNO.1", "a", 0, 5, 8, "1+4+15", "V", "sad"), "frame 0"),
    (("spNO.2", "j", 1, 4, 7, "R12", "I", "happy"), "ok"),
    (("spNO.2", "j", 2, 20, 25, "6+12", "I", "happy"), "missing frames"),
    (("spNO.9", "b", 1, 2, 3, "1+2", "II", "surprise"), "missing frames"),
    (("spNO.2", "j", 5, 6, 9, "9+10", "IV", "disgust"), "excluded: hand occlusion"),
    (("spNO.5", "c", 3, 5, 8, "T28+14", "VII", "fear"), "ok"),
    (("spNO.1", "a", 7, 8, 9, "4", "III", "joy"), "unknown emotion"),
    (("spNO.1", "a", 2, 6, 9, "12", "I", "happy"), "duplicate of an earlier row"),
]


def write_frames(folder: Path, numbers, depth_folder: Path | None = None, depth_dtype=np.uint16,
                 depth_size=(W, H)) -> None:
    """Colour JPEGs ``<n>.jpg`` in ``folder`` and 16-bit depth PNGs in ``depth_folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    depth_folder = depth_folder or folder
    depth_folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for n in numbers:
        color = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"{n}.jpg"), color)
        depth = np.full((depth_size[1], depth_size[0]), (650 + n) % np.iinfo(depth_dtype).max,
                        dtype=depth_dtype)
        depth[0, 0] = 0
        cv2.imwrite(str(depth_folder / f"{n}.png"), depth)


def write_sheet(path: Path, rows, headers=HEADERS, sheet_name="label") -> None:
    """Write annotation ``rows`` (plain tuples) under ``headers`` after a decoy first sheet."""
    frame = pd.DataFrame(list(rows), columns=headers)
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["a first sheet that is not the label sheet"]}).to_excel(
            writer, sheet_name="readme", index=False)
        frame.to_excel(writer, sheet_name=sheet_name, index=False)


def build_root(root: Path, headers=HEADERS) -> Path:
    """Subject layout (spNO.1 with depth/, spNO.2 folder ``J`` with depth beside colour)
    and the clip layout nested twice (spNO.5), plus the sheet and an exclusion list."""
    write_frames(root / "spNO.1" / "A" / "color", range(1, 11), root / "spNO.1" / "A" / "depth")
    write_frames(root / "spNO.2" / "J" / "color", range(1, 11), root / "spNO.2" / "J")
    clip_root = root / "Part_A_ME_clip" / "Part_A_ME_clip"
    write_frames(clip_root / "frame" / "spNO.5_c_3", range(3, 9), clip_root / "depth" / "spNO.5_c_3")
    write_sheet(root / SHEET, [row for row, _ in ROWS], headers)
    (root / "mer_exclusions.csv").write_text("subject,clip,onset,reason\nspNO.2,J,5,hand occlusion\n")
    return root
